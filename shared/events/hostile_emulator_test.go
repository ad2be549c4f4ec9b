package events_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	. "github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
)

func eventsCol(fs *firestore.Client, sessionID string) *firestore.CollectionRef {
	return fs.Collection(model.SessionsCollection).Doc(sessionID).Collection(model.EventsCollection)
}

// writeJunk writes a malformed event that still has a usable order: a
// committed createdAt and an integer clientSequenceNumber, as the rules let
// any participant write it (they check that data is a map, not its values).
func writeJunk(ctx context.Context, fs *firestore.Client, sessionID, id, sender string, clientSeq int64) error {
	_, err := eventsCol(fs, sessionID).Doc(id).Create(ctx, map[string]any{
		"id": id, "type": "page_changed", "senderId": sender, "data": map[string]any{"pageIndex": 7},
		"clientSequenceNumber": clientSeq, "createdAt": firestore.ServerTimestamp,
	})
	return err
}

// storedCopy is event id as stored, as its trigger's CloudEvent would
// carry it (emulator TestTriggerCarriesTheStoredEvent shows they match).
func storedCopy(t *testing.T, ctx context.Context, fs *firestore.Client, sessionID, id string) model.Event {
	t.Helper()
	snap, err := eventsCol(fs, sessionID).Doc(id).Get(ctx)
	require.NoError(t, err)
	return model.DecodeEvent(snap)
}

func decisionOf(t *testing.T, ctx context.Context, fs *firestore.Client, sessionID, id string) map[string]any {
	t.Helper()
	snap, err := eventsCol(fs, sessionID).Doc(id).Get(ctx)
	require.NoError(t, err)
	return snap.Data()
}

// TestJunkCannotFreezeASession: more malformed events than one batch holds,
// then a valid one. Every run must move past what it decided, so the valid
// event is numbered, and junk costs O(junk / BatchSize) runs.
func TestJunkCannotFreezeASession(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	const batch = 5
	for _, junk := range []int{batch + 1, 3 * batch} {
		t.Run(fmt.Sprint(junk), func(t *testing.T) {
			sessionID := newSession(t, fs, "u1", "u2")
			for i := range junk {
				require.NoError(t, writeJunk(ctx, fs, sessionID, fmt.Sprintf("j%03d", i), "u2", int64(i)))
			}
			require.NoError(t, writeEvent(ctx, fs, sessionID, "valid", "u1", 1))
			seq := NewSequencer(fs, experiences.Default(), &Options{BatchSize: batch})
			runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			// The valid event's trigger alone: it must get through the junk
			// in O(junk / BatchSize) runs.
			out, err := seq.Sequence(runCtx, sessionID, "valid")
			require.NoError(t, err, "the valid event after %d junk events", junk)
			require.Equal(t, model.EventAccepted, out.Status)
			require.EqualValues(t, 1, out.SequenceNumber)
			st := seq.Stats.Snapshot()
			require.LessOrEqual(t, st.Transactions, int64(junk/batch+1), "junk must cost O(junk/BatchSize) runs: %+v", st)
			// Then the junk's own triggers, one after another: each finds
			// its decision.
			for i := range junk {
				out, err := seq.Sequence(runCtx, sessionID, fmt.Sprintf("j%03d", i))
				require.NoError(t, err)
				require.Equal(t, model.EventRejected, out.Status)
				require.Equal(t, ReasonMalformed, out.Reason)
			}
			// And junk arriving first, in a fresh session, never holds the
			// valid event back either.
			sessionID = newSession(t, fs, "u1", "u2")
			for i := range junk {
				require.NoError(t, writeJunk(ctx, fs, sessionID, fmt.Sprintf("j%03d", i), "u2", int64(i)))
			}
			require.NoError(t, writeEvent(ctx, fs, sessionID, "valid", "u1", 1))
			for i := range junk {
				_, err := seq.Sequence(runCtx, sessionID, fmt.Sprintf("j%03d", i))
				require.NoError(t, err)
			}
			out, err = seq.Sequence(runCtx, sessionID, "valid")
			require.NoError(t, err)
			require.Equal(t, model.EventAccepted, out.Status)
		})
	}
}

// TestEventWithoutOrderDoesNotBlock: events an admin wrote with no usable
// order (a createdAt of another type) are rejected without holding back the
// valid events after them, even when they fill a batch.
func TestEventWithoutOrderDoesNotBlock(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1")
	const batch = 3
	for i := range batch + 2 {
		id := fmt.Sprintf("n%02d", i)
		_, err := eventsCol(fs, sessionID).Doc(id).Create(ctx, map[string]any{
			"id": id, "type": "page_changed", "senderId": "u1", "data": map[string]any{"pageIndex": "1"},
			"clientSequenceNumber": int64(i), "createdAt": int64(i),
		})
		require.NoError(t, err)
	}
	require.NoError(t, writeEvent(ctx, fs, sessionID, "valid", "u1", 1))
	seq := NewSequencer(fs, experiences.Default(), &Options{BatchSize: batch})
	runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for i := range batch + 2 {
		out, err := seq.Sequence(runCtx, sessionID, fmt.Sprintf("n%02d", i))
		require.NoError(t, err)
		require.Equal(t, ReasonMalformed, out.Reason)
	}
	out, err := seq.Sequence(runCtx, sessionID, "valid")
	require.NoError(t, err)
	require.Equal(t, model.EventAccepted, out.Status)
}

// script is a history of session changes and client events, played against
// the real session store; sequence says after which step the sequencer
// runs (the trigger's delay): -1 runs it after every step, as prompt
// triggers would.
type script struct {
	name  string
	steps []func(t *testing.T, ctx context.Context, h *history)
}

type history struct {
	fs        *firestore.Client
	store     *sessions.Store
	sessionID string
	callID    string
	ids       []string // client events written, in order
}

func writeStep(sender string) func(*testing.T, context.Context, *history) {
	return func(t *testing.T, ctx context.Context, h *history) {
		id := fmt.Sprintf("c%02d", len(h.ids))
		h.ids = append(h.ids, id)
		require.NoError(t, writeEvent(ctx, h.fs, h.sessionID, id, sender, int64(len(h.ids))))
	}
}

// TestOutcomesFixedAtCommitTime: the same scripts decided at once and
// decided late (after the whole script) end with identical documents:
// membership and the end are judged at each event's place in the order.
func TestOutcomesFixedAtCommitTime(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	write := writeStep
	join := func(uid string) func(*testing.T, context.Context, *history) {
		return func(t *testing.T, ctx context.Context, h *history) {
			_, err := h.store.Join(ctx, uid, h.sessionID)
			require.NoError(t, err)
		}
	}
	leave := func(uid string) func(*testing.T, context.Context, *history) {
		return func(t *testing.T, ctx context.Context, h *history) {
			_, err := h.store.Leave(ctx, uid, h.sessionID)
			require.NoError(t, err)
		}
	}
	end := func(uid string) func(*testing.T, context.Context, *history) {
		return func(t *testing.T, ctx context.Context, h *history) {
			_, err := h.store.End(ctx, uid, h.sessionID)
			require.NoError(t, err)
		}
	}
	scripts := []script{
		{"write then leave", []func(*testing.T, context.Context, *history){join("u2"), write("u2"), leave("u2"), write("u1")}},
		{"join then write", []func(*testing.T, context.Context, *history){write("u2"), join("u2"), write("u2")}},
		{"write then end", []func(*testing.T, context.Context, *history){join("u2"), write("u1"), write("u2"), end("u1")}},
		{"leave then write (admin)", []func(*testing.T, context.Context, *history){join("u2"), leave("u2"), write("u2"), write("u1")}},
		{"end then write (admin)", []func(*testing.T, context.Context, *history){write("u1"), end("u1"), write("u1")}},
	}
	unlimited := ratelimit.Limit{PerSecond: 1e6, Burst: 1e6}
	play := func(t *testing.T, sc script, late bool) []map[string]any {
		store := sessions.NewStore(fs, nil)
		callID := emulatortest.ID("call")
		_, err := fs.Collection(model.CallsCollection).Doc(callID).Set(ctx, map[string]any{"members": []string{"u1", "u2"}})
		require.NoError(t, err)
		sess, err := store.Create(ctx, "u1", callID, "co_reading")
		require.NoError(t, err)
		h := &history{fs: fs, store: store, sessionID: sess.ID, callID: callID}
		seq := NewSequencer(fs, experiences.Default(), &Options{SenderLimit: unlimited, SessionLimit: unlimited})
		drain := func() {
			docs, err := eventsCol(fs, h.sessionID).Documents(ctx).GetAll()
			require.NoError(t, err)
			for _, d := range docs {
				_, err := seq.Sequence(ctx, h.sessionID, d.Ref.ID)
				require.NoError(t, err)
			}
		}
		for _, step := range sc.steps {
			step(t, ctx, h)
			if !late {
				drain()
			}
		}
		drain()
		docs, err := eventsCol(fs, h.sessionID).OrderBy("createdAt", firestore.Asc).
			OrderBy("clientSequenceNumber", firestore.Asc).OrderBy(firestore.DocumentID, firestore.Asc).Documents(ctx).GetAll()
		require.NoError(t, err)
		var out []map[string]any
		for _, d := range docs {
			m := d.Data()
			// Fields that name the run, not the outcome.
			out = append(out, map[string]any{"type": m["type"], "senderId": m["senderId"], "status": m["status"],
				"sequenceNumber": m["sequenceNumber"], "rejectReason": m["rejectReason"], "client": m["origin"] == nil})
		}
		return out
	}
	for _, sc := range scripts {
		t.Run(sc.name, func(t *testing.T) {
			prompt, late := play(t, sc, false), play(t, sc, true)
			require.Equal(t, prompt, late, "outcomes depend on when the sequencer ran")
			for _, m := range prompt {
				require.NotNil(t, m["status"], "undecided: %v", m)
			}
			// experience_ended, when there is one, is the last accepted event.
			last := map[string]any(nil)
			for _, m := range prompt {
				if m["status"] == model.EventAccepted {
					last = m
				}
			}
			for _, m := range prompt {
				if m["type"] == model.ExperienceEnded {
					require.Equal(t, m, last, "experience_ended is not the last accepted event")
				}
			}
			t.Logf("%v", prompt)
		})
	}
}

// TestSweepDecidesLostTriggers: events whose triggers never arrive (this
// package wires none) are decided by the sweep; a sweep with nothing new
// pending reads a constant number of documents.
func TestSweepDecidesLostTriggers(t *testing.T) {
	ctx := context.Background()
	newClient(t) // skips without the emulators
	// A project of its own: the sweep looks at every session.
	fs, err := firestore.NewClient(ctx, emulatortest.ID("demo-sweep"))
	require.NoError(t, err)
	t.Cleanup(func() { fs.Close() })
	seq := NewSequencer(fs, experiences.Default(), nil)
	var ids []string
	for range 3 {
		sessionID := newSession(t, fs, "u1")
		for i := range 4 {
			require.NoError(t, writeEvent(ctx, fs, sessionID, fmt.Sprintf("e%d", i), "u1", int64(i)))
		}
		ids = append(ids, sessionID)
	}
	res, err := seq.SweepPending(ctx, 0)
	require.NoError(t, err)
	require.EqualValues(t, 12, res.Events)
	require.EqualValues(t, 12, res.Pending)
	for _, sessionID := range ids {
		docs, err := eventsCol(fs, sessionID).OrderBy("sequenceNumber", firestore.Asc).Documents(ctx).GetAll()
		require.NoError(t, err)
		require.Len(t, docs, 4)
		for i, d := range docs {
			require.Equal(t, model.EventAccepted, d.Data()["status"])
			require.EqualValues(t, i+1, d.Data()["sequenceNumber"])
		}
	}

	// Nothing new: the mark and two counts, whatever exists.
	before := seq.Stats.Snapshot()
	res, err = seq.SweepPending(ctx, 0)
	require.NoError(t, err)
	require.Zero(t, res.Pending)
	reads := seq.Stats.Snapshot().Reads - before.Reads
	require.LessOrEqual(t, reads, int64(3), "an idle sweep must cost O(1) reads")

	// Events younger than minAge are left to their triggers.
	require.NoError(t, writeEvent(ctx, fs, ids[0], "late", "u1", 9))
	res, err = seq.SweepPending(ctx, time.Hour)
	require.NoError(t, err)
	require.Zero(t, res.Events)
	require.Nil(t, decisionOf(t, ctx, fs, ids[0], "late")["status"])
}

// TestEventAtTheDocumentLimit: a participant writes the largest event
// Firestore accepts (found as an attacker would, by shrinking it until the
// create succeeds), then a valid one. Its rejection must not grow the
// document past Firestore's limit, or no run of the session could commit
// again: the junk is rejected, the valid event numbered.
func TestEventAtTheDocumentLimit(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		value  func(n int) any
		reason RejectReason
	}{
		{"string data", func(n int) any { return strings.Repeat("x", n) }, ReasonTooLarge},
		{"bytes data", func(n int) any { return make([]byte, n) }, ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sessionID := newSession(t, fs, "u1", "u2")
			ref := eventsCol(fs, sessionID).Doc("big")
			doc := func(n int) map[string]any {
				return map[string]any{"id": "big", "type": "page_changed", "senderId": "u2", "data": map[string]any{"pageIndex": tc.value(n)},
					"clientSequenceNumber": int64(1), "createdAt": firestore.ServerTimestamp}
			}
			// The largest size the emulator takes, to the byte.
			lo, hi := 1<<20-4096, 1<<20+1 // lo is accepted, hi refused
			_, err := eventsCol(fs, sessionID).Doc("probe").Create(ctx, doc(hi))
			require.Error(t, err, "the emulator enforces the 1 MiB document limit")
			for hi-lo > 1 {
				mid := (lo + hi) / 2
				probe := eventsCol(fs, sessionID).Doc(fmt.Sprintf("probe%d", mid))
				if _, err := probe.Create(ctx, doc(mid)); err == nil {
					lo = mid
					_, err := probe.Delete(ctx)
					require.NoError(t, err)
				} else {
					hi = mid
				}
			}
			_, err = ref.Create(ctx, doc(lo))
			require.NoError(t, err)
			require.NoError(t, writeEvent(ctx, fs, sessionID, "valid", "u1", 2))

			seq := NewSequencer(fs, experiences.Default(), nil)
			runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			out, err := seq.Sequence(runCtx, sessionID, "valid")
			require.NoError(t, err, "the valid event behind a %d-byte event", lo)
			require.Equal(t, model.EventAccepted, out.Status)
			require.EqualValues(t, 1, out.SequenceNumber)
			out, err = seq.Sequence(runCtx, sessionID, "big")
			require.NoError(t, err)
			require.Equal(t, model.EventRejected, out.Status)
			require.Equal(t, tc.reason, out.Reason)
			got := decisionOf(t, ctx, fs, sessionID, "big")
			require.Equal(t, string(tc.reason), got[model.FieldRejectReason])
			require.NotContains(t, got, model.FieldData, "its data went with the decision")
		})
	}
}
