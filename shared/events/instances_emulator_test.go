package events_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	. "github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// TestInstancesTakeTurns: two instances sequence one session in turns, so
// each one's lane knows nothing of the other's last run: numbers 1..n in order, each event
// accepted by exactly one run.
func TestInstancesTakeTurns(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1")
	inst := []*Sequencer{
		NewSequencer(fs, experiences.Default(), nil),
		NewSequencer(newClient(t), experiences.Default(), nil),
	}
	const n = 6
	for i := range n {
		id := fmt.Sprintf("e%d", i)
		require.NoError(t, writeEvent(ctx, fs, sessionID, id, "u1", int64(i)))
		out, err := inst[i%2].Sequence(ctx, sessionID, id)
		require.NoError(t, err)
		require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: int64(i + 1)}, out, "event %d", i)
	}
	for i := range n {
		d := decisionOf(t, ctx, fs, sessionID, fmt.Sprintf("e%d", i))
		require.Equal(t, model.EventAccepted, d["status"])
		require.EqualValues(t, i+1, d["sequenceNumber"])
	}
	var accepted int64
	for _, s := range inst {
		accepted += s.Stats.Snapshot().Accepted
	}
	require.EqualValues(t, n, accepted, "each event accepted by exactly one run")
}

// TestRedeliveredAfterTheCursor: a trigger redelivered after the cursor
// passed its event, to the instance that decided it (whose lane may have
// forgotten it) and to another, returns the stored outcome and decides
// nothing again.
func TestRedeliveredAfterTheCursor(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1")
	seq := NewSequencer(fs, experiences.Default(), nil)
	require.NoError(t, writeEvent(ctx, fs, sessionID, "first", "u1", 1))
	out, err := seq.Sequence(ctx, sessionID, "first")
	require.NoError(t, err)
	require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 1}, out)
	require.NoError(t, writeEvent(ctx, fs, sessionID, "second", "u1", 2))
	out, err = seq.Sequence(ctx, sessionID, "second")
	require.NoError(t, err)
	require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 2}, out)

	for name, s := range map[string]*Sequencer{
		"same instance":  seq,
		"fresh instance": NewSequencer(newClient(t), experiences.Default(), nil),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := s.Sequence(ctx, sessionID, "first")
			require.NoError(t, err)
			require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 1}, out)
		})
	}
	snap, err := fs.Collection(model.SessionsCollection).Doc(sessionID).Get(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, snap.Data()[model.FieldLastEventSequenceNumber])
}
