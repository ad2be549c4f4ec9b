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
	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
)

// TestSettleWaitsForEarlierStamps (soak seed 9521: model_outcome,
// sender_order, acked_before_sent): on the emulator a client's createdAt is
// stamped when its write arrives, and the write can commit tens of
// milliseconds later (its rules wait for a sequencing transaction's lock on
// the session), after a run has passed its place: it was numbered late,
// after events it sorts before, and after events sent once it was
// acknowledged. With Options.Settle a run leaves the events younger than
// Settle pending, and the trigger of a held event waits for them to settle.
// The write stamped early and committed late is an admin write with
// createdAt set in the past, so the test needs no race to show it. The
// same holds when the triggers carry their events (SequenceCreated) and
// the instance moved the cursor last, so that a count may stand for the
// window: the count passes the late write by exactly as the query would.
func TestSettleWaitsForEarlierStamps(t *testing.T) {
	for _, carried := range []bool{false, true} {
		t.Run(fmt.Sprintf("carried=%v", carried), func(t *testing.T) {
			testSettleWaitsForEarlierStamps(t, carried)
		})
	}
}

func testSettleWaitsForEarlierStamps(t *testing.T, carried bool) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1", "u2")
	unlimited := ratelimit.Limit{PerSecond: 1e6, Burst: 1e6}
	seq := NewSequencer(fs, experiences.Default(), &Options{Settle: 3 * time.Second, SenderLimit: unlimited, SessionLimit: unlimited})

	events := fs.Collection(model.SessionsCollection).Doc(sessionID).Collection(model.EventsCollection)
	copyOf := func(id string) model.Event { return storedCopy(t, ctx, fs, sessionID, id) }
	trigger := func(id string) (Outcome, error) {
		if carried {
			return seq.SequenceCreated(ctx, sessionID, copyOf(id))
		}
		return seq.Sequence(ctx, sessionID, id)
	}
	// An event long settled, decided by this instance: its cursor is the
	// last, so the carried triggers below may be decided from their copies.
	_, err := events.Doc("zero").Create(ctx, map[string]any{
		"id": "zero", "type": "page_changed", "senderId": "u1", "data": map[string]any{"pageIndex": "0"},
		"clientSequenceNumber": int64(0), "createdAt": time.Now().Add(-time.Minute),
	})
	require.NoError(t, err)
	zero, err := trigger("zero")
	require.NoError(t, err)
	require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 1}, zero)

	require.NoError(t, writeEvent(ctx, fs, sessionID, "second", "u2", 1))
	stamped := copyOf("second").CreatedAt

	type result struct {
		out Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := trigger("second")
		done <- result{out, err}
	}()
	// Until the run has held "second" (or, without Settle, decided it).
	var second *result
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for second == nil && seq.Stats.Snapshot().HeldRuns == 0 {
		select {
		case r := <-done:
			second = &r
		case <-tick.C:
		}
	}
	_, err = events.Doc("first").Create(ctx, map[string]any{
		"id": "first", "type": "page_changed", "senderId": "u1", "data": map[string]any{"pageIndex": "1"},
		"clientSequenceNumber": int64(1), "createdAt": stamped.Add(-time.Millisecond),
	})
	require.NoError(t, err)
	first, err := trigger("first")
	require.NoError(t, err)
	if second == nil {
		r := <-done
		second = &r
	}
	require.NoError(t, second.err)
	require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 2}, first, "the earlier stamp is numbered first")
	require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 3}, second.out)
	if st := seq.Stats.Snapshot(); carried {
		require.Positive(t, st.CarriedRuns+st.CarriedMisses, "a count stood for the window at least once: %+v", st)
	} else {
		require.Zero(t, st.CarriedRuns+st.CarriedMisses)
	}
}

// TestSettleBurstWaitsOnce: the triggers of a burst whose events a run
// held wait for their own events without a transaction, then decide them
// in order: at most one run per trigger and the first. Before the lane
// kept the holds, every trigger ran a held transaction of its own first.
func TestSettleBurstWaitsOnce(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1")
	unlimited := ratelimit.Limit{PerSecond: 1e6, Burst: 1e6}
	seq := NewSequencer(fs, experiences.Default(), &Options{Settle: time.Second, SenderLimit: unlimited, SessionLimit: unlimited})
	const n = 20
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("e%02d", i)
		require.NoError(t, writeEvent(ctx, fs, sessionID, ids[i], "u1", int64(i)))
	}
	type result struct {
		i   int
		out Outcome
		err error
	}
	results := make(chan result, n)
	for i, id := range ids {
		go func() {
			out, err := seq.Sequence(ctx, sessionID, id)
			results <- result{i, out, err}
		}()
	}
	for range n {
		r := <-results
		require.NoError(t, r.err)
		require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: int64(r.i + 1)}, r.out, ids[r.i])
	}
	st := seq.Stats.Snapshot()
	t.Logf("%+v", st)
	require.LessOrEqual(t, st.Transactions, int64(n+1), "%+v", st)
	require.Zero(t, st.LateEvents)
}
