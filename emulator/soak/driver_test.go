package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/shared/callable"
	"github.com/pajama-app/sharedexperiences/shared/fanout"
	"github.com/pajama-app/sharedexperiences/shared/snapshots"
)

// The functions' settings for soak runs: short timeouts so presence,
// staleness, the pending sweep and cleanup all happen within a run; low
// rates so bursts meet the limits; a low compaction threshold so the
// experience-events consumer compacts. The model reads the same numbers.
var soakConfig = Config{MaxEventBytes: 16 << 10, SenderEventsPerSecond: 4, SessionEventsPerSecond: 10}

const pendingSweepAge = time.Second

var env *emulatortest.Env

// decisions counts the functions host's "event decided" lines, and those
// decided from the trigger's copy of the event: how much of the soak went
// through that path.
var decisions decisionLog

type decisionLog struct{ decided, fromCopy atomic.Int64 }

// Write takes one line per call, as the runner's line writers and slog
// write them.
func (d *decisionLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"message":"event decided"`)) {
		d.decided.Add(1)
		if bytes.Contains(p, []byte(`"fromCopy":true`)) {
			d.fromCopy.Add(1)
		}
	}
	return len(p), nil
}

func TestMain(m *testing.M) {
	os.Exit(emulatortest.Main(m, emulator.Options{
		Logs: &decisions,
		FunctionsEnv: []string{
			"PRESENCE_GRACE=6s", "STALE_SESSION_AFTER=20s", "PENDING_SWEEP_AGE=" + pendingSweepAge.String(),
			"COMPACTION_THRESHOLD=8", "CLEANUP_GRACE=1s", "SESSIONS_PER_USER_PER_MINUTE=600",
			"MAX_EVENT_BYTES=" + strconv.Itoa(soakConfig.MaxEventBytes),
			"SENDER_EVENTS_PER_SECOND=" + fmt.Sprint(soakConfig.SenderEventsPerSecond),
			"SESSION_EVENTS_PER_SECOND=" + fmt.Sprint(soakConfig.SessionEventsPerSecond),
		},
	}, &env))
}

// published collects every experience-events message from the first run on.
var published struct {
	once sync.Once
	err  error
	mu   sync.Mutex
	msgs []Message
}

func subscribeOnce(ctx context.Context) error {
	published.once.Do(func() {
		client, err := pubsub.NewClient(ctx, env.ProjectID)
		if err != nil {
			published.err = err
			return
		}
		name := fmt.Sprintf("projects/%s/subscriptions/%s", env.ProjectID, emulatortest.ID("soak"))
		_, err = client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name:                  name,
			Topic:                 fmt.Sprintf("projects/%s/topics/%s", env.ProjectID, functions.TopicExperienceEvents),
			EnableMessageOrdering: true,
			AckDeadlineSeconds:    60,
		})
		if err != nil {
			published.err = err
			return
		}
		go func() {
			_ = client.Subscriber(name).Receive(context.Background(), func(_ context.Context, m *pubsub.Message) {
				var em fanout.EventMessage
				_ = json.Unmarshal(m.Data, &em)
				published.mu.Lock()
				published.msgs = append(published.msgs, Message{SessionID: em.SessionID, SequenceNumber: em.SequenceNumber,
					EventID: em.EventID, Type: em.Type, Data: em.Data, Attributes: m.Attributes})
				published.mu.Unlock()
				m.Ack()
			})
		}()
	})
	return published.err
}

// run is one script being played.
type run struct {
	t      testing.TB
	ctx    context.Context
	script Script
	tag    string

	users   []emulatortest.User
	callIDs []string

	mu        sync.Mutex
	current   map[int]string // call -> the latest session known in it
	known     map[string]bool
	writes    map[string][]Write
	joins     []JoinAnswer
	obs       []Observation
	sweeps    []Span
	clientSeq map[string]int64
	crashes   int
	opErrors  map[string]int
	start     emulator.DeliveryStats
}

func toFaults(f FaultSpec) emulator.Faults {
	return emulator.Faults{Concurrency: f.Concurrency, DuplicateRate: f.DuplicateRate, DropRate: f.DropRate,
		ReorderWindow: f.ReorderWindow, MaxLatency: f.MaxLatency, Seed: f.Seed}
}

// Stats are what a run did, for the report.
type Stats struct {
	Ops, Events, Crashes       int
	Duplicated, Dropped        int64
	Attempts, Restarts, Failed int64
	// Decided and FromCopy count the host's decisions, and those taken
	// from the trigger's copy of the event (its log lines). A seed's are
	// approximate (a line can arrive after its seed settled, or be lost
	// with a killed host); the totals are what the soak exercised.
	Decided, FromCopy int64
	// Answers counts the operations' failures by kind and status.
	Answers map[string]int
}

// play runs the script against the stack, lets it settle and returns what
// was observed.
func play(t testing.TB, s Script) (*History, Stats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := subscribeOnce(ctx); err != nil {
		return nil, Stats{}, err
	}
	r := &run{t: t, ctx: ctx, script: s, tag: emulatortest.ID("")[:8],
		current: map[int]string{}, known: map[string]bool{}, writes: map[string][]Write{},
		clientSeq: map[string]int64{}, opErrors: map[string]int{}}
	for range s.Users {
		r.users = append(r.users, env.NewUser(t))
	}
	for c := range s.Calls {
		id := fmt.Sprintf("soak-%s-c%d", r.tag, c)
		r.callIDs = append(r.callIDs, id)
		var members []string
		for _, u := range s.Members[c] {
			members = append(members, r.users[u].UID)
		}
		if _, err := env.Admin.Collection("calls").Doc(id).Set(ctx, map[string]any{"members": members}); err != nil {
			return nil, Stats{}, err
		}
	}
	env.SetFaults(toFaults(s.Faults))
	r.start = env.Deliveries()
	decided, fromCopy := decisions.decided.Load(), decisions.fromCopy.Load()
	for i, round := range s.Rounds {
		var wg sync.WaitGroup
		for j, op := range round {
			wg.Go(func() { r.do(i, j, op) })
		}
		wg.Wait()
	}
	h, err := r.settle()
	end := env.Deliveries()
	st := Stats{Ops: s.Ops(), Crashes: r.crashes, Duplicated: end.Duplicated - r.start.Duplicated,
		Dropped: end.Dropped - r.start.Dropped, Attempts: end.Attempts - r.start.Attempts,
		Restarts: end.HostRestarts - r.start.HostRestarts, Failed: end.Failed - r.start.Failed, Answers: r.opErrors,
		Decided: decisions.decided.Load() - decided, FromCopy: decisions.fromCopy.Load() - fromCopy}
	if h != nil {
		for _, sh := range h.Sessions {
			st.Events += len(sh.Events)
		}
	}
	return h, st, err
}

func (r *run) uid(u int) string { return r.users[u].UID }

func (r *run) session(c int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current[c]
}

func (r *run) learn(c int, id string) {
	if id == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.known[id] = true
	r.current[c] = id
}

func (r *run) opErr(kind Kind, err error) {
	if err == nil {
		return
	}
	key := string(kind)
	var cerr *callable.Error
	if errors.As(err, &cerr) {
		key += ":" + string(cerr.Status)
	} else {
		key += ":other"
	}
	r.mu.Lock()
	r.opErrors[key]++
	r.mu.Unlock()
}

func (r *run) call(name string, u int, data, out any) error {
	return env.Callables.Call(r.ctx, name, r.users[u].IDToken, data, out)
}

// do plays one operation; failures the script may cause (a join of an
// ended session...) are the system's answer, not the test's failure.
func (r *run) do(round, index int, op Op) {
	ctx := r.ctx
	sid := r.session(op.Call)
	switch op.Kind {
	case OpCreate:
		var res functions.SessionResult
		err := r.call("createSession", op.User, map[string]any{"callId": r.callIDs[op.Call], "experienceId": op.Experience}, &res)
		r.learn(op.Call, res.Session.ID)
		var cerr *callable.Error
		if errors.As(err, &cerr) && cerr.Status == callable.AlreadyExists {
			if d, ok := cerr.Details.(map[string]any); ok {
				if s, ok := d["session"].(map[string]any); ok {
					id, _ := s["id"].(string)
					r.learn(op.Call, id)
				}
			}
		}
		r.opErr(op.Kind, err)
	case OpJoin:
		if sid == "" {
			return
		}
		var res functions.JoinSessionResult
		err := r.call("joinSession", op.User, map[string]any{"sessionId": sid}, &res)
		r.opErr(op.Kind, err)
		if err != nil {
			return
		}
		j := JoinAnswer{User: r.uid(op.User), SessionID: sid, LastEventSequenceNumber: res.LastEventSequenceNumber,
			Participants: res.Session.Participants}
		if res.Snapshot != nil {
			j.Snapshot = snapshotDoc(res.Snapshot)
		}
		for _, e := range res.Events {
			j.Events = append(j.Events, JoinEvent{ID: e.ID, Type: e.Type, SenderID: e.SenderID, Data: e.Data, SequenceNumber: e.SequenceNumber})
		}
		r.mu.Lock()
		r.joins = append(r.joins, j)
		r.mu.Unlock()
	case OpLeave, OpEnd:
		if sid == "" {
			return
		}
		name := map[Kind]string{OpLeave: "leaveSession", OpEnd: "endSession"}[op.Kind]
		r.opErr(op.Kind, r.call(name, op.User, map[string]any{"sessionId": sid}, nil))
	case OpTransfer:
		if sid == "" {
			return
		}
		r.opErr(op.Kind, r.call("transferOwnership", op.User, map[string]any{"sessionId": sid, "newOwnerId": r.uid(op.Other)}, nil))
	case OpHeartbeat:
		if sid == "" {
			return
		}
		r.opErr(op.Kind, r.heartbeat(op.User, sid))
	case OpWrite:
		if sid == "" {
			return
		}
		r.write(round, index, op, sid)
	case OpRemove, OpAdd:
		ref := env.Admin.Collection("calls").Doc(r.callIDs[op.Call])
		var v any = firestore.ArrayUnion(r.uid(op.User))
		if op.Kind == OpRemove {
			v = firestore.ArrayRemove(r.uid(op.User))
		}
		_, err := ref.Set(ctx, map[string]any{"members": v}, firestore.MergeAll)
		r.opErr(op.Kind, err)
	case OpEndCall:
		_, err := env.Admin.Collection("calls").Doc(r.callIDs[op.Call]).Set(ctx, map[string]any{"status": "ended"}, firestore.MergeAll)
		r.opErr(op.Kind, err)
	case OpDelCall:
		_, err := env.Admin.Collection("calls").Doc(r.callIDs[op.Call]).Delete(ctx)
		r.opErr(op.Kind, err)
	case OpSchedule:
		r.schedule(op.Schedule)
	case OpKill:
		_, err := env.KillFunctionsHost()
		r.opErr(op.Kind, err)
		if err == nil {
			r.mu.Lock()
			r.crashes++
			r.mu.Unlock()
		}
	case OpFaults:
		env.SetFaults(toFaults(op.Faults))
	case OpPause:
		time.Sleep(op.Pause) // time passing is the point: heartbeats age, buckets refill
	case OpObserve:
		if o, err := r.observe(); err == nil {
			r.mu.Lock()
			r.obs = append(r.obs, o)
			r.mu.Unlock()
		} else {
			r.opErr(op.Kind, err)
		}
	}
}

func snapshotDoc(s *snapshots.Snapshot) *SnapshotDoc {
	return &SnapshotDoc{ExperienceID: s.ExperienceID, ExperienceState: s.ExperienceState, Participants: s.Participants,
		OwnerID: s.OwnerID, LastEventSequenceNumber: s.LastEventSequenceNumber, SchemaVersion: s.SchemaVersion}
}

// schedule runs a scheduled function now, noting the sweeps that ran.
func (r *run) schedule(name string) {
	start := time.Now()
	_, err := env.RunSchedule(r.ctx, name)
	r.opErr(OpSchedule, err)
	if err == nil && name == "sweepPendingEvents" {
		r.mu.Lock()
		r.sweeps = append(r.sweeps, Span{Start: start, End: time.Now()})
		r.mu.Unlock()
	}
}

// experienceOf reads a session's experience (events are shaped for it).
func (r *run) experienceOf(sid string) string {
	snap, err := env.Admin.Collection("experience_sessions").Doc(sid).Get(r.ctx)
	if err != nil {
		return "co_reading"
	}
	x, _ := snap.Data()["experienceId"].(string)
	return x
}

// write writes op.Count events one after the other, each acknowledged
// before the next is sent.
func (r *run) write(round, index int, op Op, sid string) {
	xp := r.experienceOf(sid)
	sender := r.uid(op.User)
	if op.Event == EvNonMember {
		sender = "stranger-" + r.tag
	}
	for n := range op.Count {
		docID := fmt.Sprintf("r%03d-o%d-n%02d-u%d", round, index, n, op.User)
		typ, data := eventFields(op, n, xp)
		r.mu.Lock()
		r.clientSeq[sender]++
		seq := r.clientSeq[sender]
		r.mu.Unlock()
		id := docID
		if op.Event == EvIDMismatch {
			id = docID + "-x"
		}
		fields := map[string]any{"id": id, "type": typ, "senderId": sender, "data": data, "clientSequenceNumber": seq}
		path := "experience_sessions/" + sid + "/events/" + docID
		var err error
		sent := time.Now()
		if op.Admin {
			fields["createdAt"] = firestore.ServerTimestamp
			_, err = env.Admin.Doc(path).Create(r.ctx, fields)
		} else {
			var code int
			var body string
			code, body, err = env.ClientCreate(r.ctx, r.users[op.User].IDToken, path, fields, "createdAt")
			if err == nil && code != http.StatusOK {
				// The rules refused (not a participant any more...): nothing was committed.
				err = fmt.Errorf("rules: %d %.80s", code, body)
			}
		}
		r.opErr(OpWrite, err)
		if err != nil {
			continue
		}
		r.mu.Lock()
		r.writes[sender] = append(r.writes[sender], Write{Path: sid + "/" + docID, Sent: sent, Acked: time.Now()})
		r.mu.Unlock()
	}
}

// heartbeat sets presence/{uid}.lastSeenAt to the commit time as the user,
// through the rules, as the SDKs' setDoc(..., {lastSeenAt: serverTimestamp()}).
func (r *run) heartbeat(u int, sid string) error {
	name := fmt.Sprintf("projects/%s/databases/(default)/documents/experience_sessions/%s/presence/%s", env.ProjectID, sid, r.uid(u))
	body, _ := json.Marshal(map[string]any{"writes": []any{map[string]any{
		"update":           map[string]any{"name": name, "fields": map[string]any{}},
		"updateTransforms": []any{map[string]any{"fieldPath": "lastSeenAt", "setToServerValue": "REQUEST_TIME"}},
	}}})
	url := fmt.Sprintf("http://%s/v1/projects/%s/databases/(default)/documents:commit", env.FirestoreHost, env.ProjectID)
	req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.users[u].IDToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heartbeat: %d %.80s", resp.StatusCode, b)
	}
	return nil
}

// sessionIDs lists every session of the run's calls (also those whose
// create answer a crash lost).
func (r *run) sessionIDs() ([]string, error) {
	var ids []string
	for _, c := range r.callIDs {
		docs, err := env.Admin.Collection("experience_sessions").Where("callId", "==", c).Documents(r.ctx).GetAll()
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			ids = append(ids, d.Ref.ID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// observe reads each session with its events in one read-only
// transaction: a consistent view.
func (r *run) observe() (Observation, error) {
	o := Observation{At: time.Now(), Sessions: map[string]ObsSession{}}
	ids, err := r.sessionIDs()
	if err != nil {
		return o, err
	}
	for _, sid := range ids {
		var os ObsSession
		err := env.Admin.RunTransaction(r.ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			ref := env.Admin.Collection("experience_sessions").Doc(sid)
			snap, err := tx.Get(ref)
			if err != nil {
				return err
			}
			m := snap.Data()
			os = ObsSession{Numbers: map[string]int64{}, Rejected: map[string]string{}, Pending: map[string]time.Time{}}
			os.CallID, _ = m["callId"].(string)
			os.Status, _ = m["status"].(string)
			os.LastEventSequenceNumber, _ = m["lastEventSequenceNumber"].(int64)
			os.OwnerID, _ = m["ownerId"].(string)
			if ps, ok := m["participants"].([]any); ok {
				for _, p := range ps {
					s, _ := p.(string)
					os.Participants = append(os.Participants, s)
				}
			}
			docs, err := tx.Documents(ref.Collection("events")).GetAll()
			if err != nil {
				return err
			}
			for _, d := range docs {
				e := readEvent(d)
				switch e.Status {
				case "accepted":
					os.Numbers[e.DocID] = e.SequenceNumber
				case "rejected":
					os.Rejected[e.DocID] = e.RejectReason
				default:
					os.Pending[e.DocID] = e.CreatedAt
				}
			}
			return nil
		}, firestore.ReadOnly)
		if err != nil {
			return o, err
		}
		o.Sessions[sid] = os
	}
	return o, nil
}

// readEvent reads an event document, noting each client field of the
// wrong type.
func readEvent(d *firestore.DocumentSnapshot) EventDoc {
	m := d.Data()
	e := EventDoc{DocID: d.Ref.ID, CreateTime: d.CreateTime, UpdateTime: d.UpdateTime}
	bad := func(f string) { e.BadFields = append(e.BadFields, f) }
	str := func(f string, dst *string) {
		v, ok := m[f].(string)
		if !ok {
			bad(f)
		}
		*dst = v
		e.Bytes += len(v)
	}
	str("id", &e.ID)
	str("type", &e.Type)
	str("senderId", &e.SenderID)
	var ok bool
	if e.ClientSeq, ok = m["clientSequenceNumber"].(int64); !ok {
		bad("clientSequenceNumber")
	}
	if e.CreatedAt, ok = m["createdAt"].(time.Time); !ok {
		bad("createdAt")
	}
	if raw, ok := m["data"].(map[string]any); ok {
		e.Data = map[string]string{}
		for k, v := range raw {
			s, ok := v.(string)
			if !ok {
				bad("data." + k)
				continue
			}
			e.Data[k] = s
			e.Bytes += len(k) + len(s)
		}
	} else {
		bad("data")
	}
	e.Origin, _ = m["origin"].(string)
	e.Status, _ = m["status"].(string)
	e.SequenceNumber, e.HasNumber = m["sequenceNumber"].(int64)
	e.RejectReason, _ = m["rejectReason"].(string)
	return e
}

// settle waits until every trigger was delivered and the sweep decided
// what was lost, waits for the fan-out, then reads everything back.
func (r *run) settle() (*History, error) {
	ctx := r.ctx
	env.SetFaults(emulator.Faults{Concurrency: 4, Seed: int64(r.script.Seed)})
	deadline := time.Now().Add(3 * time.Minute)
	for {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := env.WaitDeliveries(wctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("deliveries never finished: %w", err)
		}
		time.Sleep(pendingSweepAge + 200*time.Millisecond)
		r.schedule("sweepPendingEvents")
		o, err := r.observe()
		if err != nil {
			return nil, err
		}
		pending := 0
		for _, s := range o.Sessions {
			pending += len(s.Pending)
		}
		if pending == 0 || time.Now().After(deadline) {
			break
		}
	}
	h := &History{Seed: r.script.Seed, Script: r.script, Config: soakConfig, Crashes: r.crashes,
		Calls: map[string]CallDoc{}, Writes: r.writes, Joins: r.joins, Observations: r.obs,
		Sweeps: r.sweeps, SweepAge: pendingSweepAge}
	end := env.Deliveries()
	h.Drops = int(end.Dropped - r.start.Dropped)
	h.CallTriggersLost = end.Dropped > r.start.Dropped || end.Failed > r.start.Failed
	for _, c := range r.callIDs {
		snap, err := env.Admin.Collection("calls").Doc(c).Get(ctx)
		switch {
		case status.Code(err) == codes.NotFound:
			h.Calls[c] = CallDoc{}
		case err != nil:
			return nil, err
		default:
			var cd CallDoc
			cd.Exists = true
			if ms, ok := snap.Data()["members"].([]any); ok {
				for _, m := range ms {
					s, _ := m.(string)
					cd.Members = append(cd.Members, s)
				}
			}
			cd.Status, _ = snap.Data()["status"].(string)
			h.Calls[c] = cd
		}
	}
	ids, err := r.sessionIDs()
	if err != nil {
		return nil, err
	}
	accepted := map[string]int{}
	for _, sid := range ids {
		sh, err := readSession(ctx, sid)
		if err != nil {
			return nil, err
		}
		for _, e := range sh.Events {
			if e.Status == "accepted" {
				accepted[sid]++
			}
		}
		h.Sessions = append(h.Sessions, sh)
	}
	// The fan-out is asynchronous: wait (bounded) until every accepted
	// event was received once.
	fdeadline := time.Now().Add(30 * time.Second)
	for {
		h.Published = publishedFor(ids)
		got := map[string]map[int64]bool{}
		for _, m := range h.Published {
			if got[m.SessionID] == nil {
				got[m.SessionID] = map[int64]bool{}
			}
			got[m.SessionID][m.SequenceNumber] = true
		}
		done := true
		for sid, n := range accepted {
			if len(got[sid]) < n {
				done = false
			}
		}
		if done || time.Now().After(fdeadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // late duplicates, if any, are part of the history
	h.Published = publishedFor(ids)
	return h, nil
}

func publishedFor(ids []string) []Message {
	published.mu.Lock()
	defer published.mu.Unlock()
	var out []Message
	for _, m := range published.msgs {
		if slices.Contains(ids, m.SessionID) {
			out = append(out, m)
		}
	}
	return out
}

func readSession(ctx context.Context, sid string) (SessionHistory, error) {
	sh := SessionHistory{ID: sid}
	ref := env.Admin.Collection("experience_sessions").Doc(sid)
	snap, err := ref.Get(ctx)
	if err != nil {
		return sh, err
	}
	var doc SessionDoc
	if err := snap.DataTo(&doc); err != nil {
		return sh, err
	}
	sh.Session = doc
	docs, err := ref.Collection("events").Documents(ctx).GetAll()
	if err != nil {
		return sh, err
	}
	for _, d := range docs {
		sh.Events = append(sh.Events, readEvent(d))
	}
	snapDoc, err := snapshots.Read(ctx, nil, ref)
	if err != nil {
		return sh, err
	}
	if snapDoc != nil {
		sh.Snapshot = snapshotDoc(snapDoc)
	}
	return sh, nil
}
