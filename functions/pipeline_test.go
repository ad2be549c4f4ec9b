package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/shared/fanout"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

func eventsOf(sessionID string) *firestore.CollectionRef {
	return env.Admin.Collection(model.SessionsCollection).Doc(sessionID).Collection(model.EventsCollection)
}

// adminEvent writes an event as the Admin SDK can: any field, any createdAt.
func adminEvent(t *testing.T, ctx context.Context, sessionID, docID string, fields map[string]any) {
	t.Helper()
	_, err := eventsOf(sessionID).Doc(docID).Create(ctx, fields)
	require.NoError(t, err)
}

func validEvent(id, sender string, clientSeq int64, at time.Time) map[string]any {
	return map[string]any{"id": id, "type": "story_selected", "senderId": sender,
		"data": map[string]any{"storyId": "story-1"}, "clientSequenceNumber": clientSeq, "createdAt": at}
}

// contract is what a rejected event must leave unchanged on its session.
func contract(t *testing.T, ctx context.Context, sessionID string) model.Session {
	t.Helper()
	snap, err := env.Admin.Collection(model.SessionsCollection).Doc(sessionID).Get(ctx)
	require.NoError(t, err)
	var s model.Session
	require.NoError(t, snap.DataTo(&s))
	return s
}

// TestRejectionReasons: each reason, one case each; the rejected event is
// marked, never numbered or deleted, and the session is left as it was.
func TestRejectionReasons(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	owner, stranger := env.NewUser(t), env.NewUser(t)
	now := time.Now()
	with := func(f func(m map[string]any)) map[string]any {
		m := validEvent("", owner.UID, 1, now)
		f(m)
		return m
	}
	tests := []struct {
		reason   string
		inactive bool
		noSess   bool
		fields   map[string]any
	}{
		{"unknown_session", false, true, with(func(m map[string]any) {})},
		{"session_not_active", true, false, with(func(m map[string]any) {})},
		{"sender_not_participant", false, false, with(func(m map[string]any) { m["senderId"] = stranger.UID })},
		{"unknown_type", false, false, with(func(m map[string]any) { m["type"] = "dance" })},
		{"invalid_data", false, false, with(func(m map[string]any) { m["type"] = "page_changed"; m["data"] = map[string]any{"pageIndex": "ten"} })},
		{"invalid_data", false, false, with(func(m map[string]any) { m["data"] = map[string]any{"storyId": "s", "extra": "x"} })},
		{"too_large", false, false, with(func(m map[string]any) { m["data"] = map[string]any{"storyId": strings.Repeat("x", 20000)} })},
		{"id_mismatch", false, false, with(func(m map[string]any) { m["id"] = "someone-else" })},
		{"system_event_reserved", false, false, with(func(m map[string]any) {
			m["type"] = "participant_joined"
			m["data"] = map[string]any{"userId": owner.UID}
		})},
		{"malformed_event", false, false, with(func(m map[string]any) { m["clientSequenceNumber"] = "1" })},
		{"malformed_event", false, false, with(func(m map[string]any) { m["data"] = map[string]any{"storyId": 7} })},
		{"malformed_event", false, false, with(func(m map[string]any) { delete(m, "createdAt") })},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			sessionID := emulatortest.ID("missing")
			if !tt.noSess {
				sessionID = seedSession(t, ctx, emulatortest.ID("call"), owner.UID)
			}
			if tt.inactive {
				_, err := env.Admin.Collection(model.SessionsCollection).Doc(sessionID).Update(ctx,
					[]firestore.Update{{Path: "status", Value: model.StatusInactive}})
				require.NoError(t, err)
			}
			var before model.Session
			if !tt.noSess {
				before = contract(t, ctx, sessionID)
			}
			docID := emulatortest.ID("e")
			fields := map[string]any{}
			for k, v := range tt.fields {
				fields[k] = v
			}
			if fields["id"] == "" {
				fields["id"] = docID
			}
			adminEvent(t, ctx, sessionID, docID, fields)

			got := waitDecided(t, ctx, eventsOf(sessionID).Doc(docID))
			require.Equal(t, "rejected", got["status"])
			require.Equal(t, tt.reason, got["rejectReason"])
			require.NotContains(t, got, "sequenceNumber")
			if !tt.noSess {
				require.Equal(t, before, contract(t, ctx, sessionID), "a rejected event changed the session")
			}
		})
	}
}

// TestRateLimited: a sender's burst (40) is accepted, the excess at the same
// instant is rejected rate_limited, never dropped.
func TestRateLimited(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	u := env.NewUser(t)
	sessionID := seedSession(t, ctx, emulatortest.ID("call"), u.UID)
	at := time.Now()
	var ids []string
	for i := range 45 {
		id := fmt.Sprintf("e%03d", i)
		ids = append(ids, id)
		adminEvent(t, ctx, sessionID, id, validEvent(id, u.UID, int64(i), at))
	}
	counts := map[string]int{}
	for i, id := range ids {
		got := waitDecided(t, ctx, eventsOf(sessionID).Doc(id))
		if got["status"] == "accepted" {
			require.EqualValues(t, i+1, got["sequenceNumber"], "accepted in order")
			counts["accepted"]++
		} else {
			require.Equal(t, "rate_limited", got["rejectReason"])
			counts["rate_limited"]++
		}
	}
	require.Equal(t, map[string]int{"accepted": 40, "rate_limited": 5}, counts)
}

// TestConcurrentWriters: 50 participants write 20 events each at once,
// through the rules, while triggers are delivered 8 at a time: accepted
// numbers are exactly 1..1000, each writer's events keep its write order,
// and the session ends at 1000.
func TestConcurrentWriters(t *testing.T) {
	env.Require(t)
	if testing.Short() {
		t.Skip("load test")
	}
	const writers, perWriter = 50, 20
	ctx := context.Background()
	env.SetFaults(emulator.Faults{Concurrency: 8})
	defer env.SetFaults(emulator.Faults{})

	users := make([]emulatortest.User, writers)
	uids := make([]string, writers)
	for i := range users {
		users[i] = env.NewUser(t)
		uids[i] = users[i].UID
	}
	sessionID := seedSession(t, ctx, emulatortest.ID("call"), uids...)
	before := env.Deliveries()
	start := time.Now()
	require.NoError(t, writeConcurrently(ctx, sessionID, users, perWriter, nil))
	written := time.Since(start)
	emulatortest.Eventually(t, 2*time.Minute, func() (bool, string) {
		s := contract(t, ctx, sessionID)
		return s.LastEventSequenceNumber == writers*perWriter, fmt.Sprintf("at %d of %d", s.LastEventSequenceNumber, writers*perWriter)
	})
	took := time.Since(start)
	after := env.Deliveries()
	t.Logf("%d events from %d writers: written in %s, all sequenced after %s (%.0f events/s end to end); deliveries %d",
		writers*perWriter, writers, written.Round(time.Millisecond), took.Round(time.Millisecond),
		float64(writers*perWriter)/took.Seconds(), after.Succeeded-before.Succeeded)

	docs, err := eventsOf(sessionID).Documents(ctx).GetAll()
	require.NoError(t, err)
	require.Len(t, docs, writers*perWriter)
	seen := map[int64]string{}
	byWriter := map[string][]int64{}
	for _, d := range docs {
		m := d.Data()
		require.Equal(t, "accepted", m["status"], d.Ref.ID)
		n := m["sequenceNumber"].(int64)
		require.NotContains(t, seen, n, "sequence number %d given twice", n)
		seen[n] = d.Ref.ID
		w := d.Ref.ID[:3]
		byWriter[w] = append(byWriter[w], n) // docs come in id order = write order per writer
	}
	for n := int64(1); n <= writers*perWriter; n++ {
		require.Contains(t, seen, n, "gap at %d", n)
	}
	for w, nums := range byWriter {
		require.True(t, slices.IsSorted(nums), "writer %s's events out of write order: %v", w, nums)
	}
}

// writeConcurrently has each user write perWriter page_changed events, one
// after the other, through the rules, all users at once. Event ids are
// "w{writer}-{index}", so id order is each writer's write order. progress,
// if not nil, is called after each write.
func writeConcurrently(ctx context.Context, sessionID string, users []emulatortest.User, perWriter int, progress func(writer, i int)) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(users))
	for w, u := range users {
		wg.Go(func() {
			for i := range perWriter {
				id := fmt.Sprintf("w%02d-%03d", w, i)
				ev := clientEvent(id, u.UID)
				ev["clientSequenceNumber"] = int64(i)
				code, body, err := env.ClientCreate(ctx, u.IDToken, "experience_sessions/"+sessionID+"/events/"+id, ev, "createdAt")
				if err != nil || code != http.StatusOK {
					errs <- fmt.Errorf("writer %d event %d: %v %d %s", w, i, err, code, body)
					return
				}
				if progress != nil {
					progress(w, i)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// subscribe collects experience-events messages of one session.
type received struct {
	mu    sync.Mutex
	msgs  []*pubsub.Message
	topic *pubsub.Publisher
}

// barrier publishes a marker with the session's ordering key and waits
// until the subscription has it. The subscription is ordered, and Pub/Sub
// delivers a key's messages in the order it received them: once the marker
// is in, so is everything published before it, duplicates included. That
// replaces waiting "long enough" for a duplicate that might still come.
func (r *received) barrier(t *testing.T, ctx context.Context, sessionID string) {
	t.Helper()
	id := emulatortest.ID("barrier")
	_, err := r.topic.Publish(ctx, &pubsub.Message{Data: []byte("{}"), OrderingKey: sessionID,
		Attributes: map[string]string{"barrier": id}}).Get(ctx)
	require.NoError(t, err)
	emulatortest.Eventually(t, 30*time.Second, func() (bool, string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, m := range r.msgs {
			if m.Attributes["barrier"] == id {
				return true, ""
			}
		}
		return false, "barrier not received"
	})
}

func (r *received) of(sessionID string) []*pubsub.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*pubsub.Message
	for _, m := range r.msgs {
		if m.Attributes["sessionId"] == sessionID {
			out = append(out, m)
		}
	}
	return out
}

func subscribe(t *testing.T, ctx context.Context) *received {
	t.Helper()
	return subscribeTopic(t, ctx, functions.TopicExperienceEvents)
}

// subscribeTopic collects every message of a topic from now on.
func subscribeTopic(t *testing.T, ctx context.Context, topic string) *received {
	t.Helper()
	client, err := pubsub.NewClient(ctx, env.ProjectID)
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	name := fmt.Sprintf("projects/%s/subscriptions/%s", env.ProjectID, emulatortest.ID("test"))
	_, err = client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:                  name,
		Topic:                 fmt.Sprintf("projects/%s/topics/%s", env.ProjectID, topic),
		EnableMessageOrdering: true,
		AckDeadlineSeconds:    60,
	})
	require.NoError(t, err)
	pub := client.Publisher(topic)
	pub.EnableMessageOrdering = true
	t.Cleanup(pub.Stop)
	r := &received{topic: pub}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = client.Subscriber(name).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
			r.mu.Lock()
			r.msgs = append(r.msgs, m)
			r.mu.Unlock()
			m.Ack()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

type decision struct {
	Status         any
	SequenceNumber any
	RejectReason   any
}

func decisions(t *testing.T, ctx context.Context, sessionID string) map[string]decision {
	t.Helper()
	docs, err := eventsOf(sessionID).Documents(ctx).GetAll()
	require.NoError(t, err)
	out := map[string]decision{}
	for _, d := range docs {
		m := d.Data()
		out[d.Ref.ID] = decision{m["status"], m["sequenceNumber"], m["rejectReason"]}
	}
	return out
}

// TestFaultyDeliveryMatchesCleanDelivery: events written concurrently by
// three participants, some invalid, with every trigger delivered 3 times,
// shuffled, delayed and concurrent, end exactly as the same events
// delivered once, in order, one at a time; and each accepted event is
// published once, in order, with its attributes.
func TestFaultyDeliveryMatchesCleanDelivery(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	sub := subscribe(t, ctx)
	users := []emulatortest.User{env.NewUser(t), env.NewUser(t), env.NewUser(t)}
	uids := []string{users[0].UID, users[1].UID, users[2].UID}
	faulty := seedSession(t, ctx, emulatortest.ID("call"), uids...)

	env.SetFaults(emulator.Faults{Copies: 3, ReorderWindow: 40 * time.Millisecond, MaxLatency: 30 * time.Millisecond, Concurrency: 8, Seed: 42})
	var wg sync.WaitGroup
	for w, u := range users {
		wg.Go(func() {
			for i := range 20 {
				id := fmt.Sprintf("u%d-%02d", w, i)
				ev := map[string]any{"id": id, "type": "page_changed", "senderId": u.UID,
					"data": map[string]string{"pageIndex": strconv.Itoa(i)}, "clientSequenceNumber": int64(i)}
				switch i % 7 {
				case 0:
					ev["type"], ev["data"] = "story_selected", map[string]string{"storyId": fmt.Sprintf("story-%d", w)}
				case 3:
					ev["data"] = map[string]string{"pageIndex": "-1"} // invalid_data
				case 5:
					ev["type"] = "dance" // unknown_type
				}
				code, body, err := env.ClientCreate(ctx, u.IDToken, "experience_sessions/"+faulty+"/events/"+id, ev, "createdAt")
				if err != nil || code != http.StatusOK {
					t.Errorf("write %s: %v %d %s", id, err, code, body)
					return
				}
			}
		})
	}
	wg.Wait()
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, env.WaitDeliveries(waitCtx))
	env.SetFaults(emulator.Faults{})
	got := decisions(t, ctx, faulty)
	require.Len(t, got, 60)

	// The same committed events, replayed into a fresh session one at a
	// time in their commit order, each waiting for its decision.
	clean := seedSession(t, ctx, emulatortest.ID("call"), uids...)
	docs, err := eventsOf(faulty).OrderBy("createdAt", firestore.Asc).OrderBy("clientSequenceNumber", firestore.Asc).
		OrderBy(firestore.DocumentID, firestore.Asc).Documents(ctx).GetAll()
	require.NoError(t, err)
	for _, d := range docs {
		m := d.Data()
		copyOf := map[string]any{}
		for _, k := range []string{"id", "type", "senderId", "data", "clientSequenceNumber", "createdAt"} {
			copyOf[k] = m[k]
		}
		adminEvent(t, ctx, clean, d.Ref.ID, copyOf)
		waitDecided(t, ctx, eventsOf(clean).Doc(d.Ref.ID))
	}
	want := decisions(t, ctx, clean)
	require.Equal(t, want, got, "faulty delivery decided differently from clean delivery")

	f, c := contract(t, ctx, faulty), contract(t, ctx, clean)
	require.Equal(t, c.LastEventSequenceNumber, f.LastEventSequenceNumber)
	require.Equal(t, c.LastEventID, f.LastEventID)
	require.Equal(t, c.Participants, f.Participants)
	require.Equal(t, c.Status, f.Status)

	// Fan-out: every accepted event of the faulty session once, in order.
	accepted := f.LastEventSequenceNumber
	require.Positive(t, accepted)
	emulatortest.Eventually(t, 30*time.Second, func() (bool, string) {
		n := int64(len(sub.of(faulty)))
		return n >= accepted, fmt.Sprintf("%d of %d published events received", n, accepted)
	})
	require.NoError(t, env.WaitDeliveries(waitCtx)) // no trigger left to publish
	sub.barrier(t, ctx, faulty)
	msgs := sub.of(faulty)
	require.Len(t, msgs, int(accepted), "each accepted event published exactly once")
	for i, m := range msgs {
		require.Equal(t, strconv.Itoa(i+1), m.Attributes["sequenceNumber"], "published in sequence order")
		require.Equal(t, "co_reading", m.Attributes["experienceId"])
		require.Equal(t, faulty, m.OrderingKey)
		var body fanout.EventMessage
		require.NoError(t, json.Unmarshal(m.Data, &body))
		require.EqualValues(t, i+1, body.SequenceNumber)
		require.Equal(t, body.Type, m.Attributes["type"])
		require.Equal(t, want[body.EventID].SequenceNumber, body.SequenceNumber)
	}
	t.Logf("faulty deliveries: %+v", env.Deliveries())
}

// TestSweepPending: triggers lost for good (the runner acknowledges them
// and never delivers) leave their events pending until the scheduled
// sweep, which numbers them in order.
func TestSweepPending(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	u := env.NewUser(t)
	sessionID := seedSession(t, ctx, emulatortest.ID("call"), u.UID)
	env.SetFaults(emulator.Faults{DropRate: 1})
	defer env.SetFaults(emulator.Faults{})
	at := time.Now()
	const n = 5
	for i := range n {
		id := fmt.Sprintf("lost%d", i)
		adminEvent(t, ctx, sessionID, id, validEvent(id, u.UID, int64(i), at.Add(time.Duration(i)*time.Millisecond)))
	}
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, env.WaitDeliveries(waitCtx))
	for i := range n {
		snap, err := eventsOf(sessionID).Doc(fmt.Sprintf("lost%d", i)).Get(ctx)
		require.NoError(t, err)
		require.NotContains(t, snap.Data(), "status", "a dropped trigger was delivered")
	}
	env.SetFaults(emulator.Faults{})
	body, err := env.RunSchedule(ctx, "sweepPendingEvents")
	require.NoError(t, err, "%s", body)
	for i := range n {
		snap, err := eventsOf(sessionID).Doc(fmt.Sprintf("lost%d", i)).Get(ctx)
		require.NoError(t, err)
		require.Equal(t, "accepted", snap.Data()["status"], "%s", body)
		require.EqualValues(t, i+1, snap.Data()["sequenceNumber"])
	}
}
