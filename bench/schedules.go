package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/functions"
	sxconfig "github.com/pajama-app/sharedexperiences/shared/config"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// SchedulesResult is the scheduled functions' cost at each number of
// active sessions (scenario 10).
type SchedulesResult struct {
	Fraction float64        `json:"needWorkFraction"`
	Rows     []ScheduleRow  `json:"rows"`
	Seed     map[int]string `json:"seedSeconds"`
}

// ScheduleRow is one scheduled function run once on demand, then its
// queued session-work messages handled: Firestore reads and writes of the
// run alone and in all (the run and every message it queued).
type ScheduleRow struct {
	Function   string  `json:"function"`
	Sessions   int     `json:"activeSessions"`
	NeedWork   int     `json:"needWork"`
	Queued     int     `json:"queued"`
	RunReads   int64   `json:"runReads"`
	TotalReads int64   `json:"totalReads"`
	Writes     int64   `json:"totalWrites"`
	RunMs      float64 `json:"runMs"`
	TotalMs    float64 `json:"totalMs"`
}

// runSchedules seeds, for each size, that many active sessions of two
// participants in a project of its own (admin BulkWriter), of which
// fraction need work: half have an accepted event past their snapshot
// (compactionDue), half a silent heartbeat. Then each scheduled function
// runs once, in this process on a metered Firestore client, and the
// session-work messages it published are pulled from the Pub/Sub emulator
// and handed to maintainSession as Eventarc would, until all are done.
func runSchedules(ctx context.Context, sizes []int, fraction float64, prog *progress) (SchedulesResult, error) {
	res := SchedulesResult{Fraction: fraction, Seed: map[int]string{}}
	for _, n := range sizes {
		prog.phase(fmt.Sprintf("scenario 10: seeding %d active sessions", n), 0)
		rows, seed, err := runScheduleSize(ctx, n, fraction)
		if err != nil {
			return res, err
		}
		res.Seed[n] = fmt.Sprintf("%.1f", seed.Seconds())
		res.Rows = append(res.Rows, rows...)
		for _, r := range rows {
			prog.printf("%d sessions, %s: %d queued, %d reads in the run, %d in all, %d writes, %.0f ms", n, r.Function, r.Queued, r.RunReads, r.TotalReads, r.Writes, r.TotalMs)
		}
	}
	return res, nil
}

func runScheduleSize(ctx context.Context, n int, fraction float64) ([]ScheduleRow, time.Duration, error) {
	project := fmt.Sprintf("demo-bench-sched-%d-%d", n, time.Now().UnixNano()%1e9)
	usage := &emulator.Usage{}
	fs, err := usage.Firestore(ctx, project)
	if err != nil {
		return nil, 0, err
	}
	defer fs.Close()
	ps, err := pubsub.NewClient(ctx, project)
	if err != nil {
		return nil, 0, err
	}
	defer ps.Close()
	topic := "projects/" + project + "/topics/" + functions.TopicSessionWork
	sub := "projects/" + project + "/subscriptions/bench-work"
	if _, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		return nil, 0, fmt.Errorf("create topic: %w", err)
	}
	if _, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 60}); err != nil {
		return nil, 0, fmt.Errorf("create subscription: %w", err)
	}
	cfg := sxconfig.Default()
	cfg.ProjectID = project
	app := functions.New(cfg, functions.Deps{Firestore: fs, Work: functions.NewPubSubWork(ps, functions.TopicSessionWork),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	schedules := map[string]http.HandlerFunc{}
	var handle func(context.Context, event.Event) error
	functions.Register(app, functions.Registrar{
		HTTP: func(name string, fn func(http.ResponseWriter, *http.Request)) { schedules[name] = fn },
		CloudEvent: func(name string, fn func(context.Context, event.Event) error) {
			if name == "maintainSession" {
				handle = fn
			}
		},
	})

	start := time.Now()
	need, err := seedSchedules(ctx, fs, n, fraction)
	if err != nil {
		return nil, 0, err
	}
	seed := time.Since(start)

	var rows []ScheduleRow
	for _, name := range []string{"closeStaleSessions", "checkPresence", "compactSnapshots", "cleanupEndedSessions", "sweepPendingEvents"} {
		r0, w0 := usage.Reads(), usage.Writes()
		t0 := time.Now()
		rec := httptest.NewRecorder()
		schedules[name](rec, httptest.NewRequest(http.MethodPost, "/"+name, nil).WithContext(ctx))
		if rec.Code != http.StatusOK {
			return nil, 0, fmt.Errorf("%s: %d %s", name, rec.Code, strings.TrimSpace(rec.Body.String()))
		}
		row := ScheduleRow{Function: name, Sessions: n, NeedWork: need[name], RunReads: usage.Reads() - r0, RunMs: ms(time.Since(t0))}
		var q functions.Queued
		if name != "sweepPendingEvents" {
			if err := json.Unmarshal(rec.Body.Bytes(), &q); err != nil {
				return nil, 0, fmt.Errorf("%s: %w", name, err)
			}
		}
		row.Queued = len(q.Sessions)
		if err := drainWork(ctx, ps, sub, handle, row.Queued); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", name, err)
		}
		row.TotalReads, row.Writes, row.TotalMs = usage.Reads()-r0, usage.Writes()-w0, ms(time.Since(t0))
		if row.Queued != row.NeedWork {
			return nil, 0, fmt.Errorf("%s queued %d sessions, %d need its work", name, row.Queued, row.NeedWork)
		}
		rows = append(rows, row)
	}
	return rows, seed, nil
}

// drainWork hands want session-work messages to handle, acknowledging
// each it handled, a few at once as Eventarc would.
func drainWork(ctx context.Context, ps *pubsub.Client, sub string, handle func(context.Context, event.Event) error, want int) error {
	if want == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	done := 0
	var failed error
	s := ps.Subscriber(sub)
	s.ReceiveSettings.NumGoroutines = 1
	s.ReceiveSettings.MaxOutstandingMessages = 8
	err := s.Receive(rctx, func(ctx context.Context, m *pubsub.Message) {
		body, _ := json.Marshal(map[string]any{"message": map[string]any{"data": m.Data, "attributes": m.Attributes, "messageId": m.ID}})
		e := event.New()
		e.SetID(m.ID)
		e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		e.SetSource("//pubsub.googleapis.com/" + sub)
		_ = e.SetData("application/json", body)
		if err := handle(ctx, e); err != nil {
			m.Nack()
			mu.Lock()
			failed = err
			mu.Unlock()
			return
		}
		m.Ack()
		mu.Lock()
		done++
		if done >= want {
			cancel()
		}
		mu.Unlock()
	})
	if done < want {
		return fmt.Errorf("handled %d of %d session-work messages (last failure: %v, receive: %v)", done, want, failed, err)
	}
	return nil
}

// seedSchedules writes n active sessions of two participants, with fresh
// heartbeats, of which fraction need work, and returns how many each
// scheduled function should find.
func seedSchedules(ctx context.Context, fs *firestore.Client, n int, fraction float64) (map[string]int, error) {
	now := time.Now().UTC()
	needing := int(float64(n)*fraction + 0.5)
	bw := fs.BulkWriter(ctx)
	var jobs []*firestore.BulkWriterJob
	add := func(j *firestore.BulkWriterJob, err error) error {
		jobs = append(jobs, j)
		return err
	}
	for i := range n {
		id := fmt.Sprintf("s%06d", i)
		people := []string{"a" + id, "b" + id}
		doc := model.NewSessionDocument(model.Session{ID: id, CallID: "c" + id, ExperienceID: "co_reading", OwnerID: people[0],
			Status: model.StatusActive, Participants: people, CreatedAt: now, UpdatedAt: now, LastActivityAt: now})
		seen := now
		ref := model.SessionRef(fs, id)
		switch {
		case i < needing/2: // a participant silent
			seen = now.Add(-time.Hour)
		case i < needing: // an accepted event past the snapshot
			doc.CompactionDue, doc.LastEventSequenceNumber, doc.LastEventID = true, 1, "e1"
			ev := model.Event{ID: "e1", Type: "story_selected", SenderID: people[0], Data: map[string]string{"storyId": "story-1"}}.ClientDocument()
			ev[model.FieldCreatedAt] = now
			ev[model.FieldStatus], ev[model.FieldSequenceNumber], ev[model.FieldSequencedAt] = model.EventAccepted, int64(1), now
			if err := add(bw.Set(model.EventsRef(ref).Doc("e1"), ev)); err != nil {
				return nil, err
			}
		}
		if err := add(bw.Set(ref, doc)); err != nil {
			return nil, err
		}
		if err := add(bw.Set(model.PresenceRef(ref, people[0]), model.Presence{LastSeenAt: seen})); err != nil {
			return nil, err
		}
		if err := add(bw.Set(model.PresenceRef(ref, people[1]), model.Presence{LastSeenAt: now})); err != nil {
			return nil, err
		}
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	return map[string]int{"checkPresence": needing / 2, "compactSnapshots": needing - needing/2}, nil
}

// scheduleGoals: reads per run (the run and its messages) at most 3 per
// session needing work plus a constant, and flat in active sessions.
func scheduleGoals(s *SchedulesResult) []Goal {
	var out []Goal
	bySize := map[string]map[int]ScheduleRow{}
	sizes := []int{}
	for _, r := range s.Rows {
		if bySize[r.Function] == nil {
			bySize[r.Function] = map[int]ScheduleRow{}
		}
		bySize[r.Function][r.Sessions] = r
		if len(sizes) == 0 || sizes[len(sizes)-1] != r.Sessions {
			sizes = append(sizes, r.Sessions)
		}
	}
	const constant = 5
	for _, name := range []string{"closeStaleSessions", "checkPresence", "compactSnapshots", "cleanupEndedSessions", "sweepPendingEvents"} {
		rows := bySize[name]
		for _, n := range sizes {
			r, ok := rows[n]
			if !ok {
				continue
			}
			g := Goal{Goal: fmt.Sprintf("scenario 10: %s, %d active sessions, %d need work", name, n, r.NeedWork),
				Target:   fmt.Sprintf("reads <= 3 x %d + %d", r.NeedWork, constant),
				Measured: fmt.Sprintf("%d reads (%d in the run), %d writes, %.0f ms", r.TotalReads, r.RunReads, r.Writes, r.TotalMs),
				Pass:     r.TotalReads <= int64(3*r.NeedWork+constant)}
			if !g.Pass && name == "compactSnapshots" {
				g.Note = "Compaction reads, per session that needs it, its row in the run's query (which travels in the message, " +
					"so the session is not read again), the snapshot (replaced by compare and set, not read again) and the " +
					"events it folds: 2 reads plus the new events, which are the work itself. A session older than " +
					"EVENT_RETENTION also runs the two prune queries."
			}
			out = append(out, g)
		}
		if len(sizes) >= 2 {
			small, large := rows[sizes[0]], rows[sizes[len(sizes)-1]]
			perNeed := func(r ScheduleRow) float64 { return float64(r.TotalReads) / float64(max(1, r.NeedWork)) }
			flat := perNeed(large) / perNeed(small)
			if small.NeedWork == 0 {
				flat = float64(large.TotalReads) / float64(max(1, small.TotalReads))
			}
			out = append(out, Goal{Goal: fmt.Sprintf("scenario 10: %s, flat in active sessions", name),
				Target:   fmt.Sprintf("reads per session needing work, %d vs %d sessions, within 1.2x", large.Sessions, small.Sessions),
				Measured: fmt.Sprintf("%.2fx (%d vs %d reads)", flat, large.TotalReads, small.TotalReads),
				Pass:     flat <= 1.2})
		}
	}
	return out
}

func schedulesMarkdown(s *SchedulesResult, p func(string, ...any)) {
	p("")
	p("## Scenario 10: the scheduled functions at 1,000 and 10,000 active sessions")
	p("")
	p("Active sessions of two participants seeded with the admin BulkWriter in a project of their own; %.0f%% need work "+
		"(half a silent heartbeat, half an accepted event past the snapshot). Each scheduled function runs once in the bench's "+
		"process on a Firestore client metered as Firestore bills (emulator.Usage), then every session-work message it "+
		"queued is pulled from the Pub/Sub emulator and handed to maintainSession. Reads and writes are the run's and its "+
		"messages' together; \"run reads\" the scheduled run's alone.", s.Fraction*100)
	p("")
	p("| function | active sessions | need work | queued | run reads | reads in all | writes | run ms | in all ms |")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range s.Rows {
		p("| %s | %d | %d | %d | %d | %d | %d | %.0f | %.0f |", r.Function, r.Sessions, r.NeedWork, r.Queued, r.RunReads, r.TotalReads, r.Writes, r.RunMs, r.TotalMs)
	}
}
