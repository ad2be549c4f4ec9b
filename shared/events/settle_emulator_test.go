package events_test

import (
	"context"
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
	seq := NewSequencer(fs, experiences.Default(), &Options{Settle: time.Second, SenderLimit: unlimited, SessionLimit: unlimited})

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
	for tick := time.NewTicker(time.Millisecond); second == nil && seq.Stats.Snapshot().HeldRuns == 0; {
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
