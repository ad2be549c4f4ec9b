package events

import (
	"sync"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/model"
)

// sessionView is a session document as this process last read or wrote it,
// and its update time then.
type sessionView struct {
	doc        model.SessionDocument
	updateTime time.Time
}

// sessionCache keeps the sessions this process sequenced last, so a run
// whose session nobody else changed since reads only its pending window.
// It is never trusted: every commit has the view's update time as its
// precondition, and a conflict drops the view. A hit saves a read and a
// round trip on the latency path (the pending query starts at the view's
// cursor at once); a stale view costs a failed commit.
type sessionCache struct {
	mu sync.Mutex
	m  map[string]sessionView
	// published is the last sequence number this process published and
	// wrote as the session's publish cursor.
	published map[string]int64
}

// maxCachedSessions bounds the cache; past it, it starts again empty.
const maxCachedSessions = 4096

func newSessionCache() *sessionCache {
	return &sessionCache{m: map[string]sessionView{}, published: map[string]int64{}}
}

func (c *sessionCache) get(sessionID string) (sessionView, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[sessionID]
	return v, ok
}

func (c *sessionCache) put(sessionID string, v sessionView) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[sessionID]; !ok && len(c.m) >= maxCachedSessions {
		clear(c.m)
	}
	c.m[sessionID] = v
}

func (c *sessionCache) forget(sessionID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, sessionID)
}

func (c *sessionCache) lastPublished(sessionID string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.published[sessionID]
	return n, ok
}

func (c *sessionCache) setPublished(sessionID string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.published[sessionID]; !ok && len(c.published) >= maxCachedSessions {
		clear(c.published)
	}
	c.published[sessionID] = n
}
