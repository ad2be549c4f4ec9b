package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/shared/config"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// costApp is an App in this process, in a project of its own on the
// stack's emulators (so nothing of the other tests is found), with its
// Firestore reads and writes metered.
type costApp struct {
	fs        *firestore.Client
	usage     *emulator.Usage
	schedules map[string]http.HandlerFunc
	events    map[string]func(context.Context, event.Event) error
}

func newCostApp(t *testing.T, ctx context.Context) *costApp {
	t.Helper()
	return newCostAppAt(t, ctx, nil)
}

// newCostAppAt is newCostApp whose functions read the time from clock
// (nil: time.Now).
func newCostAppAt(t *testing.T, ctx context.Context, clock func() time.Time) *costApp {
	t.Helper()
	project := "demo-cost-" + emulatortest.ID("")
	u := &emulator.Usage{}
	fs, err := u.Firestore(ctx, project)
	require.NoError(t, err)
	t.Cleanup(func() { fs.Close() })
	ps, err := pubsub.NewClient(ctx, project)
	require.NoError(t, err)
	t.Cleanup(func() { ps.Close() })
	_, err = ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + functions.TopicSessionWork})
	if status.Code(err) != codes.AlreadyExists {
		require.NoError(t, err)
	}
	cfg := config.Default()
	cfg.ProjectID = project
	app := functions.New(cfg, functions.Deps{Firestore: fs, Work: functions.NewPubSubWork(ps, functions.TopicSessionWork), Clock: clock})
	c := &costApp{fs: fs, usage: u, schedules: map[string]http.HandlerFunc{}, events: map[string]func(context.Context, event.Event) error{}}
	functions.Register(app, functions.Registrar{
		HTTP:       func(name string, fn func(http.ResponseWriter, *http.Request)) { c.schedules[name] = fn },
		CloudEvent: func(name string, fn func(context.Context, event.Event) error) { c.events[name] = fn },
	})
	return c
}

// run runs a scheduled function and returns the sessions it queued and
// the Firestore reads it cost.
func (c *costApp) run(t *testing.T, name string) ([]string, int64) {
	t.Helper()
	before := c.usage.Reads()
	rec := httptest.NewRecorder()
	c.schedules[name](rec, httptest.NewRequest(http.MethodPost, "/"+name, nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	reads := c.usage.Reads() - before
	var q functions.Queued
	if name != "sweepPendingEvents" {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &q), rec.Body.String())
	}
	slices.Sort(q.Sessions)
	return q.Sessions, reads
}

// seedState is what one seeded session needs, if anything.
type seedState int

const (
	idle seedState = iota
	staleActivity
	silentHeartbeat
	newEvents
	endedUnfinalized
	endedFinalized
	endedJustNow
)

func seedSessions(t *testing.T, ctx context.Context, fs *firestore.Client, n int, state seedState, prefix string) []string {
	t.Helper()
	now := time.Now().UTC()
	bw := fs.BulkWriter(ctx)
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		ids = append(ids, id)
		people := []string{"u1-" + id, "u2-" + id}
		doc := model.NewSessionDocument(model.Session{ID: id, CallID: "call-" + id, ExperienceID: "co_reading", OwnerID: people[0],
			Status: model.StatusActive, Participants: people, CreatedAt: now, UpdatedAt: now, LastActivityAt: now})
		seen := now
		switch state {
		case staleActivity:
			doc.LastActivityAt = now.Add(-3 * time.Hour)
		case silentHeartbeat:
			seen = now.Add(-time.Hour)
		case newEvents:
			doc.CompactionDue, doc.LastEventSequenceNumber = true, 1
		case endedUnfinalized, endedFinalized, endedJustNow:
			ended, expire, finalized := now.Add(-time.Hour), now.Add(24*time.Hour), state == endedFinalized
			if state == endedJustNow {
				ended = now
			}
			doc.Status, doc.EndedAt, doc.ExpireAt, doc.Finalized = model.StatusInactive, &ended, &expire, &finalized
		}
		ref := model.SessionRef(fs, id)
		_, err := bw.Set(ref, doc)
		require.NoError(t, err)
		if doc.Status == model.StatusActive {
			for _, p := range people {
				_, err := bw.Set(model.PresenceRef(ref, p), model.Presence{LastSeenAt: seen})
				require.NoError(t, err)
			}
		}
	}
	bw.End()
	return ids
}

var fanOutSchedules = []string{"closeStaleSessions", "checkPresence", "compactSnapshots", "cleanupEndedSessions"}

// TestIdleRunsReadO1: with hundreds of sessions and nothing to do, every
// scheduled run reads a constant handful of documents, not one per
// session (the sweeps used to read every active session, and checkPresence
// every heartbeat, on every run).
func TestIdleRunsReadO1(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	c := newCostApp(t, ctx)
	seedSessions(t, ctx, c.fs, 300, idle, "idle")
	seedSessions(t, ctx, c.fs, 50, endedFinalized, "done")
	for _, name := range append(fanOutSchedules, "sweepPendingEvents") {
		t.Run(name, func(t *testing.T) {
			queued, reads := c.run(t, name)
			require.Empty(t, queued)
			require.LessOrEqual(t, reads, int64(3), "an idle run reads O(1)")
		})
	}
}

// TestSchedulesFindWhatNeedsWork: each fan-out schedule queues every
// session that needs its work and nothing else, at a read per session
// found (and one for the query).
func TestSchedulesFindWhatNeedsWork(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	c := newCostApp(t, ctx)
	seedSessions(t, ctx, c.fs, 20, idle, "idle")
	seedSessions(t, ctx, c.fs, 3, endedFinalized, "done")
	seedSessions(t, ctx, c.fs, 3, endedJustNow, "recent")
	want := map[string][]string{
		"closeStaleSessions":   seedSessions(t, ctx, c.fs, 3, staleActivity, "stale"),
		"checkPresence":        seedSessions(t, ctx, c.fs, 3, silentHeartbeat, "silent"),
		"compactSnapshots":     seedSessions(t, ctx, c.fs, 3, newEvents, "due"),
		"cleanupEndedSessions": seedSessions(t, ctx, c.fs, 3, endedUnfinalized, "ended"),
	}
	for _, name := range fanOutSchedules {
		t.Run(name, func(t *testing.T) {
			queued, reads := c.run(t, name)
			require.Equal(t, want[name], queued)
			perSession := int64(1)
			if name == "checkPresence" {
				perSession = 2 // both heartbeats of each session are silent
			}
			require.LessOrEqual(t, reads, 1+perSession*int64(len(want[name])))
		})
	}
}

// TestUsageMeters: the meter the cost tests and the bench read counts as
// Firestore bills, so "reads <= 3" above can fail.
func TestUsageMeters(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	c := newCostApp(t, ctx)
	col := c.fs.Collection("meter")
	step := func(want, wantWrites int64, f func() error) {
		t.Helper()
		r0, w0 := c.usage.Reads(), c.usage.Writes()
		require.NoError(t, f())
		require.Equal(t, want, c.usage.Reads()-r0, "reads")
		require.Equal(t, wantWrites, c.usage.Writes()-w0, "writes")
	}
	step(1, 0, func() error { _, err := col.Documents(ctx).GetAll(); return err }) // an empty query
	step(0, 3, func() error {
		return c.fs.RunTransaction(ctx, func(_ context.Context, tx *firestore.Transaction) error {
			for i := range 3 {
				if err := tx.Set(col.Doc(fmt.Sprint(i)), map[string]any{"n": i}); err != nil {
					return err
				}
			}
			return nil
		})
	})
	step(3, 0, func() error { _, err := col.Documents(ctx).GetAll(); return err })
	step(2, 0, func() error {
		_, err := c.fs.GetAll(ctx, []*firestore.DocumentRef{col.Doc("0"), col.Doc("missing")})
		return err
	})
	step(1, 0, func() error { _, err := col.NewAggregationQuery().WithCount("n").Get(ctx); return err })
}

// maintain hands w to maintainSession as Eventarc delivers a session-work
// message.
func (c *costApp) maintain(t *testing.T, ctx context.Context, w functions.Work) {
	t.Helper()
	data, err := json.Marshal(w)
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{"message": map[string]any{"data": data, "messageId": emulatortest.ID("m")}})
	require.NoError(t, err)
	e := event.New()
	e.SetID(emulatortest.ID("ce"))
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/test")
	require.NoError(t, e.SetData("application/json", body))
	require.NoError(t, c.events["maintainSession"](ctx, e))
}

// TestSchedulesReadTheInjectedClock: a session goes stale when the App's
// clock passes its bound, not when its documents are back-dated, and the
// session is ended at the clock's time (endedAt and updatedAt alike).
func TestSchedulesReadTheInjectedClock(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	var at atomic.Int64
	at.Store(time.Now().UnixNano())
	// Firestore keeps microseconds.
	clock := func() time.Time { return time.Unix(0, at.Load()).UTC().Truncate(time.Microsecond) }
	c := newCostAppAt(t, ctx, clock)
	id := seedSessions(t, ctx, c.fs, 1, idle, "clock")[0]

	queued, _ := c.run(t, "closeStaleSessions")
	require.Empty(t, queued, "fresh by the clock")
	at.Add(int64(config.Default().StaleSessionAfter + time.Minute))
	queued, _ = c.run(t, "closeStaleSessions")
	require.Equal(t, []string{id}, queued, "stale by the clock")

	c.maintain(t, ctx, functions.Work{Task: functions.TaskStale, SessionID: id})
	snap, err := model.SessionRef(c.fs, id).Get(ctx)
	require.NoError(t, err)
	var sess model.Session
	require.NoError(t, snap.DataTo(&sess))
	require.Equal(t, model.StatusInactive, sess.Status)
	require.Equal(t, model.EndReasonStale, sess.EndReason)
	require.NotNil(t, sess.EndedAt)
	require.True(t, sess.EndedAt.Equal(clock()), "endedAt %v, clock %v", sess.EndedAt, clock())
	require.True(t, sess.UpdatedAt.Equal(clock()), "updatedAt %v, clock %v", sess.UpdatedAt, clock())
}

// TestMaintainSessionPresence: the presence work removes a suspect still
// silent, deletes a heartbeat nobody in the session owns, leaves a
// participant whose heartbeat is fresh, and changes nothing when
// delivered again; the next run's query then finds nothing.
func TestMaintainSessionPresence(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	c := newCostApp(t, ctx)
	id := seedSessions(t, ctx, c.fs, 1, idle, "p")[0]
	ref := model.SessionRef(c.fs, id)
	owner, guest, stranger := "u1-"+id, "u2-"+id, "u3-"+id
	old := time.Now().Add(-time.Hour)
	for _, uid := range []string{guest, stranger} {
		_, err := model.PresenceRef(ref, uid).Set(ctx, model.Presence{LastSeenAt: old})
		require.NoError(t, err)
	}
	queued, _ := c.run(t, "checkPresence")
	require.Equal(t, []string{id}, queued)

	w := functions.Work{Task: functions.TaskPresence, SessionID: id, UIDs: []string{guest, stranger}}
	for range 2 {
		c.maintain(t, ctx, w)
		snap, err := ref.Get(ctx)
		require.NoError(t, err)
		var sess model.Session
		require.NoError(t, snap.DataTo(&sess))
		require.Equal(t, []string{owner}, sess.Participants)
		require.Equal(t, model.StatusActive, sess.Status)
		for uid, exists := range map[string]bool{owner: true, guest: false, stranger: false} {
			_, err := model.PresenceRef(ref, uid).Get(ctx)
			require.Equal(t, exists, err == nil, "%s's heartbeat", uid)
		}
		evs, err := model.EventsRef(ref).Documents(ctx).GetAll()
		require.NoError(t, err)
		require.Len(t, evs, 1, "one participant_left, not two")
	}
	queued, _ = c.run(t, "checkPresence")
	require.Empty(t, queued)
}
