package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/snapshots"
)

func readSnapshot(t testing.TB, ctx context.Context, sessionID string) *snapshots.Snapshot {
	t.Helper()
	s, err := snapshots.Read(ctx, nil, env.Admin.Collection(model.SessionsCollection).Doc(sessionID))
	require.NoError(t, err)
	return s
}

// writeSpaced writes n page_changed events for sender with createdAt spaced
// 60 ms apart from now on, within the sender's rate limit, and waits until
// the pipeline has accepted them all. (Clients cannot choose createdAt; the
// admin writes them so 10,000 events need not take 10 minutes.) They become
// visible in createdAt order, as a client's writes do (createdAt is their
// commit time): one commit of up to 500 after another. A BulkWriter's
// batches commit concurrently, and a run that saw a later-dated batch first
// would rightly number an earlier one after it.
//
// The first createdAt is ahead of the clock by a lead that grows with n: a
// run holds an undecided event stamped within Settle of its start, and
// every event after it (see events.Settle), so a clock that overtook the
// pipeline would let through one event per 60 ms, 10,000 in 10 minutes.
// The pipeline only has to start ahead: it decides far faster than the
// stamps advance. A fixed second of lead lost that race on a busy machine
// (TestTenThousandEvents: 3,232 of 9,999 decided in 3 minutes with three
// CPU burners beside it).
func writeSpaced(t *testing.T, ctx context.Context, sessionID, sender string, n int) {
	t.Helper()
	want := contract(t, ctx, sessionID).LastEventSequenceNumber + int64(n)
	base := time.Now().Add(time.Second + time.Duration(n)*3*time.Millisecond)
	for from := 0; from < n; from += 500 {
		err := env.Admin.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			for i := from; i < min(from+500, n); i++ {
				id := fmt.Sprintf("e%06d", i)
				ev := validEvent(id, sender, int64(i), base.Add(time.Duration(i)*60*time.Millisecond))
				ev["type"], ev["data"] = "page_changed", map[string]any{"pageIndex": fmt.Sprint(i % 10000)}
				if err := tx.Create(eventsOf(sessionID).Doc(id), ev); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(t, err)
	}
	emulatortest.Eventually(t, 3*time.Minute, func() (bool, string) {
		got := contract(t, ctx, sessionID).LastEventSequenceNumber
		return got >= want, fmt.Sprintf("sequenced %d of %d", got, want)
	})
}

func join(t *testing.T, u emulatortest.User, sessionID string) (functions.JoinSessionResult, time.Duration) {
	t.Helper()
	start := time.Now()
	res, err := call[functions.JoinSessionResult](t, u, "joinSession", map[string]any{"sessionId": sessionID})
	require.NoError(t, err)
	return res, time.Since(start)
}

// TestTenThousandEvents: a session with 10,000 accepted events is
// compacted by the scheduled function; joinSession then returns the
// snapshot and no event before it.
func TestTenThousandEvents(t *testing.T) {
	env.Require(t)
	if testing.Short() {
		t.Skip("10,000 events")
	}
	ctx := context.Background()
	owner := env.NewUser(t)
	callID := seedCall(t, ctx, owner.UID)
	sid := startSession(t, callID, owner, owner).ID
	adminEvent(t, ctx, sid, "story", validEvent("story", owner.UID, -1, time.Now()))
	writeSpaced(t, ctx, sid, owner.UID, 9998)
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, env.WaitDeliveries(waitCtx))

	before, beforeTook := join(t, owner, sid)
	require.Nil(t, before.Snapshot)
	require.Len(t, before.Events, 10000)

	start := time.Now()
	require.Contains(t, runQueued(t, ctx, "compactSnapshots"), sid)
	emulatortest.Eventually(t, time.Minute, func() (bool, string) {
		s := readSnapshot(t, ctx, sid)
		return s != nil && s.LastEventSequenceNumber == 10000, fmt.Sprintf("snapshot %+v", s)
	})
	compactTook := time.Since(start)

	after, afterTook := join(t, owner, sid)
	require.NotNil(t, after.Snapshot)
	require.EqualValues(t, 10000, after.Snapshot.LastEventSequenceNumber)
	require.Empty(t, after.Events)
	require.EqualValues(t, 10000, after.LastEventSequenceNumber)
	var state map[string]any
	raw, err := json.Marshal(after.Snapshot)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &state))
	require.Equal(t, map[string]any{"selectedStoryId": "story-1", "currentPageIndex": float64(9997 % 10000), "isFullScreenMode": true},
		state["experienceState"])
	require.Equal(t, []any{owner.UID}, state["participants"])
	t.Logf("10,000 events: join %s before compaction, compaction (scheduled run) %s, join %s after",
		beforeTook.Round(time.Millisecond), compactTook.Round(time.Millisecond), afterTook.Round(time.Millisecond))
}

// TestConsumerCompacts: a message on experience-events whose sequence
// number is a multiple of COMPACTION_THRESHOLD makes the compactOnEvents
// consumer, fed by the Pub/Sub emulator, compact that session.
func TestConsumerCompacts(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	u := env.NewUser(t)
	sid := seedSession(t, ctx, emulatortest.ID("call"), u.UID)
	writeSpaced(t, ctx, sid, u.UID, 30)
	require.Nil(t, readSnapshot(t, ctx, sid))

	client, err := pubsub.NewClient(ctx, env.ProjectID)
	require.NoError(t, err)
	defer client.Close()
	pub := client.Publisher(functions.TopicExperienceEvents)
	defer pub.Stop()
	_, err = pub.Publish(ctx, &pubsub.Message{Data: []byte("{}"), Attributes: map[string]string{
		"sessionId": sid, "sequenceNumber": "1000000", "type": "page_changed", "experienceId": "co_reading"}}).Get(ctx)
	require.NoError(t, err)
	emulatortest.Eventually(t, 20*time.Second, func() (bool, string) {
		s := readSnapshot(t, ctx, sid)
		return s != nil && s.LastEventSequenceNumber == 30, fmt.Sprintf("snapshot %+v", s)
	})
}

// TestConsumerFedAsEventarc: compactOnEvents's subscription is like the
// one Eventarc makes for a trigger, without message ordering, so a
// session's messages (published with its ordering key, as the fan-out does)
// reach the function concurrently, as deployed: none waits for the one
// before it. (MaxKeyInFlight is the most so far in this package; on an
// ordered subscription it never passes 1.)
func TestConsumerFedAsEventarc(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	client, err := pubsub.NewClient(ctx, env.ProjectID)
	require.NoError(t, err)
	defer client.Close()
	sub, err := client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{
		Subscription: env.Subscription("compactOnEvents")})
	require.NoError(t, err)
	require.False(t, sub.EnableMessageOrdering, "Eventarc's subscriptions deliver without ordering")

	pub := client.Publisher(functions.TopicExperienceEvents)
	pub.EnableMessageOrdering = true
	defer pub.Stop()
	sid := emulatortest.ID("s")
	const n = 200
	var results []*pubsub.PublishResult
	for i := range n {
		// Not a multiple of the threshold: each is answered at once.
		results = append(results, pub.Publish(ctx, &pubsub.Message{Data: []byte("{}"), OrderingKey: sid, Attributes: map[string]string{
			"sessionId": sid, "sequenceNumber": fmt.Sprint(i + 1), "type": "page_changed", "experienceId": "co_reading"}}))
	}
	mine := map[string]bool{}
	for _, r := range results {
		id, err := r.Get(ctx)
		require.NoError(t, err)
		mine[id] = true
	}
	// Recent keeps the last 1,000 deliveries: acknowledgements are gathered
	// over the polls, in case other tests' messages push ours out.
	acked := map[string]bool{}
	emulatortest.Eventually(t, 30*time.Second, func() (bool, string) {
		for _, d := range env.PubSubDeliveries()["compactOnEvents"].Recent {
			if mine[d.MessageID] && d.Acked {
				acked[d.MessageID] = true
			}
		}
		return len(acked) == n, fmt.Sprintf("%d of %d acknowledged", len(acked), n)
	})
	st := env.PubSubDeliveries()["compactOnEvents"]
	st.Recent = nil
	require.Greater(t, st.MaxKeyInFlight, int64(1), "one session's messages were delivered one after another (%+v)", st)
}

// TestPresence: a participant silent past the grace period is removed;
// the owner's silence hands ownership to the longest-present participant;
// nobody left present ends the session. Heartbeats are written with
// chosen times, and the scheduled function run on demand: no sleeping.
func TestPresence(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	a, b, c := env.NewUser(t), env.NewUser(t), env.NewUser(t)
	callID := seedCall(t, ctx, a.UID, b.UID, c.UID)
	sid := startSession(t, callID, a, b, c).ID
	presence := env.Admin.Collection(model.SessionsCollection).Doc(sid).Collection(model.PresenceCollection)
	heartbeat := func(u emulatortest.User, at time.Time) {
		_, err := presence.Doc(u.UID).Set(ctx, map[string]any{"lastSeenAt": at})
		require.NoError(t, err)
	}
	// A participant heartbeats through the rules, as an app does.
	code, body, err := env.ClientCreate(ctx, b.IDToken, "experience_sessions/"+sid+"/presence/"+b.UID+"-x", map[string]any{}, "lastSeenAt")
	require.NoError(t, err)
	require.Equal(t, 403, code, "only your own presence: %s", body)

	heartbeat(a, time.Now().Add(-time.Hour)) // the owner went silent
	require.Contains(t, runQueued(t, ctx, "checkPresence"), sid)
	emulatortest.Eventually(t, 20*time.Second, func() (bool, string) {
		s := contract(t, ctx, sid)
		return len(s.Participants) == 2, fmt.Sprintf("participants %v", s.Participants)
	})
	s := contract(t, ctx, sid)
	require.Equal(t, []string{b.UID, c.UID}, s.Participants)
	require.Equal(t, b.UID, s.OwnerID, "the longest-present participant owns it now")
	require.Equal(t, model.StatusActive, s.Status)

	heartbeat(b, time.Now().Add(-time.Hour))
	heartbeat(c, time.Now().Add(-time.Hour))
	require.Contains(t, runQueued(t, ctx, "checkPresence"), sid)
	emulatortest.Eventually(t, 20*time.Second, func() (bool, string) {
		s := contract(t, ctx, sid)
		return s.Status == model.StatusInactive, "status " + s.Status
	})
	s = contract(t, ctx, sid)
	require.Equal(t, model.StatusInactive, s.Status)
	require.Equal(t, model.EndReasonAbsent, s.EndReason)

	require.Equal(t, []string{
		"participant_joined", "participant_joined", "participant_joined",
		"participant_left", "owner_changed", // a silent: b takes over
		"participant_left",                     // c goes first,
		"participant_left", "experience_ended", // then b, the owner and the last one
	}, types(sequencedEvents(t, ctx, sid, 8)))
}

// TestEndedSessionCleanup: an ended session carries expireAt for the TTL
// policy; the cleanup stamps its events and snapshot with it and deletes
// what TTL does not reach (presence, the server's documents).
func TestEndedSessionCleanup(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	owner := env.NewUser(t)
	callID := seedCall(t, ctx, owner.UID)
	sid := startSession(t, callID, owner).ID
	writeSpaced(t, ctx, sid, owner.UID, 5)
	require.Contains(t, runQueued(t, ctx, "compactSnapshots"), sid)
	emulatortest.Eventually(t, 20*time.Second, func() (bool, string) {
		s := readSnapshot(t, ctx, sid)
		return s != nil, "no snapshot yet"
	})
	ended, err := call[functions.SessionResult](t, owner, "endSession", map[string]any{"sessionId": sid})
	require.NoError(t, err)
	sequencedEvents(t, ctx, sid, 7)

	require.Contains(t, runQueued(t, ctx, "cleanupEndedSessions"), sid)
	sessRef := env.Admin.Collection(model.SessionsCollection).Doc(sid)
	emulatortest.Eventually(t, 20*time.Second, func() (bool, string) {
		snap, err := sessRef.Get(ctx)
		require.NoError(t, err)
		return snap.Data()["finalized"] == true, "not finalized yet"
	})
	snap, err := sessRef.Get(ctx)
	require.NoError(t, err)
	expireAt, ok := snap.Data()["expireAt"].(time.Time)
	require.True(t, ok)
	require.True(t, expireAt.After(*ended.Session.EndedAt))
	require.Equal(t, true, snap.Data()["finalized"])
	for _, col := range []string{model.EventsCollection, model.SnapshotsCollection, model.ServerCollection} {
		docs, err := sessRef.Collection(col).Documents(ctx).GetAll()
		require.NoError(t, err)
		require.NotEmpty(t, docs, col)
		for _, d := range docs {
			require.Equal(t, expireAt, d.Data()["expireAt"], "%s/%s", col, d.Ref.ID)
		}
	}
	for _, col := range []string{model.PresenceCollection} {
		docs, err := sessRef.Collection(col).Documents(ctx).GetAll()
		require.NoError(t, err)
		require.Empty(t, docs, col)
	}
}

// TestOversizedStateDoesNotStopCompaction: a session whose accepted events
// fold to a state over its experience's bound (accepted before the bound
// existed) fails alone: the scheduled run goes on to the sessions after it
// and lists the failure, and the Pub/Sub consumer acknowledges it instead
// of having it redelivered for ever.
func TestOversizedStateDoesNotStopCompaction(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	owner := env.NewUser(t)
	callID := seedCall(t, ctx, owner.UID)
	run := emulatortest.ID("")
	seed := func(id, experienceID string, evs []map[string]any) {
		now := time.Now()
		// As the sequencer leaves a session whose accepted events passed
		// its snapshot: marked compactionDue.
		_, err := env.Admin.Collection(model.SessionsCollection).Doc(id).Set(ctx, model.SessionDocument{Session: model.Session{
			ID: id, CallID: callID, ExperienceID: experienceID, OwnerID: owner.UID, Status: model.StatusActive,
			Participants: []string{owner.UID}, LastEventSequenceNumber: int64(len(evs)),
			CreatedAt: now, UpdatedAt: now, LastActivityAt: now,
		}, CompactionDue: true})
		require.NoError(t, err)
		for i, e := range evs {
			docID := fmt.Sprintf("e%d", i+1)
			e["id"], e["senderId"], e["clientSequenceNumber"], e["createdAt"] = docID, owner.UID, int64(i), now
			e["status"], e["sequenceNumber"], e["sequencedAt"] = "accepted", int64(i+1), now
			adminEvent(t, ctx, id, docID, e)
		}
	}
	big := strings.TrimSuffix(strings.Repeat("0.5,0.5;", 25000), ";") // ~200 KB of points
	var strokes []map[string]any
	for i := range 3 {
		strokes = append(strokes, map[string]any{"type": "stroke_added",
			"data": map[string]any{"strokeId": fmt.Sprint("s", i), "color": "#000000", "points": big}})
	}
	oversized, fine := "a"+run, "b"+run
	seed(oversized, "co_drawing", strokes)
	seed(fine, "co_reading", []map[string]any{{"type": "story_selected", "data": map[string]any{"storyId": "story-1"}}})

	queued := runQueued(t, ctx, "compactSnapshots")
	require.Contains(t, queued, oversized)
	require.Contains(t, queued, fine)
	// Each session is its own message: the oversized one fails alone (its
	// message acknowledged with an ERROR log, see compactSession).
	emulatortest.Eventually(t, 20*time.Second, func() (bool, string) {
		s := readSnapshot(t, ctx, fine)
		return s != nil && s.LastEventSequenceNumber == 1, fmt.Sprintf("the session beside the failing one: snapshot %+v", s)
	})
	_, err := env.Admin.Collection(model.SessionsCollection).Doc(oversized).Collection("state_snapshots").Doc("latest").Get(ctx)
	require.Error(t, err, "an oversized snapshot was written")

	// The consumer acknowledges what no redelivery can fix: acked at the
	// first delivery, never refused.
	client, err := pubsub.NewClient(ctx, env.ProjectID)
	require.NoError(t, err)
	defer client.Close()
	pub := client.Publisher(functions.TopicExperienceEvents)
	defer pub.Stop()
	msgID, err := pub.Publish(ctx, &pubsub.Message{Data: []byte("{}"), Attributes: map[string]string{
		"sessionId": oversized, "sequenceNumber": "1000000", "type": "stroke_added", "experienceId": "co_drawing"}}).Get(ctx)
	require.NoError(t, err)
	var mine []emulator.PubSubDelivery
	emulatortest.Eventually(t, 30*time.Second, func() (bool, string) {
		mine = nil
		for _, d := range env.PubSubDeliveries()["compactOnEvents"].Recent {
			if d.MessageID == msgID {
				mine = append(mine, d)
			}
		}
		return len(mine) > 0, "message not delivered yet"
	})
	require.Equal(t, []emulator.PubSubDelivery{{MessageID: msgID, Attempt: 1, Acked: true}}, mine,
		"the consumer refused the message, so Pub/Sub would redeliver it for good")
}
