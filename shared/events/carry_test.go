package events

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/shared/model"
)

// TestCouldCarry: a window read lets the next run count instead only when
// everything in it up to the last carried event was carried, each copy in
// its stored event's place.
func TestCouldCarry(t *testing.T) {
	a, b, c, d := ev("a", "u1", 1), ev("b", "u1", 2), ev("c", "u1", 3), ev("d", "u1", 4)
	cur := cursorAt(a)
	moved := with(c, func(e *model.Event) { e.CreatedAt = e.CreatedAt.Add(-time.Microsecond) })
	for _, tc := range []struct {
		name    string
		w       window
		carried []model.Event
		want    bool
	}{
		{"all carried", window{events: []model.Event{b, c}}, []model.Event{b, c}, true},
		{"the last one's trigger has not come", window{events: []model.Event{b, c, d}}, []model.Event{b, c}, true},
		{"one before the last carried is not", window{events: []model.Event{b, c, d}}, []model.Event{b, d}, false},
		{"nothing carried", window{events: []model.Event{b}}, nil, false},
		{"carried only at or before the cursor", window{events: []model.Event{b}}, []model.Event{a}, false},
		{"empty window", window{}, []model.Event{b}, false},
		{"full window ends before the last carried", window{events: []model.Event{b, c}, full: true}, []model.Event{b, c, d}, false},
		{"full window holds the last carried", window{events: []model.Event{b, c}, full: true}, []model.Event{b, c}, true},
		{"a copy sorts elsewhere than its event", window{events: []model.Event{b, c}}, []model.Event{b, moved}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, couldCarry(tc.w, cur, tc.carried))
		})
	}
}

// TestCarryStateBacksOff: counts refuted in a row double the window reads
// before the next count, up to 15; a run decided from copies starts over;
// runs from copies in a row are bounded, so a backlog past the copies is
// read.
func TestCarryStateBacksOff(t *testing.T) {
	var c carryState
	require.False(t, c.counts(), "no window seen yet")
	c = c.next(false, false, true)
	require.True(t, c.counts())
	// runs says how many runs read the window (each could have been
	// counted) after a refuted count before the next count.
	for _, want := range []int{1, 3, 7, 15, 15} {
		c = c.next(false, true, false)
		require.False(t, c.counts())
		runs := 0
		for !c.counts() {
			c = c.next(false, false, true)
			runs++
			require.LessOrEqual(t, runs, 16)
		}
		require.Equal(t, want, runs)
	}
	c = c.next(true, false, false)
	require.Equal(t, carryState{ok: true, runs: 1}, c)
	// Runs from copies in a row: every maxCarriedRuns-th reads the window.
	for range maxCarriedRuns - 1 {
		require.True(t, c.counts())
		c = c.next(true, false, false)
	}
	require.False(t, c.counts(), "after %d runs from copies", maxCarriedRuns)
	c = c.next(false, false, true)
	require.True(t, c.counts())
	// A window that held an uncarried event stops the counting, and one
	// that did not allows it again.
	c = c.next(false, false, false)
	require.False(t, c.counts())
	c = c.next(false, false, true)
	require.True(t, c.counts())
}

// TestLaneKeepsTheNewestCopy (review finding): two triggers of one id
// carry different versions when a document was deleted and created again;
// a late redelivery of the old one must not replace the newer copy, whose
// decision's precondition can hold, and the copy stays while any of its
// triggers waits.
func TestLaneKeepsTheNewestCopy(t *testing.T) {
	l := newLanes()
	older := ev("a", "u1", 1)
	older.UpdateTime = older.CreatedAt
	newer := older
	newer.UpdateTime = older.UpdateTime.Add(time.Second)
	copyOn := func(ln *lane) model.Event {
		l.mu.Lock()
		defer l.mu.Unlock()
		return ln.carried["a"].ev
	}
	ln := l.acquire("s", &newer)
	require.Same(t, ln, l.acquire("s", &older))
	require.Equal(t, newer.UpdateTime, copyOn(ln).UpdateTime, "the redelivered older version does not replace it")
	l.release("s", ln, &newer)
	require.Equal(t, newer.UpdateTime, copyOn(ln).UpdateTime, "kept while a trigger of the id waits")
	l.release("s", ln, &older)
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Empty(t, l.m, "the lane goes with its last trigger")
}
