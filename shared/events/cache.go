package events

import (
	"sync"

	"github.com/pajama-app/sharedexperiences/shared/model"
)

// sessionCache keeps, per session, the last sequence number this process
// published and wrote as the publish cursor: when a run's first accepted
// number follows it, nothing before is owed and the cursor need not be
// read; and its view of the sequencing cursor (see cursorView). It only
// ever saves a read: without an entry, the cursor or the event is read.
type sessionCache struct {
	published bounded[int64]
	views     bounded[cursorView]
}

// cursorView is where this process last saw a session's cursor, after its
// last run there. trusted says that run moved the cursor from where the
// run before had left it, so no other instance was sequencing the session
// in between: the next run's event is then almost surely pending, and the
// run reads it in the window instead of on its own first. A view is never
// taken for the stored cursor; a stale one costs a read of the event when
// the window does not hold it.
type cursorView struct {
	cursor  model.Cursor
	trusted bool
}

func newSessionCache() *sessionCache { return &sessionCache{} }

// maxCachedSessions bounds each map of the cache; past it, the map starts
// again empty.
const maxCachedSessions = 4096

// bounded is a map of at most maxCachedSessions sessions, safe for
// concurrent use.
type bounded[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

func (b *bounded[V]) get(sessionID string) (V, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[sessionID]
	return v, ok
}

func (b *bounded[V]) set(sessionID string, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]V{}
	}
	if _, ok := b.m[sessionID]; !ok && len(b.m) >= maxCachedSessions {
		clear(b.m)
	}
	b.m[sessionID] = v
}
