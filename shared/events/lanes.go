package events

import (
	"sync"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/model"
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
	mu   sync.Mutex
	refs int // guarded by lanes.mu
	// carried are the events the waiting triggers carry (their documents
	// as created), by id, with how many triggers carry each; guarded by
	// lanes.mu. A run decides them without reading them (see
	// carriedWindow).
	carried map[string]carriedEvent
	decided map[string]Outcome
	// held is when each event the lane's last run held (Settle) may
	// pass; nil when it held none.
	held map[string]time.Time
}

type carriedEvent struct {
	ev       model.Event
	triggers int
}

// maxRemembered bounds a lane's cache; a trigger whose decision was
// forgotten reads its event in a transaction instead.
const maxRemembered = 8192

func newLanes() *lanes { return &lanes{m: map[string]*lane{}} }

// acquire queues a trigger on its session's lane, with the event it
// carries when it carries one.
func (l *lanes) acquire(sessionID string, created *model.Event) *lane {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln, ok := l.m[sessionID]
	if !ok {
		ln = &lane{decided: map[string]Outcome{}, carried: map[string]carriedEvent{}}
		l.m[sessionID] = ln
	}
	ln.refs++
	if created != nil {
		c := ln.carried[created.DocID]
		// Two versions of one id (a document deleted and created again):
		// the newer may still be what is stored; a decision from the older
		// would only fail its precondition, and every run meanwhile with it.
		if c.triggers == 0 || created.UpdateTime.After(c.ev.UpdateTime) {
			c.ev = *created
		}
		c.triggers++
		ln.carried[created.DocID] = c
	}
	return ln
}

// release drops the lane when nobody waits on it: its cache only serves
// triggers that arrive during a burst.
func (l *lanes) release(sessionID string, ln *lane, created *model.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if created != nil {
		if c := ln.carried[created.DocID]; c.triggers > 1 {
			c.triggers--
			ln.carried[created.DocID] = c
		} else {
			delete(ln.carried, created.DocID)
		}
	}
	ln.refs--
	if ln.refs == 0 {
		delete(l.m, sessionID)
	}
}

// undecidedCarried is what the lane's waiting triggers carry and no run
// of this process has decided; the caller holds ln.mu.
func (l *lanes) undecidedCarried(ln *lane) []model.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]model.Event, 0, len(ln.carried))
	for id, c := range ln.carried {
		if _, ok := ln.decided[id]; !ok {
			out = append(out, c.ev)
		}
	}
	return out
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
