package functions_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/shared/callable"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
)

// callSession seeds a call of alice, bob and carol and a session that all
// three joined in that order, alice owning it.
func callSession(t *testing.T, ctx context.Context) (callID string, s model.Session, alice, bob, carol emulatortest.User) {
	t.Helper()
	alice, bob, carol = env.NewUser(t), env.NewUser(t), env.NewUser(t)
	callID = seedCall(t, ctx, alice.UID, bob.UID, carol.UID)
	s = startSession(t, callID, alice, bob, carol)
	sequencedEvents(t, ctx, s.ID, 3)
	return callID, s, alice, bob, carol
}

func setMembers(t *testing.T, ctx context.Context, callID string, fields map[string]any) {
	t.Helper()
	_, err := env.Admin.Collection(model.CallsCollection).Doc(callID).Set(ctx, fields)
	require.NoError(t, err)
}

// waitSession waits until the session satisfies cond and returns it.
func waitSession(t *testing.T, ctx context.Context, id string, cond func(model.Session) bool) model.Session {
	t.Helper()
	var s model.Session
	emulatortest.Eventually(t, 30*time.Second, func() (bool, string) {
		s = contract(t, ctx, id)
		return cond(s), fmt.Sprintf("session %s: status %s, participants %v, owner %s", id, s.Status, s.Participants, s.OwnerID)
	})
	return s
}

// afterJoins returns the accepted events that follow the three joins, once
// exactly want of them are decided.
func afterJoins(t *testing.T, ctx context.Context, sessionID string, want int) []map[string]any {
	t.Helper()
	evs := sequencedEvents(t, ctx, sessionID, 3+want)
	require.Len(t, evs, 3+want, "events: %v", types(evs))
	return evs[3:]
}

// TestCallMembersRemoved: a user removed from the call's members leaves its
// active session, as on any leave: others first, the owner last, ownership
// to the longest-present participant still there.
func TestCallMembersRemoved(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	type users struct{ alice, bob, carol string }
	tests := []struct {
		name         string
		members      func(u users) []string
		participants func(u users) []string
		owner        func(u users) string
		events       func(u users) []map[string]string // type and data of what follows the joins
	}{
		{
			name:         "a participant removed leaves",
			members:      func(u users) []string { return []string{u.alice, u.carol} },
			participants: func(u users) []string { return []string{u.alice, u.carol} },
			owner:        func(u users) string { return u.alice },
			events: func(u users) []map[string]string {
				return []map[string]string{{"type": "participant_left", "userId": u.bob}}
			},
		},
		{
			name:         "the owner removed hands ownership on",
			members:      func(u users) []string { return []string{u.bob, u.carol} },
			participants: func(u users) []string { return []string{u.bob, u.carol} },
			owner:        func(u users) string { return u.bob },
			events: func(u users) []map[string]string {
				return []map[string]string{
					{"type": "participant_left", "userId": u.alice},
					{"type": "owner_changed", "previousOwnerId": u.alice, "newOwnerId": u.bob},
				}
			},
		},
		{
			name:         "the owner and the next in line removed at once",
			members:      func(u users) []string { return []string{u.carol} },
			participants: func(u users) []string { return []string{u.carol} },
			owner:        func(u users) string { return u.carol },
			events: func(u users) []map[string]string {
				return []map[string]string{
					{"type": "participant_left", "userId": u.bob},
					{"type": "participant_left", "userId": u.alice},
					{"type": "owner_changed", "previousOwnerId": u.alice, "newOwnerId": u.carol},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			callID, sess, alice, bob, carol := callSession(t, ctx)
			u := users{alice.UID, bob.UID, carol.UID}
			setMembers(t, ctx, callID, map[string]any{"members": tt.members(u)})

			want := tt.participants(u)
			got := waitSession(t, ctx, sess.ID, func(s model.Session) bool { return len(s.Participants) == len(want) })
			require.Equal(t, want, got.Participants)
			require.Equal(t, tt.owner(u), got.OwnerID)
			require.Equal(t, model.StatusActive, got.Status)
			wantEvents := tt.events(u)
			evs := afterJoins(t, ctx, sess.ID, len(wantEvents))
			for i, w := range wantEvents {
				require.Equal(t, w["type"], evs[i]["type"], "event %d", i)
				require.Equal(t, model.SystemSender, evs[i]["senderId"])
				data := evs[i]["data"].(map[string]any)
				for k, v := range w {
					if k != "type" {
						require.Equal(t, v, data[k], "event %d %s", i, k)
					}
				}
			}
		})
	}
}

// TestCallEnded: a call deleted, marked ended, or emptied of members ends
// its active sessions; another call's session is left alone.
func TestCallEnded(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(t *testing.T, callID string, members []string)
		reason string
	}{
		{"call deleted", func(t *testing.T, callID string, _ []string) {
			_, err := env.Admin.Collection(model.CallsCollection).Doc(callID).Delete(ctx)
			require.NoError(t, err)
		}, model.EndReasonCallEnded},
		{"call marked ended", func(t *testing.T, callID string, members []string) {
			setMembers(t, ctx, callID, map[string]any{"members": members, "status": model.CallStatusEnded})
		}, model.EndReasonCallEnded},
		{"every member removed", func(t *testing.T, callID string, _ []string) {
			setMembers(t, ctx, callID, map[string]any{"members": []string{}})
		}, model.EndReasonEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			callID, sess, alice, bob, carol := callSession(t, ctx)
			// The same people in another call, whose session must stay.
			otherCall := seedCall(t, ctx, alice.UID, bob.UID)
			other, err := call[functions.SessionResult](t, alice, "createSession", map[string]any{"callId": otherCall, "experienceId": "co_reading"})
			require.NoError(t, err)

			tt.change(t, callID, []string{alice.UID, bob.UID, carol.UID})
			got := waitSession(t, ctx, sess.ID, func(s model.Session) bool { return s.Status == model.StatusInactive })
			require.Equal(t, tt.reason, got.EndReason)
			require.NotNil(t, got.EndedAt)
			evs := sequencedEvents(t, ctx, sess.ID, 4)
			last := evs[len(evs)-1]
			require.Equal(t, "experience_ended", last["type"], "events: %v", types(evs))
			require.Equal(t, tt.reason, last["data"].(map[string]any)["reason"])

			require.NoError(t, env.WaitDeliveries(ctx))
			require.Equal(t, model.StatusActive, contract(t, ctx, other.Session.ID).Status)
		})
	}
}

// TestEndedCallTakesNoSession: a call marked ended takes no new session
// (its trigger has already run and would never end one) and no new
// participant; its members are told why.
func TestEndedCallTakesNoSession(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	alice, bob := env.NewUser(t), env.NewUser(t)
	callID := seedCall(t, ctx, alice.UID, bob.UID)
	res := startSession(t, callID, alice)

	ended := seedCall(t, ctx, alice.UID, bob.UID)
	setMembers(t, ctx, ended, map[string]any{"members": []string{alice.UID, bob.UID}, "status": model.CallStatusEnded})
	require.NoError(t, env.WaitDeliveries(ctx))
	_, err := call[functions.SessionResult](t, alice, "createSession", map[string]any{"callId": ended, "experienceId": "co_reading"})
	cerr := requireStatus(t, err, callable.FailedPrecondition)
	require.Equal(t, sessions.ErrCallEnded.Error(), cerr.Message)

	// A stranger still learns nothing: the same answer as for any call
	// they are not in.
	_, err = call[functions.SessionResult](t, env.NewUser(t), "createSession", map[string]any{"callId": ended, "experienceId": "co_reading"})
	requireStatus(t, err, callable.PermissionDenied)

	// Joining the first call's session once that call ends: refused,
	// whether the trigger has ended the session yet or not.
	setMembers(t, ctx, callID, map[string]any{"members": []string{alice.UID, bob.UID}, "status": model.CallStatusEnded})
	_, err = call[functions.JoinSessionResult](t, bob, "joinSession", map[string]any{"sessionId": res.ID})
	requireStatus(t, err, callable.FailedPrecondition)
	require.NoError(t, env.WaitDeliveries(ctx))
	require.NotContains(t, contract(t, ctx, res.ID).Participants, bob.UID)
}

// TestCallRedelivery: duplicated deliveries of a call change, and a rewrite
// of the call that changes nothing, leave the sessions as one delivery did.
func TestCallRedelivery(t *testing.T) {
	env.Require(t)
	ctx := context.Background()
	callID, sess, _, bob, carol := callSession(t, ctx)

	env.SetFaults(emulator.Faults{Copies: 3, Concurrency: 4})
	defer env.SetFaults(emulator.Faults{})
	setMembers(t, ctx, callID, map[string]any{"members": []string{bob.UID, carol.UID}})
	waitSession(t, ctx, sess.ID, func(s model.Session) bool { return len(s.Participants) == 2 })
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, env.WaitDeliveries(waitCtx))
	want := []string{"participant_left", "owner_changed"}
	require.Equal(t, want, types(afterJoins(t, ctx, sess.ID, len(want))))
	before := contract(t, ctx, sess.ID)

	// The same members again: the trigger runs (three times) and finds
	// nothing to do.
	received := env.Deliveries().Received
	setMembers(t, ctx, callID, map[string]any{"members": []string{bob.UID, carol.UID}})
	emulatortest.Eventually(t, 20*time.Second, func() (bool, string) {
		return env.Deliveries().Received > received, "the rewrite's trigger not received yet"
	})
	require.NoError(t, env.WaitDeliveries(waitCtx))
	require.Equal(t, want, types(afterJoins(t, ctx, sess.ID, len(want))))
	after := contract(t, ctx, sess.ID)
	require.Equal(t, before, after)
}
