package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	firebase "firebase.google.com/go/v4"
	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	"github.com/pajama-app/sharedexperiences/emulator/seed"
)

var stack *emulator.Stack

func TestMain(m *testing.M) { os.Exit(emulatortest.MainStack(m, &stack)) }

// signedIn is what an Auth emulator sign-in endpoint answers.
type signedIn struct {
	LocalID string `json:"localId"`
	IDToken string `json:"idToken"`
}

// signIn calls an Auth emulator sign-in endpoint (signInWithPassword,
// signInWithCustomToken) as a client SDK does.
func signIn(t *testing.T, method string, body map[string]any) signedIn {
	t.Helper()
	body["returnSecureToken"] = true
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post("http://"+stack.AuthHost+"/identitytoolkit.googleapis.com/v1/accounts:"+method+"?key=fake-api-key",
		"application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
	var got signedIn
	require.NoError(t, json.Unmarshal(out, &got))
	require.NotEmpty(t, got.IDToken)
	return got
}

// TestSeedCommand runs the command against the real Auth and Firestore
// emulators, then signs in as each seeded user in each printed way, and
// seeds again with fewer members.
func TestSeedCommand(t *testing.T) {
	fs := emulatortest.Firestore(t, stack)
	ctx := context.Background()
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: stack.ProjectID})
	require.NoError(t, err)
	admin, err := app.Auth(ctx)
	require.NoError(t, err)

	call := emulatortest.ID("call")
	alice, bob := emulatortest.ID("alice"), emulatortest.ID("bob")
	seedJSON := func(users ...string) seed.Result {
		var out bytes.Buffer
		require.NoError(t, run([]string{"-call", call, "-users", strings.Join(users, ","), "-json"}, &out))
		var res seed.Result
		require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
		return res
	}

	res := seedJSON(alice, bob)
	require.Equal(t, []string{alice, bob}, res.Members)
	snap, err := fs.Doc("calls/" + call).Get(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"members": []any{alice, bob}, "status": "active"}, snap.Data())

	require.Len(t, res.Users, 2)
	for _, u := range res.Users {
		t.Run(u.UID, func(t *testing.T) {
			require.Equal(t, u.UID, signIn(t, "signInWithPassword", map[string]any{"email": u.Email, "password": u.Password}).LocalID)
			tok, err := admin.VerifyIDToken(ctx, u.IDToken)
			require.NoError(t, err)
			require.Equal(t, u.UID, tok.UID)
			tok, err = admin.VerifyIDToken(ctx, signIn(t, "signInWithCustomToken", map[string]any{"token": u.CustomToken}).IDToken)
			require.NoError(t, err)
			require.Equal(t, u.UID, tok.UID)
		})
	}

	// Again, with bob gone: the call service's view replaces the members;
	// alice's account is reset, not duplicated.
	res = seedJSON(alice)
	require.Equal(t, []string{alice}, res.Members)
	snap, err = fs.Doc("calls/" + call).Get(ctx)
	require.NoError(t, err)
	require.Equal(t, []any{alice}, snap.Data()["members"])
	require.Equal(t, alice, signIn(t, "signInWithPassword", map[string]any{"email": res.Users[0].Email, "password": seed.Password}).LocalID)

	// The human-readable form names what an iOS client calls.
	var out bytes.Buffer
	require.NoError(t, run([]string{"-call", call, "-users", alice}, &out))
	require.Contains(t, out.String(), "signIn(withEmail:")
	require.Contains(t, out.String(), "signIn(withCustomToken:")
}

func TestSeedRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"call with a slash", []string{"-call", "a/b", "-users", "alice"}, "call"},
		{"empty user", []string{"-users", "alice,,bob"}, "user"},
		{"user twice", []string{"-users", "alice,alice"}, "twice"},
		{"bad status", []string{"-users", "alice", "-status", "gone"}, "status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, io.Discard)
			require.ErrorIs(t, err, seed.ErrBadInput)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
