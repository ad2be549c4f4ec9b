package functions_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	"github.com/pajama-app/sharedexperiences/shared/callable"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// seedSession writes a call and an active session as the call service and
// the functions would, and returns the session id.
func seedSession(t testing.TB, ctx context.Context, callID string, participants ...string) string {
	t.Helper()
	_, err := env.Admin.Collection(model.CallsCollection).Doc(callID).Set(ctx, map[string]any{"members": participants})
	require.NoError(t, err)
	id := emulatortest.ID("s")
	now := time.Now()
	_, err = env.Admin.Collection(model.SessionsCollection).Doc(id).Set(ctx, model.Session{
		ID: id, CallID: callID, ExperienceID: "co_reading", OwnerID: participants[0],
		Status: model.StatusActive, Participants: participants,
		CreatedAt: now, UpdatedAt: now, LastActivityAt: now,
	})
	require.NoError(t, err)
	return id
}

func clientEvent(id, sender string) map[string]any {
	return map[string]any{
		"id": id, "type": "page_changed", "senderId": sender,
		"data": map[string]string{"pageIndex": "1"}, "clientSequenceNumber": int64(1),
	}
}

func waitDecided(t *testing.T, ctx context.Context, ref *firestore.DocumentRef) map[string]any {
	t.Helper()
	var data map[string]any
	emulatortest.Eventually(t, 20*time.Second, func() (bool, string) {
		snap, err := ref.Get(ctx)
		if err != nil {
			return false, err.Error()
		}
		data = snap.Data()
		return data["status"] != nil, fmt.Sprintf("event %s not decided: %v (deliveries %+v)", ref.ID, data, env.Deliveries())
	})
	return data
}

// TestWalkingSkeleton: a user signed in with the Auth emulator writes an
// event under firestore.rules; the Firestore emulator triggers the Go
// function, which decodes the CloudEvent (as the emulator's base64 text and
// as Eventarc's raw protobuf) and sequences the event.
func TestWalkingSkeleton(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	alice := env.NewUser(t)
	sessionID := seedSession(t, ctx, emulatortest.ID("call"), alice.UID)
	events := env.Admin.Collection(model.SessionsCollection).Doc(sessionID).Collection(model.EventsCollection)

	for i, raw := range []bool{false, true} {
		t.Run(fmt.Sprintf("eventarcRaw=%v", raw), func(t *testing.T) {
			env.SetEventarcEncoding(raw)
			defer env.SetEventarcEncoding(false)
			id := emulatortest.ID("e")
			code, body, err := env.ClientCreate(ctx, alice.IDToken,
				"experience_sessions/"+sessionID+"/events/"+id, clientEvent(id, alice.UID), "createdAt")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, code, body)

			got := waitDecided(t, ctx, events.Doc(id))
			require.Equal(t, "accepted", got["status"])
			require.EqualValues(t, i+1, got["sequenceNumber"])
		})
	}
	snap, err := env.Admin.Collection(model.SessionsCollection).Doc(sessionID).Get(ctx)
	require.NoError(t, err)
	var sess model.Session
	require.NoError(t, snap.DataTo(&sess))
	require.EqualValues(t, 2, sess.LastEventSequenceNumber)
}

// TestRulesStopForgedSender: the front door refuses an event whose senderId
// is not the caller, before any function runs.
func TestRulesStopForgedSender(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	alice, mallory := env.NewUser(t), env.NewUser(t)
	sessionID := seedSession(t, ctx, emulatortest.ID("call"), alice.UID, mallory.UID)
	id := emulatortest.ID("e")
	code, body, err := env.ClientCreate(ctx, mallory.IDToken,
		"experience_sessions/"+sessionID+"/events/"+id, clientEvent(id, alice.UID), "createdAt")
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, code, body)
}

// TestCallableSkeleton: the callable protocol end to end through the
// runner's /{project}/{region}/{name} route, with ID tokens from the Auth
// emulator verified by firebase-admin-go.
func TestCallableSkeleton(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	alice, stranger := env.NewUser(t), env.NewUser(t)
	callID := emulatortest.ID("call")
	sessionID := seedSession(t, ctx, callID, alice.UID)

	var res struct {
		Sessions []model.Session `json:"sessions"`
	}
	require.NoError(t, env.Callables.Call(ctx, "discoverSessions", alice.IDToken, map[string]any{"callId": callID}, &res))
	require.Len(t, res.Sessions, 1)
	require.Equal(t, sessionID, res.Sessions[0].ID)

	tests := []struct {
		name   string
		token  string
		body   string
		status callable.Status
	}{
		{"stranger", stranger.IDToken, `{"data":{"callId":"` + callID + `"}}`, callable.PermissionDenied},
		{"no token", "", `{"data":{"callId":"` + callID + `"}}`, callable.Unauthenticated},
		{"forged token", forgeToken("demo-other-project", alice.UID), `{"data":{"callId":"` + callID + `"}}`, callable.Unauthenticated},
		{"malformed token", "not.a.jwt", `{"data":{"callId":"` + callID + `"}}`, callable.Unauthenticated},
		{"missing field", alice.IDToken, `{"data":{}}`, callable.InvalidArgument},
		{"unknown field", alice.IDToken, `{"data":{"callId":"c","x":1}}`, callable.InvalidArgument},
		{"wrong type", alice.IDToken, `{"data":{"callId":7}}`, callable.InvalidArgument},
		{"no data member", alice.IDToken, `{"callId":"c"}`, callable.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := env.Callables.CallRaw(ctx, "discoverSessions", tt.token, []byte(tt.body), nil)
			var cerr *callable.Error
			require.ErrorAs(t, err, &cerr)
			require.Equal(t, tt.status, cerr.Status, cerr.Message)
		})
	}
}

// TestScheduleOnDemand: a scheduled function run on demand, as Cloud
// Scheduler would run it, ends only the stale session.
func TestScheduleOnDemand(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	u := env.NewUser(t)
	stale := seedSession(t, ctx, emulatortest.ID("call"), u.UID)
	fresh := seedSession(t, ctx, emulatortest.ID("call"), u.UID)
	_, err := env.Admin.Collection(model.SessionsCollection).Doc(stale).Update(ctx, []firestore.Update{
		{Path: "lastActivityAt", Value: time.Now().Add(-2 * time.Hour)},
	})
	require.NoError(t, err)

	_, err = env.RunSchedule(ctx, "closeStaleSessions")
	require.NoError(t, err)

	for id, want := range map[string]string{stale: model.StatusInactive, fresh: model.StatusActive} {
		snap, err := env.Admin.Collection(model.SessionsCollection).Doc(id).Get(ctx)
		require.NoError(t, err)
		require.Equal(t, want, snap.Data()["status"], id)
	}
}
