package standin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSemantics pins what the clients rely on, over real HTTP: a create of
// something that exists is ALREADY_EXISTS, a missing resource NOT_FOUND, an
// update of a missing one NOT_FOUND (except the upserted kinds), a
// collection lists its members ("-" as any parent), IAM policies are kept
// per resource, and an operation is done at once.
func TestSemantics(t *testing.T) {
	s, err := Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	do := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var buf bytes.Buffer
		if body != nil {
			require.NoError(t, json.NewEncoder(&buf).Encode(body))
		}
		req, err := http.NewRequest(method, s.URL+path, &buf)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	steps := []struct {
		method, path string
		body         any
		code         int
		check        func(t *testing.T, out map[string]any)
	}{
		{"PUT", "/pubsub/v1/projects/p/topics/t", map[string]any{}, 200, nil},
		{"PUT", "/pubsub/v1/projects/p/topics/t", map[string]any{}, 409, func(t *testing.T, out map[string]any) {
			require.Equal(t, "ALREADY_EXISTS", out["error"].(map[string]any)["status"])
		}},
		{"GET", "/pubsub/v1/projects/p/topics/u", nil, 404, nil},
		{"PATCH", "/cloudscheduler/v1/projects/p/locations/r/jobs/j", map[string]any{"schedule": "x"}, 404, nil},
		{"PATCH", "/firestore/v1/projects/p/databases/(default)/collectionGroups/g/fields/f", map[string]any{"indexConfig": map[string]any{"indexes": []any{}}}, 200, nil},
		{"POST", "/firestore/v1/projects/p/databases/(default)/collectionGroups/g/indexes", map[string]any{"fields": []any{map[string]any{"fieldPath": "a", "order": "DESCENDING"}}}, 200, func(t *testing.T, out map[string]any) {
			require.Equal(t, true, out["done"])
		}},
		{"GET", "/firestore/v1/projects/p/databases/(default)/collectionGroups/-/indexes", nil, 200, func(t *testing.T, out map[string]any) {
			idx := out["indexes"].([]any)
			require.Len(t, idx, 1)
			// Listed with __name__ last, in the last field's direction.
			require.Equal(t, map[string]any{"fieldPath": "__name__", "order": "DESCENDING"}, idx[0].(map[string]any)["fields"].([]any)[1])
		}},
		{"POST", "/iam/v1/projects/p/serviceAccounts", map[string]any{"accountId": "sx-a"}, 200, func(t *testing.T, out map[string]any) {
			require.Equal(t, "sx-a@p.iam.gserviceaccount.com", out["email"])
		}},
		{"POST", "/iam/v1/projects/p/serviceAccounts", map[string]any{"accountId": "sx-a"}, 409, nil},
		{"POST", "/pubsub/v1/projects/p/topics/t:setIamPolicy", map[string]any{"policy": map[string]any{"bindings": []any{map[string]any{"role": "r", "members": []any{"m"}}}}}, 200, nil},
		{"GET", "/serviceusage/v1/projects/p/services/run.googleapis.com", nil, 200, func(t *testing.T, out map[string]any) {
			require.Equal(t, "DISABLED", out["state"])
		}},
		{"POST", "/serviceusage/v1/projects/p/services:batchEnable", map[string]any{"serviceIds": []any{"run.googleapis.com"}}, 200, nil},
		{"GET", "/serviceusage/v1/projects/p/services/run.googleapis.com", nil, 200, func(t *testing.T, out map[string]any) {
			require.Equal(t, "ENABLED", out["state"])
		}},
	}
	for _, st := range steps {
		code, out := do(st.method, st.path, st.body)
		require.Equal(t, st.code, code, "%s %s: %v", st.method, st.path, out)
		if st.check != nil {
			st.check(t, out)
		}
	}
	require.Equal(t, []string{"m"}, s.Members("pubsub", "projects/p/topics/t", "r"))
	require.Len(t, s.Requests(), len(steps))
}
