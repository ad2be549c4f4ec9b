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
	// carry says whether the next trusted run counts instead of reading
	// the window.
	carry carryState
}

// carryState decides when a run counts the carried events instead of
// reading the window (see carriedWindow): after a window that held nothing
// the triggers did not carry, or a run that decided from copies. Where
// triggers lag their writes (many writers), a window mostly holds events
// not carried yet, and a count would add a round trip for nothing: each
// count refuted in a row doubles the window reads made before the next
// one (1, 3, 7, then 15). A run from copies cannot see what is pending
// past the last of them: every maxCarriedRuns-th run reads the window, so
// that a backlog whose triggers trail it (delivered one at a time, say) is
// still decided BatchSize at a time, not a run per trigger.
type carryState struct {
	ok      bool // the last run's window could have been counted
	refuted int  // counts refuted in a row, at most 4
	skip    int  // window reads to make before the next count
	runs    int  // runs from copies since the last window read
}

// maxCarriedRuns bounds the runs from copies in a row.
const maxCarriedRuns = 8

// counts reports whether the next run counts.
func (c carryState) counts() bool { return c.ok && c.skip == 0 && c.runs < maxCarriedRuns }

// next is the state after a run that decided from copies (carried), had
// its count refuted (refuted), or read a window that could have been
// counted (could).
func (c carryState) next(carried, refuted, could bool) carryState {
	switch {
	case carried:
		return carryState{ok: true, runs: c.runs + 1}
	case refuted:
		r := min(c.refuted+1, 4)
		return carryState{ok: could, refuted: r, skip: 1<<r - 1}
	}
	return carryState{ok: could, refuted: c.refuted, skip: max(c.skip-1, 0)}
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
