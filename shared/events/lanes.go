package events

import (
	"sync"
	"time"
)

// lanes queue the triggers of each session in this process, so that one
// run decides a batch while the others wait, then find their decision
// without touching Firestore. Correctness never depends on a lane: the
// transaction is what makes decisions exactly-once across processes.
type lanes struct {
	mu sync.Mutex
	m  map[string]*lane
}

type lane struct {
	mu      sync.Mutex
	refs    int // guarded by lanes.mu
	decided map[string]Outcome
	// held is when each event the lane's last run held (Settle) may
	// pass; nil when it held none.
	held map[string]time.Time
}

// maxRemembered bounds a lane's cache; a trigger whose decision was
// forgotten reads its event in a transaction instead.
const maxRemembered = 8192

func newLanes() *lanes { return &lanes{m: map[string]*lane{}} }

func (l *lanes) acquire(sessionID string) *lane {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln, ok := l.m[sessionID]
	if !ok {
		ln = &lane{decided: map[string]Outcome{}}
		l.m[sessionID] = ln
	}
	ln.refs++
	return ln
}

// release drops the lane when nobody waits on it: its cache only serves
// triggers that arrive during a burst.
func (l *lanes) release(sessionID string, ln *lane) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln.refs--
	if ln.refs == 0 {
		delete(l.m, sessionID)
	}
}

// remember records decisions; the caller holds ln.mu.
func (ln *lane) remember(decided map[string]Outcome) {
	if len(ln.decided)+len(decided) > maxRemembered {
		clear(ln.decided)
	}
	for id, out := range decided {
		ln.decided[id] = out
	}
}
