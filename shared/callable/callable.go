// Package callable serves the Firebase callable protocol in Go, the server
// half of the client SDKs' httpsCallable
// (https://firebase.google.com/docs/functions/callable-reference).
//
// # Protocol
//
// A call is POST with Content-Type application/json and the body
// {"data": <any JSON>}, optionally with Authorization: Bearer <Firebase ID
// token>. Success is 200 {"result": <JSON>}; failure is
// {"error": {"status", "message", "details"}} with the HTTP code of the
// status. A present but unverifiable token is UNAUTHENTICATED before the
// function runs. Browsers' CORS preflight is answered with the Origin
// reflected, as the reference server's default cors middleware does.
//
// # Typed functions
//
// [Typed] decodes the data strictly into a request struct (unknown fields and
// wrong types are INVALID_ARGUMENT naming the field) and calls its Validate
// method, so handlers receive only well-formed input.
package callable

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"firebase.google.com/go/v4/auth"
)

// Verifier checks a Firebase ID token; *auth.Client satisfies it.
type Verifier interface {
	VerifyIDToken(ctx context.Context, idToken string) (*auth.Token, error)
}

// Auth is the verified caller.
type Auth struct {
	UID   string
	Token *auth.Token
}

// Request is one decoded call.
type Request struct {
	// Auth is nil when the call carried no Authorization header.
	Auth *Auth
	// Data is the raw JSON of the "data" member.
	Data json.RawMessage
}

// Func is a callable function. Returning an *Error (or an error wrapping one)
// answers with that status; any other error is mapped by Options.MapError or
// answered INTERNAL.
type Func func(ctx context.Context, req *Request) (any, error)

// Options tunes a handler; nil means the defaults below.
type Options struct {
	// MaxBodyBytes bounds the request body (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Timeout bounds one call (default DefaultTimeout).
	Timeout time.Duration
	// AllowUnauthenticated lets calls without a token reach the function
	// (default false: they get UNAUTHENTICATED).
	AllowUnauthenticated bool
	// MapError turns domain errors into caller-facing ones; nil results fall
	// back to INTERNAL.
	MapError func(error) *Error
	// Logger receives one line per call (default slog.Default()).
	Logger *slog.Logger
}

// Defaults for Options.
const (
	DefaultMaxBodyBytes = 64 << 10
	DefaultTimeout      = 60 * time.Second
)

// Handler serves fn under the callable protocol.
func Handler(name string, v Verifier, fn Func, opts *Options) http.Handler {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &handler{name: name, verifier: v, fn: fn, opts: o}
}

type handler struct {
	name     string
	verifier Verifier
	fn       Func
	opts     Options
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if cors(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()

	var uid string
	result, err := func() (result any, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("callable %s: panic: %v", h.name, p)
			}
		}()
		req, err := h.decode(ctx, w, r)
		if err != nil {
			return nil, err
		}
		if req.Auth != nil {
			uid = req.Auth.UID
		}
		return h.fn(ctx, req)
	}()

	status := "OK"
	if err != nil {
		cerr := h.toCallerError(err)
		status = string(cerr.Status)
		writeJSON(w, cerr.Status.HTTPCode(), map[string]any{"error": cerr})
		if cerr.Status == Internal {
			h.opts.Logger.ErrorContext(ctx, "callable failed", "function", h.name, "error", err.Error())
		}
	} else {
		writeJSON(w, http.StatusOK, map[string]any{"result": result})
	}
	h.opts.Logger.InfoContext(ctx, "callable", "function", h.name, "status", status,
		"uid", uid, "latencyMs", time.Since(start).Milliseconds())
}

func (h *handler) toCallerError(err error) *Error {
	var cerr *Error
	if errors.As(err, &cerr) {
		return cerr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Errorf(DeadlineExceeded, "the call took too long")
	}
	if h.opts.MapError != nil {
		if mapped := h.opts.MapError(err); mapped != nil {
			return mapped
		}
	}
	return internalError
}

// decode checks the envelope and the token. Every failure here is the
// caller's, so each one names what was wrong.
func (h *handler) decode(ctx context.Context, w http.ResponseWriter, r *http.Request) (*Request, error) {
	if r.Method != http.MethodPost {
		return nil, Errorf(InvalidArgument, "method %s not allowed: use POST", r.Method)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, Errorf(InvalidArgument, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, Errorf(InvalidArgument, "request body exceeds %d bytes", h.opts.MaxBodyBytes)
		}
		return nil, Errorf(InvalidArgument, "cannot read request body")
	}
	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(body, &envelope); err != nil {
		return nil, Errorf(InvalidArgument, "request body must be a JSON object {\"data\": ...}")
	}
	data, ok := envelope["data"]
	if !ok || len(envelope) != 1 {
		return nil, Errorf(InvalidArgument, "request body must have exactly one member, \"data\"")
	}
	req := &Request{Data: data}

	authz := r.Header.Get("Authorization")
	if authz == "" {
		if !h.opts.AllowUnauthenticated {
			return nil, Errorf(Unauthenticated, "this function requires a signed-in caller")
		}
		return req, nil
	}
	token, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || token == "" {
		return nil, Errorf(Unauthenticated, "Authorization must be \"Bearer <Firebase ID token>\"")
	}
	verified, err := h.verifier.VerifyIDToken(ctx, token)
	if err != nil {
		// The verifier's message says why (expired, wrong audience...), which
		// helps the developer and reveals nothing secret.
		return nil, Errorf(Unauthenticated, "invalid ID token: %s", verifyReason(err))
	}
	req.Auth = &Auth{UID: verified.UID, Token: verified}
	return req, nil
}

// verifyReason keeps the verifier's first sentence: enough to tell an expired
// token from a wrong project, without echoing the token back.
func verifyReason(err error) string {
	msg := err.Error()
	if i := strings.IndexAny(msg, ";\n"); i > 0 {
		msg = msg[:i]
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// cors answers a preflight and adds the response headers a browser needs;
// it reports whether the request was fully handled.
func cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin != "" {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
	}
	if r.Method != http.MethodOptions {
		return false
	}
	w.Header().Set("Access-Control-Allow-Methods", "POST")
	if hdrs := r.Header.Get("Access-Control-Request-Headers"); hdrs != "" {
		w.Header().Set("Access-Control-Allow-Headers", hdrs)
		w.Header().Add("Vary", "Access-Control-Request-Headers")
	}
	w.Header().Set("Access-Control-Max-Age", "3600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"status":"INTERNAL","message":"INTERNAL"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}
