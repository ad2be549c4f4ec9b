package events_test

import (
	"context"
	"fmt"
	"testing"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/require"

	. "github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// created writes an event and returns it as its trigger carries it: the
// document as created, createdAt the commit time.
func created(t *testing.T, ctx context.Context, fs *firestore.Client, sessionID, id, sender string, clientSeq int64) model.Event {
	t.Helper()
	doc := map[string]any{
		"id": id, "type": "page_changed", "senderId": sender, "data": map[string]any{"pageIndex": "1"},
		"clientSequenceNumber": clientSeq, "createdAt": firestore.ServerTimestamp,
	}
	wr, err := eventsCol(fs, sessionID).Doc(id).Create(ctx, doc)
	require.NoError(t, err)
	doc["createdAt"] = wr.UpdateTime
	return model.DecodeEventData(id, doc)
}

// TestInstancesTakeTurns: two instances sequence one session in turns,
// each handed the trigger's copy of the event, so each one's lane knows
// nothing of the other's last run: numbers 1..n in order, each event
// accepted by exactly one run.
func TestInstancesTakeTurns(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1")
	inst := []*Sequencer{
		NewSequencer(fs, experiences.Default(), nil, nil, nil),
		NewSequencer(newClient(t), experiences.Default(), nil, nil, nil),
	}
	const n = 6
	for i := range n {
		ev := created(t, ctx, fs, sessionID, fmt.Sprintf("e%d", i), "u1", int64(i))
		out, err := inst[i%2].SequenceCreated(ctx, sessionID, ev)
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

// TestRedeliveredCopy: a trigger redelivered after its event was decided
// carries the event as created (no status). The copy must not be decided
// again, whether this process's view of the session is current (the cursor
// passed the event, so the window does not return it) or absent.
func TestRedeliveredCopy(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1")
	seq := NewSequencer(fs, experiences.Default(), nil, nil, nil)
	first := created(t, ctx, fs, sessionID, "first", "u1", 1)
	out, err := seq.SequenceCreated(ctx, sessionID, first)
	require.NoError(t, err)
	require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 1}, out)
	second := created(t, ctx, fs, sessionID, "second", "u1", 2)
	out, err = seq.SequenceCreated(ctx, sessionID, second)
	require.NoError(t, err)
	require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 2}, out)

	for name, s := range map[string]*Sequencer{
		"same instance":  seq,
		"fresh instance": NewSequencer(newClient(t), experiences.Default(), nil, nil, nil),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := s.SequenceCreated(ctx, sessionID, first)
			require.NoError(t, err)
			require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 1}, out)
		})
	}
	snap, err := fs.Collection(model.SessionsCollection).Doc(sessionID).Get(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, snap.Data()[model.FieldLastEventSequenceNumber])
}

// TestCopyOfAnotherShape: a trigger's copy that does not decode cleanly is
// not trusted; the stored event decides.
func TestCopyOfAnotherShape(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1")
	seq := NewSequencer(fs, experiences.Default(), nil, nil, nil)
	ev := created(t, ctx, fs, sessionID, "e1", "u1", 1)
	ev.Malformed = model.ErrMalformed
	out, err := seq.SequenceCreated(ctx, sessionID, ev)
	require.NoError(t, err)
	require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 1}, out)
}
