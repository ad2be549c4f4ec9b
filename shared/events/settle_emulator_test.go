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
// createdAt set in the past, so the test needs no race to show it.
func TestSettleWaitsForEarlierStamps(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1", "u2")
	unlimited := ratelimit.Limit{PerSecond: 1e6, Burst: 1e6}
	seq := NewSequencer(fs, experiences.Default(), &Options{Settle: 3 * time.Second, SenderLimit: unlimited, SessionLimit: unlimited})

	events := fs.Collection(model.SessionsCollection).Doc(sessionID).Collection(model.EventsCollection)
	require.NoError(t, writeEvent(ctx, fs, sessionID, "second", "u2", 1))
	snap, err := events.Doc("second").Get(ctx)
	require.NoError(t, err)
	stamped := model.DecodeEvent(snap).CreatedAt

	type result struct {
		out Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := seq.Sequence(ctx, sessionID, "second")
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
	first, err := seq.Sequence(ctx, sessionID, "first")
	require.NoError(t, err)
	if second == nil {
		r := <-done
		second = &r
	}
	require.NoError(t, second.err)
	require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 1}, first, "the earlier stamp is numbered first")
	require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 2}, second.out)
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
