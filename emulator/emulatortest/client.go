package emulatortest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// User is someone signed in through the Auth emulator.
type User struct {
	UID     string
	Email   string
	IDToken string
}

// NewUser signs a new user up with the Auth emulator's REST API, as the
// client SDKs' createUserWithEmailAndPassword does.
func (e *Env) NewUser(t testing.TB) User {
	t.Helper()
	email := ID("u") + "@example.com"
	var out struct {
		IDToken string `json:"idToken"`
		LocalID string `json:"localId"`
	}
	e.postJSON(t, "http://"+e.AuthHost+"/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key", "",
		map[string]any{"email": email, "password": "password-123", "returnSecureToken": true}, &out)
	require.NotEmpty(t, out.IDToken)
	return User{UID: out.LocalID, Email: email, IDToken: out.IDToken}
}

// ClientCreate creates the document at path as the signed-in user, through
// the Firestore REST API with the user's ID token, so firestore.rules apply
// exactly as they do to an app. Fields named in serverTimestamps are set to
// the commit time (the SDKs' serverTimestamp()). It returns the HTTP status
// and body: 200 when the rules allowed the write, 403 when they did not.
func (e *Env) ClientCreate(ctx context.Context, idToken, path string, fields map[string]any, serverTimestamps ...string) (int, string, error) {
	transforms := make([]map[string]any, 0, len(serverTimestamps))
	for _, f := range serverTimestamps {
		transforms = append(transforms, map[string]any{"fieldPath": f, "setToServerValue": "REQUEST_TIME"})
	}
	write := map[string]any{
		"update":          map[string]any{"name": e.docName(path), "fields": RESTFields(fields)},
		"currentDocument": map[string]any{"exists": false},
	}
	if len(transforms) > 0 {
		write["updateTransforms"] = transforms
	}
	body, _ := json.Marshal(map[string]any{"writes": []any{write}})
	url := fmt.Sprintf("http://%s/v1/projects/%s/databases/(default)/documents:commit", e.FirestoreHost, e.ProjectID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if idToken != "" {
		req.Header.Set("Authorization", "Bearer "+idToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func (e *Env) docName(path string) string {
	return fmt.Sprintf("projects/%s/databases/(default)/documents/%s", e.ProjectID, path)
}

// RESTFields encodes Go values as the fields of a Firestore REST Document.
func RESTFields(fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		out[k] = RESTValue(v)
	}
	return out
}

// RESTValue encodes a Go value as a Firestore REST Value.
func RESTValue(v any) map[string]any {
	switch v := v.(type) {
	case nil:
		return map[string]any{"nullValue": nil}
	case string:
		return map[string]any{"stringValue": v}
	case bool:
		return map[string]any{"booleanValue": v}
	case int:
		return map[string]any{"integerValue": strconv.Itoa(v)}
	case int64:
		return map[string]any{"integerValue": strconv.FormatInt(v, 10)}
	case float64:
		return map[string]any{"doubleValue": v}
	case time.Time:
		return map[string]any{"timestampValue": v.UTC().Format(time.RFC3339Nano)}
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, s := range v {
			m[k] = s
		}
		return map[string]any{"mapValue": map[string]any{"fields": RESTFields(m)}}
	case map[string]any:
		return map[string]any{"mapValue": map[string]any{"fields": RESTFields(v)}}
	case []string:
		vals := make([]any, len(v))
		for i, s := range v {
			vals[i] = RESTValue(s)
		}
		return map[string]any{"arrayValue": map[string]any{"values": vals}}
	case []any:
		vals := make([]any, len(v))
		for i, x := range v {
			vals[i] = RESTValue(x)
		}
		return map[string]any{"arrayValue": map[string]any{"values": vals}}
	default:
		panic(fmt.Sprintf("emulatortest: no REST encoding for %T", v))
	}
}

func (e *Env) postJSON(t testing.TB, url, idToken string, in, out any) {
	t.Helper()
	body, err := json.Marshal(in)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if idToken != "" {
		req.Header.Set("Authorization", "Bearer "+idToken)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", url, b)
	require.NoError(t, json.Unmarshal(b, out))
}

// Eventually polls cond every 50 ms until it holds or timeout passes; it
// reports the last failure message clearly instead of hanging.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var msg string
	for {
		var ok bool
		if ok, msg = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", timeout, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
