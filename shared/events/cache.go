package events

import "sync"

// sessionCache keeps, per session, the last sequence number this process
// published and wrote as the publish cursor: when a run's first accepted
// number follows it, nothing before is owed and the cursor need not be
// read. It only ever saves a read: without an entry, the cursor is read.
type sessionCache struct {
	mu        sync.Mutex
	published map[string]int64
}

// maxCachedSessions bounds the cache; past it, it starts again empty.
const maxCachedSessions = 4096

func newSessionCache() *sessionCache { return &sessionCache{published: map[string]int64{}} }

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
