package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	. "github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// TestKnownCursorSkipsTheEventRead: an instance that was the last to move
// a session's cursor reads only the session and the window, which holds
// the triggering event, with no round trip added: also when a backlog
// takes several runs, when the trigger is redelivered for an event decided
// long ago, and when another instance moved the cursor meanwhile, which
// the instance finds out and then reads the event again until a run sees
// the cursor where it left it. A run that decides nothing (mostly a
// trigger another instance answered) trusts nothing, nor does one whose
// event was missing from the window (visible only after the cursor passed
// its place, as concurrent writers make it on the emulator).
func TestKnownCursorSkipsTheEventRead(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	type step struct {
		instance int // which sequencer the trigger goes to
		events   int // written before the trigger
		trigger  int // the trigger's event, counted from 1; 0: the last written
		runs     int64
		rounds   int64
		reads    int64
		stale    int64
		late     bool // the event written sorts before the cursor (createdAt an hour ago)
	}
	for _, tc := range []struct {
		name      string
		batchSize int
		steps     []step
	}{
		{"lone instance", 0, []step{
			{0, 1, 0, 1, 2, 3, 0, false}, // no view yet: the event and the session, then the window
			{0, 1, 0, 1, 2, 2, 0, false}, // the session, then the window, which holds the event
			{0, 1, 0, 1, 2, 2, 0, false},
			{0, 3, 0, 1, 2, 4, 0, false},
			// Redelivered, after the lane was dropped: the window is
			// empty, so the event is read, and found decided.
			{0, 0, 2, 1, 3, 3, 0, false},
			{0, 1, 0, 1, 2, 3, 0, false}, // that run decided nothing: not trusted
			{0, 1, 0, 1, 2, 2, 0, false},
			// Visible only after the cursor passed its place: not in the
			// window, so read, and decided; the next run is not trusted.
			{0, 1, 0, 1, 3, 3, 0, true},
			{0, 1, 0, 1, 2, 3, 0, false},
			{0, 1, 0, 1, 2, 2, 0, false},
		}},
		{"backlog in batches", 3, []step{
			{0, 1, 0, 1, 2, 3, 0, false},
			// Runs of 3, 3, 3 (each query reads a fourth event, to know
			// the window is full), then the trigger's own event.
			{0, 10, 0, 4, 8, 3*(1+4) + 2, 0, false},
		}},
		{"another instance moved the cursor", 0, []step{
			{0, 1, 0, 1, 2, 3, 0, false},
			{1, 1, 0, 1, 2, 3, 0, false},
			{0, 1, 0, 1, 2, 2, 1, false}, // stale, and the window still holds the event
			{0, 1, 0, 1, 2, 3, 0, false}, // not trusted; the cursor held
			{0, 1, 0, 1, 2, 2, 0, false}, // trusted again
			{1, 1, 0, 1, 2, 2, 1, false},
			// Decided by the other instance: read when the window is empty.
			{0, 0, 6, 1, 3, 3, 1, false},
			// A run that decided nothing is not trusted: the event is read
			// with the session, and no query follows.
			{0, 0, 6, 1, 1, 2, 0, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sessionID := newSession(t, fs, "u1")
			inst := []*Sequencer{
				NewSequencer(fs, experiences.Default(), &Options{BatchSize: tc.batchSize}),
				NewSequencer(newClient(t), experiences.Default(), &Options{BatchSize: tc.batchSize}),
			}
			id := func(n int) string { return fmt.Sprintf("e%03d", n) }
			written := 0
			for i, st := range tc.steps {
				for range st.events {
					written++
					if st.late {
						_, err := fs.Collection(model.SessionsCollection).Doc(sessionID).Collection(model.EventsCollection).Doc(id(written)).Create(ctx, map[string]any{
							"id": id(written), "type": "page_changed", "senderId": "u1", "data": map[string]any{"pageIndex": "1"},
							"clientSequenceNumber": int64(written), "createdAt": time.Now().Add(-time.Hour),
						})
						require.NoError(t, err)
						continue
					}
					require.NoError(t, writeEvent(ctx, fs, sessionID, id(written), "u1", int64(written)))
				}
				trigger := st.trigger
				if trigger == 0 {
					trigger = written
				}
				seq := inst[st.instance]
				before := seq.Stats.Snapshot()
				out, err := seq.Sequence(ctx, sessionID, id(trigger))
				require.NoError(t, err)
				require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: int64(trigger)}, out, "step %d", i)
				after := seq.Stats.Snapshot()
				require.Equal(t, st.runs, after.Transactions-before.Transactions, "step %d: runs", i)
				require.Equal(t, st.rounds, after.ReadRoundTrips-before.ReadRoundTrips, "step %d: read round trips", i)
				require.Equal(t, st.reads, after.Reads-before.Reads, "step %d: reads", i)
				require.Equal(t, st.stale, after.StaleViews-before.StaleViews, "step %d: stale views", i)
			}
			for n := 1; n <= written; n++ {
				d := decisionOf(t, ctx, fs, sessionID, id(n))
				require.Equal(t, model.EventAccepted, d["status"])
				require.EqualValues(t, n, d["sequenceNumber"])
			}
		})
	}
}
