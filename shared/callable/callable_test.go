package callable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"firebase.google.com/go/v4/auth"
	"github.com/stretchr/testify/require"
)

// fakeVerifier accepts "good-<uid>" tokens; unit tests of the protocol need
// no Auth emulator (the integration tests in functions/ use the real one).
type fakeVerifier struct{}

func (fakeVerifier) VerifyIDToken(_ context.Context, tok string) (*auth.Token, error) {
	if uid, ok := strings.CutPrefix(tok, "good-"); ok {
		return &auth.Token{UID: uid}, nil
	}
	return nil, errors.New("ID token has expired at: 1700000000; more details")
}

// revokingVerifier accepts "good-<uid>" tokens as fakeVerifier does, and
// "revoked-<uid>" ones unless asked to check revocation.
type revokingVerifier struct{ fakeVerifier }

func (v revokingVerifier) VerifyIDToken(ctx context.Context, tok string) (*auth.Token, error) {
	if uid, ok := strings.CutPrefix(tok, "revoked-"); ok {
		return &auth.Token{UID: uid}, nil
	}
	return v.fakeVerifier.VerifyIDToken(ctx, tok)
}

func (v revokingVerifier) VerifyIDTokenAndCheckRevoked(ctx context.Context, tok string) (*auth.Token, error) {
	if strings.HasPrefix(tok, "revoked-") {
		return nil, errors.New("ID token has been revoked")
	}
	return v.fakeVerifier.VerifyIDToken(ctx, tok)
}

// TestCheckRevoked: with CheckRevoked a revoked token is UNAUTHENTICATED;
// without, it is good until it expires; a verifier that cannot check fails
// closed.
func TestCheckRevoked(t *testing.T) {
	tests := []struct {
		name     string
		verifier Verifier
		check    bool
		token    string
		wantCode int
	}{
		{"checked, revoked", revokingVerifier{}, true, "revoked-alice", 401},
		{"checked, good", revokingVerifier{}, true, "good-alice", 200},
		{"unchecked, revoked", revokingVerifier{}, false, "revoked-alice", 200},
		{"checked, verifier cannot", fakeVerifier{}, true, "good-alice", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := newTestHandler().(*handler).fn
			h := Handler("echo", tt.verifier, fn, &Options{CheckRevoked: tt.check, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			req := httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(`{"data":{"name":"n"}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tt.token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tt.wantCode, rec.Code, rec.Body.String())
			if tt.wantCode == 401 {
				require.Contains(t, rec.Body.String(), "revoked")
			}
		})
	}
}

var errDomain = errors.New("domain says no")

type echoReq struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func (r *echoReq) Validate() error {
	if r.Name == "" {
		return errors.New(`field "name" is required`)
	}
	return nil
}

func newTestHandler() http.Handler {
	fn := Typed(func(_ context.Context, a *Auth, r echoReq) (map[string]any, error) {
		switch r.Name {
		case "boom":
			panic("boom")
		case "domain":
			return nil, errDomain
		case "secret":
			return nil, errors.New("db password is hunter2")
		case "exists":
			return nil, &Error{Status: AlreadyExists, Message: "taken", Details: map[string]string{"id": "x"}}
		case "teapot":
			return nil, &Error{Status: "I_AM_A_TEAPOT", Message: "short and stout"}
		case "cancelled":
			return nil, fmt.Errorf("read session s1: %w", context.Canceled)
		case "deadline":
			return nil, fmt.Errorf("read session s1: %w", context.DeadlineExceeded)
		}
		return map[string]any{"uid": a.UID, "name": r.Name, "count": r.Count}, nil
	})
	return Handler("echo", fakeVerifier{}, fn, &Options{
		MaxBodyBytes: 1024,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		MapError:     testMapError,
	})
}

func testMapError(err error) *Error {
	if errors.Is(err, errDomain) {
		return &Error{Status: PermissionDenied, Message: errDomain.Error()}
	}
	return nil
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		contentType string
		token       string
		body        string
		wantCode    int
		wantStatus  Status // "" means success
		wantInMsg   string
	}{
		{"ok", "POST", "application/json", "good-alice", `{"data":{"name":"n","count":2}}`, 200, "", ""},
		{"charset allowed", "POST", "application/json; charset=utf-8", "good-alice", `{"data":{"name":"n"}}`, 200, "", ""},
		{"no token", "POST", "application/json", "", `{"data":{"name":"n"}}`, 401, Unauthenticated, ""},
		{"bad token", "POST", "application/json", "bad", `{"data":{"name":"n"}}`, 401, Unauthenticated, "expired"},
		{"GET", "GET", "application/json", "good-alice", ``, 400, InvalidArgument, "POST"},
		{"wrong content type", "POST", "text/plain", "good-alice", `{"data":{"name":"n"}}`, 400, InvalidArgument, "Content-Type"},
		{"not JSON", "POST", "application/json", "good-alice", `{"data":`, 400, InvalidArgument, ""},
		{"no data", "POST", "application/json", "good-alice", `{"name":"n"}`, 400, InvalidArgument, "data"},
		{"extra top-level", "POST", "application/json", "good-alice", `{"data":{"name":"n"},"x":1}`, 400, InvalidArgument, "data"},
		{"data null", "POST", "application/json", "good-alice", `{"data":null}`, 400, InvalidArgument, "object"},
		{"data array", "POST", "application/json", "good-alice", `{"data":[1]}`, 400, InvalidArgument, "object"},
		{"unknown field", "POST", "application/json", "good-alice", `{"data":{"name":"n","zzz":1}}`, 400, InvalidArgument, "zzz"},
		{"wrong type", "POST", "application/json", "good-alice", `{"data":{"name":"n","count":"2"}}`, 400, InvalidArgument, "count"},
		{"missing field", "POST", "application/json", "good-alice", `{"data":{"count":2}}`, 400, InvalidArgument, "name"},
		{"huge body", "POST", "application/json", "good-alice", `{"data":{"name":"` + strings.Repeat("x", 2000) + `"}}`, 400, InvalidArgument, "exceeds"},
		{"domain error mapped", "POST", "application/json", "good-alice", `{"data":{"name":"domain"}}`, 403, PermissionDenied, "domain says no"},
		{"callable error kept", "POST", "application/json", "good-alice", `{"data":{"name":"exists"}}`, 409, AlreadyExists, "taken"},
		{"internal hides message", "POST", "application/json", "good-alice", `{"data":{"name":"secret"}}`, 500, Internal, "INTERNAL"},
		{"panic is internal", "POST", "application/json", "good-alice", `{"data":{"name":"boom"}}`, 500, Internal, "INTERNAL"},
		// A status outside the protocol's list is INTERNAL, as the Node
		// server answers: an SDK cannot map an unknown name.
		{"unknown status", "POST", "application/json", "good-alice", `{"data":{"name":"teapot"}}`, 500, Internal, "INTERNAL"},
		{"cancelled", "POST", "application/json", "good-alice", `{"data":{"name":"cancelled"}}`, 499, Cancelled, ""},
		{"deadline", "POST", "application/json", "good-alice", `{"data":{"name":"deadline"}}`, 504, DeadlineExceeded, ""},
		// Strict decoding: exact names, no duplicate keys at any level.
		{"field name case", "POST", "application/json", "good-alice", `{"data":{"NAME":"n"}}`, 400, InvalidArgument, "NAME"},
		{"duplicate field", "POST", "application/json", "good-alice", `{"data":{"name":"secret","name":"n"}}`, 400, InvalidArgument, `"name"`},
		{"duplicate nested", "POST", "application/json", "good-alice", `{"data":{"name":"n","count":1,"count":2}}`, 400, InvalidArgument, `"count"`},
		{"duplicate data", "POST", "application/json", "good-alice", `{"data":{"name":"secret"},"data":{"name":"n"}}`, 400, InvalidArgument, `"data"`},
		{"data name case", "POST", "application/json", "good-alice", `{"DATA":{"name":"n"}}`, 400, InvalidArgument, "data"},
		{"int64 wrapper", "POST", "application/json", "good-alice", `{"data":{"name":"n","count":{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"5"}}}`, 200, "", ""},
		{"uint64 wrapper", "POST", "application/json", "good-alice", `{"data":{"name":"n","count":{"@type":"type.googleapis.com/google.protobuf.UInt64Value","value":"5"}}}`, 200, "", ""},
		{"wrapper bad value", "POST", "application/json", "good-alice", `{"data":{"name":"n","count":{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"5x"}}}`, 400, InvalidArgument, "count"},
		{"wrapper extra key", "POST", "application/json", "good-alice", `{"data":{"name":"n","count":{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"5","x":1}}}`, 400, InvalidArgument, "count"},
	}
	h := newTestHandler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/echo", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tt.wantCode, rec.Code, rec.Body.String())
			var got struct {
				Result map[string]any `json:"result"`
				Error  *Error         `json:"error"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			if tt.wantStatus == "" {
				require.Nil(t, got.Error)
				require.Equal(t, "alice", got.Result["uid"])
				return
			}
			require.NotNil(t, got.Error)
			require.Equal(t, tt.wantStatus, got.Error.Status)
			require.Contains(t, got.Error.Message, tt.wantInMsg)
			require.NotContains(t, got.Error.Message, "hunter2")
			require.NotContains(t, got.Error.Message, "s1", "no internal chain")
		})
	}
}

// TestAuthorizationScheme: the scheme is case-insensitive (RFC 9110
// section 11.1); some HTTP stacks send "bearer".
func TestAuthorizationScheme(t *testing.T) {
	tests := []struct {
		header   string
		wantCode int
	}{
		{"Bearer good-alice", 200},
		{"bearer good-alice", 200},
		{"BEARER good-alice", 200},
		{"Basic good-alice", 401},
		{"Bearergood-alice", 401},
		{"bearer", 401},
	}
	h := newTestHandler()
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(`{"data":{"name":"n"}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", tt.header)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tt.wantCode, rec.Code, rec.Body.String())
		})
	}
}

// TestVaryOrigin: the answer depends on Origin (CORS headers), so a cache
// must key on it even for a request that had none.
func TestVaryOrigin(t *testing.T) {
	for _, origin := range []string{"", "https://app.example"} {
		req := httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(`{"data":{"name":"n"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer good-alice")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		newTestHandler().ServeHTTP(rec, req)
		require.Equal(t, []string{"Origin"}, rec.Header().Values("Vary"), "origin %q", origin)
	}
}

// recordingHandler keeps the records a handler logs.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// TestErrorLogging: the caller gets the status and the domain sentence,
// the log gets the whole chain, at ERROR only for INTERNAL: a caller who
// hangs up or runs out of time is not a server fault.
func TestErrorLogging(t *testing.T) {
	tests := []struct {
		name      string
		wantLevel slog.Level
		wantInLog string
	}{
		{"secret", slog.LevelError, "hunter2"},
		{"cancelled", slog.LevelWarn, "read session s1: context canceled"},
		{"deadline", slog.LevelWarn, "read session s1: context deadline exceeded"},
		{"domain", slog.LevelInfo, "domain says no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rh := &recordingHandler{}
			fn := newTestHandler().(*handler).fn
			h := Handler("echo", fakeVerifier{}, fn, &Options{Logger: slog.New(rh), MapError: testMapError})
			req := httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(`{"data":{"name":"`+tt.name+`"}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer good-alice")
			h.ServeHTTP(httptest.NewRecorder(), req)
			maxLevel := slog.LevelDebug
			var logged []string
			for _, r := range rh.records {
				maxLevel = max(maxLevel, r.Level)
				r.Attrs(func(a slog.Attr) bool {
					logged = append(logged, a.Value.String())
					return true
				})
			}
			require.Equal(t, tt.wantLevel, maxLevel)
			require.Contains(t, strings.Join(logged, "\n"), tt.wantInLog)
		})
	}
}

func TestCORSPreflight(t *testing.T) {
	req := httptest.NewRequest(http.MethodOptions, "/echo", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	rec := httptest.NewRecorder()
	newTestHandler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Equal(t, "https://app.example", rec.Header().Get("Access-Control-Allow-Origin"))
	require.Equal(t, "authorization,content-type", rec.Header().Get("Access-Control-Allow-Headers"))
	require.Contains(t, rec.Header().Get("Access-Control-Allow-Methods"), "POST")
}

// FuzzHandler: no body may panic or produce anything but a well-formed
// callable answer; only the INTERNAL path (not reachable from input here)
// may answer 500.
func FuzzHandler(f *testing.F) {
	for _, seed := range []string{`{"data":{"name":"n"}}`, `{"data":{"name":"boom"}}`, `{"data":{"name":"secret"}}`, `{"data":{"name":"teapot"}}`, `{"data":null}`, `{}`, `[]`, `{"data":{"count":1e400}}`, "\x00", `{"data":{"name":"n","count":-1}}`} {
		f.Add(seed)
	}
	h := newTestHandler()
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer good-alice")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var got map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), rec.Body.String())
		require.Len(t, got, 1)
		if rec.Code == http.StatusInternalServerError {
			// Only the test handler's deliberate failures reach INTERNAL:
			// a body the strict decoder accepted, naming one of them.
			var req struct {
				Data echoReq `json:"data"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &req), "INTERNAL for a body that does not decode: %s", body)
			require.Contains(t, []string{"boom", "secret", "teapot"}, req.Data.Name, "INTERNAL for %s", body)
			require.JSONEq(t, `{"error":{"status":"INTERNAL","message":"INTERNAL"}}`, rec.Body.String(), "an INTERNAL answer leaks: %s", rec.Body.String())
		}
	})
}
