package functions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"firebase.google.com/go/v4/appcheck"
	"firebase.google.com/go/v4/auth"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/callable"
	"github.com/pajama-app/sharedexperiences/shared/config"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
)

// TestMapError: a caller reads the status and the domain's sentence, never
// the chain of where it happened; a Firestore call cut short by the
// caller's context is CANCELLED or DEADLINE_EXCEEDED, not INTERNAL.
func TestMapError(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantStatus  callable.Status // "" means not mapped (INTERNAL)
		wantMessage string
	}{
		{"wrapped sentinel", fmt.Errorf("read session s1: %w", sessions.ErrNotFound), callable.NotFound, sessions.ErrNotFound.Error()},
		{"sentinel with detail", fmt.Errorf("%w: the session has 12 participants", sessions.ErrFull), callable.ResourceExhausted, sessions.ErrFull.Error()},
		{"not a member", fmt.Errorf("tx: %w", sessions.ErrNotCallMember), callable.PermissionDenied, sessions.ErrNotCallMember.Error()},
		{"bad uid", fmt.Errorf("user a/b: %w", sessions.ErrInvalidUserID), callable.PermissionDenied, sessions.ErrInvalidUserID.Error()},
		{"bad id", fmt.Errorf("call a/b: %w", sessions.ErrInvalidID), callable.InvalidArgument, sessions.ErrInvalidID.Error()},
		{"grpc canceled", fmt.Errorf("read call c1: %w", status.Error(codes.Canceled, "context canceled")), callable.Cancelled, "the call was cancelled"},
		{"grpc deadline", fmt.Errorf("commit: %w", status.Error(codes.DeadlineExceeded, "deadline")), callable.DeadlineExceeded, "the call took too long"},
		{"grpc other", fmt.Errorf("commit: %w", status.Error(codes.Unavailable, "backend secret")), "", ""},
		{"plain", errors.New("db password is hunter2"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mapError(tt.err)
			if tt.wantStatus == "" {
				require.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			require.Equal(t, tt.wantStatus, got.Status)
			require.Equal(t, tt.wantMessage, got.Message)
		})
	}
	exists := mapError(fmt.Errorf("create: %w", &sessions.ExistsError{Session: model.Session{ID: "s1"}}))
	require.Equal(t, callable.AlreadyExists, exists.Status)
	require.Equal(t, map[string]any{"session": model.Session{ID: "s1"}}, exists.Details)
}

// revokedVerifier takes every token as user "u" and says it was revoked
// when asked to check.
type revokedVerifier struct{}

func (revokedVerifier) VerifyIDToken(context.Context, string) (*auth.Token, error) {
	return &auth.Token{UID: "u"}, nil
}

func (revokedVerifier) VerifyIDTokenAndCheckRevoked(context.Context, string) (*auth.Token, error) {
	return nil, errors.New("ID token has been revoked")
}

// TestRevocationWiring: with CHECK_TOKEN_REVOCATION on (the default) the
// calls that change a session check revocation and discoverSessions does
// not; off, none does. The data is empty, so a call that passes the token
// check stops at INVALID_ARGUMENT without touching Firestore.
func TestRevocationWiring(t *testing.T) {
	changing := map[string]bool{"createSession": true, "joinSession": true, "leaveSession": true,
		"endSession": true, "transferOwnership": true, "discoverSessions": false}
	for _, check := range []bool{true, false} {
		cfg := config.Default()
		cfg.ProjectID = "demo-wiring"
		cfg.CheckTokenRevocation = check
		app := New(cfg, Deps{Verifier: revokedVerifier{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		seen := map[string]bool{}
		for _, d := range Declarations() {
			if d.Kind != Callable {
				continue
			}
			seen[d.Name] = true
			t.Run(fmt.Sprintf("%s/check=%v", d.Name, check), func(t *testing.T) {
				req := httptest.NewRequest(http.MethodPost, "/"+d.Name, strings.NewReader(`{"data":{}}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer any")
				rec := httptest.NewRecorder()
				d.http(app).ServeHTTP(rec, req)
				want := http.StatusBadRequest
				if check && changing[d.Name] {
					want = http.StatusUnauthorized
				}
				require.Equal(t, want, rec.Code, rec.Body.String())
			})
		}
		require.Len(t, seen, len(changing), "every callable is classified")
	}
}

// appTokenVerifier accepts the App Check token "app-ok" (the real
// verifier, over its own keys, is shared/callable's conformance table).
type appTokenVerifier struct{}

func (appTokenVerifier) VerifyToken(tok string) (*appcheck.DecodedAppCheckToken, error) {
	if tok == "app-ok" {
		return &appcheck.DecodedAppCheckToken{AppID: "1:1:web:1"}, nil
	}
	return nil, errors.New("token has incorrect audience")
}

// TestAppCheckWiring: with ENFORCE_APP_CHECK every callable refuses a call
// without a valid App Check token, before decoding; off (the default), the
// token is optional and a bad one is only logged. A call that passes stops
// at INVALID_ARGUMENT (empty data) without touching Firestore.
func TestAppCheckWiring(t *testing.T) {
	tests := []struct {
		enforce  bool
		appToken string
		want     int
	}{
		{true, "", http.StatusUnauthorized},
		{true, "app-bad", http.StatusUnauthorized},
		{true, "app-ok", http.StatusBadRequest},
		{false, "", http.StatusBadRequest},
		{false, "app-bad", http.StatusBadRequest},
	}
	for _, tt := range tests {
		cfg := config.Default()
		cfg.ProjectID = "demo-wiring"
		cfg.CheckTokenRevocation = false
		cfg.EnforceAppCheck = tt.enforce
		app := New(cfg, Deps{Verifier: revokedVerifier{}, AppCheck: appTokenVerifier{},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		for _, d := range Declarations() {
			if d.Kind != Callable {
				continue
			}
			t.Run(fmt.Sprintf("%s/enforce=%v/%q", d.Name, tt.enforce, tt.appToken), func(t *testing.T) {
				req := httptest.NewRequest(http.MethodPost, "/"+d.Name, strings.NewReader(`{"data":{}}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer any")
				if tt.appToken != "" {
					req.Header.Set("X-Firebase-AppCheck", tt.appToken)
				}
				rec := httptest.NewRecorder()
				d.http(app).ServeHTTP(rec, req)
				require.Equal(t, tt.want, rec.Code, rec.Body.String())
			})
		}
	}
}
