package snapshots_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/snapshots"
)

var stack *emulator.Stack

func TestMain(m *testing.M) { os.Exit(emulatortest.MainStack(m, &stack)) }

func client(tb testing.TB) *firestore.Client { return emulatortest.Firestore(tb, stack) }

// history writes already-accepted events, as the pipeline leaves them, and
// keeps them in memory as the reference.
type history struct {
	fs        *firestore.Client
	x         experiences.Experience
	sessionID string
	events    []experiences.Event
	start     time.Time
}

func newHistory(t *testing.T, fs *firestore.Client, x experiences.Experience) *history {
	id := emulatortest.ID("s")
	now := time.Now()
	_, err := fs.Collection(model.SessionsCollection).Doc(id).Set(context.Background(), model.Session{
		ID: id, ExperienceID: x.ID(), OwnerID: "u1", Status: model.StatusActive, Participants: []string{"u1"},
		CreatedAt: now, UpdatedAt: now, LastActivityAt: now,
	})
	require.NoError(t, err)
	h := &history{fs: fs, x: x, sessionID: id, start: now.Add(-time.Hour)}
	h.append(t, experiences.Event{Type: model.ParticipantJoined, SenderID: "u1", Data: map[string]string{"userId": "u1", "created": "true"}})
	return h
}

func (h *history) append(t *testing.T, evs ...experiences.Event) {
	ctx := context.Background()
	bw := h.fs.BulkWriter(ctx)
	sess := h.fs.Collection(model.SessionsCollection).Doc(h.sessionID)
	for _, e := range evs {
		h.events = append(h.events, e)
		n := int64(len(h.events))
		_, err := bw.Create(sess.Collection(model.EventsCollection).Doc(fmt.Sprintf("e%06d", n)), map[string]any{
			"id": fmt.Sprintf("e%06d", n), "type": e.Type, "senderId": e.SenderID, "data": e.Data,
			"clientSequenceNumber": n, "createdAt": h.start.Add(time.Duration(n) * time.Millisecond),
			"status": "accepted", "sequenceNumber": n,
		})
		require.NoError(t, err)
	}
	bw.End()
	// As the sequencer's session update that accepts them.
	_, err := sess.Update(ctx, []firestore.Update{{Path: "lastEventSequenceNumber", Value: int64(len(h.events))},
		{Path: model.FieldCompactionDue, Value: true}})
	require.NoError(t, err)
}

// requireInvariant: the snapshot plus the events after it fold to the
// same state as the whole history.
func (h *history) requireInvariant(t *testing.T, msg string) {
	t.Helper()
	c, err := snapshots.ReadCatchUp(context.Background(), h.fs, h.sessionID)
	require.NoError(t, err)
	st := experiences.NewState(h.x)
	if c.Snapshot != nil {
		exp, err := h.x.DecodeState(c.Snapshot.SchemaVersion, json.RawMessage(c.Snapshot.ExperienceState))
		require.NoError(t, err)
		st = experiences.State{Participants: c.Snapshot.Participants, OwnerID: c.Snapshot.OwnerID, Experience: exp}
	}
	for _, e := range c.Events {
		st = experiences.Fold(h.x, st, experiences.Event{Type: e.Type, SenderID: e.SenderID, Data: e.Data})
	}
	want := experiences.Fold(h.x, experiences.NewState(h.x), h.events...)
	if len(want.Participants) == 0 {
		want.Participants = nil
	}
	if len(st.Participants) == 0 {
		st.Participants = nil
	}
	require.Equal(t, want, st, msg)
	require.Equal(t, c.After(), int64(len(h.events)), msg)
}

func randomEvent(r *rand.Rand, x experiences.Experience) experiences.Event {
	users := []string{"u1", "u2", "u3"}
	if r.Intn(8) == 0 {
		typ := []string{model.ParticipantJoined, model.ParticipantLeft, model.OwnerChanged}[r.Intn(3)]
		u := users[r.Intn(3)]
		return experiences.Event{Type: typ, SenderID: u, Data: map[string]string{"userId": u, "newOwnerId": u}}
	}
	e := experiences.Event{SenderID: users[r.Intn(3)], Data: map[string]string{}}
	if x.ID() == "co_reading" {
		e.Type = []string{"story_selected", "page_changed", "page_changed", "story_closed"}[r.Intn(4)]
		switch e.Type {
		case "story_selected":
			e.Data["storyId"] = fmt.Sprint("story-", r.Intn(3))
		case "page_changed":
			e.Data["pageIndex"] = fmt.Sprint(r.Intn(20))
		}
		return e
	}
	e.Type = []string{"stroke_added", "stroke_added", "stroke_removed", "canvas_cleared"}[r.Intn(4)]
	switch e.Type {
	case "stroke_added":
		e.Data = map[string]string{"strokeId": fmt.Sprint("s", r.Intn(10)), "color": "#112233", "points": "0,0;0.5,0.5"}
	case "stroke_removed":
		e.Data = map[string]string{"strokeId": fmt.Sprint("s", r.Intn(10))}
	}
	return e
}

// TestCompactionProperty: for random histories of every registered
// experience, snapshot + remaining events = fold of the whole history,
// after any number of compactions and prunes at any points, also when two
// compactions run at once.
func TestCompactionProperty(t *testing.T) {
	fs := client(t)
	ctx := context.Background()
	reg := experiences.Default()
	comp := snapshots.NewCompactor(fs, reg, nil)
	for _, id := range reg.IDs() {
		x, _ := reg.Lookup(id)
		for seed := int64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", id, seed), func(t *testing.T) {
				r := rand.New(rand.NewSource(seed))
				h := newHistory(t, fs, x)
				for step := range 8 {
					batch := make([]experiences.Event, r.Intn(40))
					for i := range batch {
						batch[i] = randomEvent(r, x)
					}
					h.append(t, batch...)
					switch r.Intn(4) {
					case 0: // two compactions at once
						var wg sync.WaitGroup
						for range 2 {
							wg.Go(func() {
								_, err := comp.Compact(ctx, h.sessionID)
								require.NoError(t, err)
							})
						}
						wg.Wait()
					case 1:
						_, err := comp.Compact(ctx, h.sessionID)
						require.NoError(t, err)
					case 2:
						_, err := comp.Compact(ctx, h.sessionID)
						require.NoError(t, err)
						_, err = snapshots.Prune(ctx, fs, h.sessionID, time.Now().Add(time.Hour))
						require.NoError(t, err)
					}
					h.requireInvariant(t, fmt.Sprintf("after step %d", step))
				}
			})
		}
	}
}

// TestCompactionIncrementalAndIdempotent: a second run with nothing new
// writes nothing; a run after k new events folds exactly k. The snapshot
// is stamped by the injected clock.
func TestCompactionIncrementalAndIdempotent(t *testing.T) {
	fs := client(t)
	ctx := context.Background()
	stamp := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	comp := snapshots.NewCompactor(fs, experiences.Default(), &snapshots.Options{Clock: func() time.Time { return stamp }})
	h := newHistory(t, fs, experiences.CoReading)
	h.append(t, experiences.Event{Type: "story_selected", SenderID: "u1", Data: map[string]string{"storyId": "s"}})
	res, err := comp.Compact(ctx, h.sessionID)
	require.NoError(t, err)
	require.True(t, res.Written)
	require.Equal(t, 2, res.Folded)
	snap, err := snapshots.Read(ctx, nil, fs.Collection(model.SessionsCollection).Doc(h.sessionID))
	require.NoError(t, err)
	require.True(t, snap.UpdatedAt.Equal(stamp), "updatedAt %v from the injected clock", snap.UpdatedAt)

	res, err = comp.Compact(ctx, h.sessionID)
	require.NoError(t, err)
	require.False(t, res.Written)
	require.Zero(t, res.Folded)

	h.append(t, experiences.Event{Type: "page_changed", SenderID: "u1", Data: map[string]string{"pageIndex": "4"}})
	res, err = comp.Compact(ctx, h.sessionID)
	require.NoError(t, err)
	require.Equal(t, 1, res.Folded)
	require.EqualValues(t, 3, res.To)
	h.requireInvariant(t, "incremental")
}

// TestOldSchemaVersion: a snapshot this code cannot read (an old version
// without a migration) is rebuilt from the events; one from a newer
// version is refused and left as it was.
func TestOldSchemaVersion(t *testing.T) {
	fs := client(t)
	ctx := context.Background()
	comp := snapshots.NewCompactor(fs, experiences.Default(), nil)
	h := newHistory(t, fs, experiences.CoReading)
	h.append(t, experiences.Event{Type: "story_selected", SenderID: "u1", Data: map[string]string{"storyId": "s"}},
		experiences.Event{Type: "page_changed", SenderID: "u1", Data: map[string]string{"pageIndex": "2"}})
	sessRef := fs.Collection(model.SessionsCollection).Doc(h.sessionID)

	old := snapshots.Snapshot{ExperienceID: "co_reading", ExperienceState: `{"story":"s","page":2}`,
		Participants: []string{"u1"}, OwnerID: "u1", LastEventSequenceNumber: 3, SchemaVersion: 0, UpdatedAt: time.Now()}
	_, err := model.SnapshotRef(sessRef).Set(ctx, old)
	require.NoError(t, err)
	res, err := comp.Compact(ctx, h.sessionID)
	require.NoError(t, err)
	require.True(t, res.Rebuilt)
	require.True(t, res.Written)
	got, err := snapshots.Read(ctx, nil, sessRef)
	require.NoError(t, err)
	require.Equal(t, 1, got.SchemaVersion)
	require.JSONEq(t, `{"selectedStoryId":"s","currentPageIndex":2,"isFullScreenMode":true}`, got.ExperienceState)
	h.requireInvariant(t, "rebuilt")

	newer := old
	newer.SchemaVersion = 99
	_, err = model.SnapshotRef(sessRef).Set(ctx, newer)
	require.NoError(t, err)
	_, err = comp.Compact(ctx, h.sessionID)
	require.ErrorIs(t, err, snapshots.ErrNewerSnapshot)
	got, err = snapshots.Read(ctx, nil, sessRef)
	require.NoError(t, err)
	require.Equal(t, 99, got.SchemaVersion, "a newer snapshot is never overwritten")
}

// TestCompactAndPruneClearsTheMark: compactSnapshots finds a session
// through compactionDue while its events pass its snapshot, and no longer
// once CompactAndPrune caught up; a session whose snapshot could not catch
// up keeps the mark, so the next run tries again.
func TestCompactAndPruneClearsTheMark(t *testing.T) {
	fs := client(t)
	ctx := context.Background()
	comp := snapshots.NewCompactor(fs, experiences.Default(), nil)
	due := func() []string {
		found, err := comp.Due(ctx)
		require.NoError(t, err)
		var ids []string
		for _, d := range found {
			ids = append(ids, d.SessionID)
		}
		return ids
	}
	h := newHistory(t, fs, experiences.CoReading)
	h.append(t, experiences.Event{Type: "story_selected", SenderID: "u1", Data: map[string]string{"storyId": "s"}})
	require.Contains(t, due(), h.sessionID)

	res, err := comp.CompactAndPrune(ctx, h.sessionID, time.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	require.True(t, res.Cleared)
	require.NotContains(t, due(), h.sessionID)
	res, err = comp.CompactAndPrune(ctx, h.sessionID, time.Now().Add(-24*time.Hour))
	require.NoError(t, err, "a redelivery")
	require.False(t, res.Written)

	h.append(t, experiences.Event{Type: "page_changed", SenderID: "u1", Data: map[string]string{"pageIndex": "4"}})
	require.Contains(t, due(), h.sessionID)
	res, err = comp.CompactAndPrune(ctx, h.sessionID, time.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, res.Folded)
	require.NotContains(t, due(), h.sessionID)

	// The session claims events the snapshot cannot reach yet (their
	// writes still in flight): the mark stays.
	_, err = fs.Collection(model.SessionsCollection).Doc(h.sessionID).Update(ctx, []firestore.Update{
		{Path: model.FieldLastEventSequenceNumber, Value: int64(len(h.events) + 2)}, {Path: model.FieldCompactionDue, Value: true}})
	require.NoError(t, err)
	res, err = comp.CompactAndPrune(ctx, h.sessionID, time.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	require.False(t, res.Cleared)
	require.Contains(t, due(), h.sessionID)
}

// TestCompactDue: the work compactSnapshots queues compacts the session as
// its query read it, with no second read of the session, and clears the
// mark; the same work after a write to the session leaves the mark.
func TestCompactDue(t *testing.T) {
	fs := client(t)
	ctx := context.Background()
	comp := snapshots.NewCompactor(fs, experiences.Default(), nil)
	find := func(id string) (snapshots.DueSession, bool) {
		found, err := comp.Due(ctx)
		require.NoError(t, err)
		for _, d := range found {
			if d.SessionID == id {
				return d, true
			}
		}
		return snapshots.DueSession{}, false
	}
	h := newHistory(t, fs, experiences.CoReading)
	h.append(t, experiences.Event{Type: "story_selected", SenderID: "u1", Data: map[string]string{"storyId": "s"}})
	d, ok := find(h.sessionID)
	require.True(t, ok)
	require.Equal(t, experiences.CoReading.ID(), d.ExperienceID)
	require.EqualValues(t, 2, d.LastEventSequenceNumber)
	require.False(t, d.UpdateTime.IsZero())

	// Written after the query: the mark stays, the snapshot is still made.
	h.append(t, experiences.Event{Type: "page_changed", SenderID: "u1", Data: map[string]string{"pageIndex": "1"}})
	res, err := comp.CompactDue(ctx, d, time.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 3, res.To)
	require.False(t, res.Cleared)

	d, ok = find(h.sessionID)
	require.True(t, ok)
	res, err = comp.CompactDue(ctx, d, time.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	require.True(t, res.Cleared)
	_, ok = find(h.sessionID)
	require.False(t, ok)
	h.requireInvariant(t, "compacted as queued")
}

// TestPruneRejectedInPages: more rejected events than one page are all
// pruned (read by name only, a page at a time), and the session's history
// stays whole.
func TestPruneRejectedInPages(t *testing.T) {
	fs := client(t)
	ctx := context.Background()
	comp := snapshots.NewCompactor(fs, experiences.Default(), nil)
	h := newHistory(t, fs, experiences.CoReading)
	h.append(t, experiences.Event{Type: "story_selected", SenderID: "u1", Data: map[string]string{"storyId": "s"}})
	_, err := comp.Compact(ctx, h.sessionID)
	require.NoError(t, err)

	const junk = 1100
	events := model.EventsRef(model.SessionRef(fs, h.sessionID))
	old := time.Now().Add(-2 * time.Hour)
	bw := fs.BulkWriter(ctx)
	for i := range junk {
		_, err := bw.Set(events.Doc(fmt.Sprintf("junk%04d", i)), map[string]any{
			model.FieldID: fmt.Sprintf("junk%04d", i), model.FieldType: "page_changed", model.FieldSenderID: "u1",
			model.FieldData: map[string]any{"pageIndex": 1}, model.FieldCreatedAt: old,
			model.FieldStatus: model.EventRejected, model.FieldRejectReason: "malformed_event", model.FieldSequencedAt: old})
		require.NoError(t, err)
	}
	bw.End()

	n, err := snapshots.Prune(ctx, fs, h.sessionID, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, junk, "the junk, and the covered events the history back-dated")
	left, err := events.Where(model.FieldStatus, "==", model.EventRejected).Documents(ctx).GetAll()
	require.NoError(t, err)
	require.Empty(t, left)
	h.requireInvariant(t, "after pruning the junk")
}
