// Package callable serves the Firebase callable protocol in Go, the server
// half of the client SDKs' httpsCallable
// (https://firebase.google.com/docs/functions/callable-reference).
//
// # Protocol
//
// A call is POST with Content-Type application/json and the body
// {"data": <any JSON>}, optionally with Authorization: Bearer <Firebase ID
// token> (the scheme in any case). Success is 200 {"result": <JSON>};
// failure is {"error": {"status", "message", "details"}} with the HTTP code
// of the status. A present but unverifiable token is UNAUTHENTICATED before
// the function runs. A status outside the protocol's list is sent as
// INTERNAL, and a cancelled or timed-out call as CANCELLED or
// DEADLINE_EXCEEDED. Browsers' CORS preflight is answered with the Origin
// reflected, as the reference server's default cors middleware does; every
// answer carries Vary: Origin.
//
// # Typed functions
//
// [Typed] decodes the data strictly into a request struct (exact field
// names, no duplicate keys at any depth of the body, no unknown fields, no
// wrong types: INVALID_ARGUMENT naming the field) and calls its Validate
// method, so handlers receive only well-formed input. Integer fields take a
// JSON number or Firebase's 64-bit wrapper {"@type":
// "type.googleapis.com/google.protobuf.Int64Value" (or UInt64Value),
// "value": "<decimal>"}, which the iOS and Android SDKs send for Int and
// Long.
package callable

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"firebase.google.com/go/v4/auth"
	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Verifier checks a Firebase ID token; *auth.Client satisfies it.
type Verifier interface {
	VerifyIDToken(ctx context.Context, idToken string) (*auth.Token, error)
}

// RevocationVerifier also checks that the token's user has not had their
// tokens revoked (or been disabled) since it was issued, at the cost of one
// Auth lookup; *auth.Client satisfies it.
type RevocationVerifier interface {
	Verifier
	VerifyIDTokenAndCheckRevoked(ctx context.Context, idToken string) (*auth.Token, error)
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
	Data stdjson.RawMessage
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
	// CheckRevoked refuses tokens revoked since they were issued (default
	// false: an ID token is good until it expires, within the hour). The
	// verifier must then be a RevocationVerifier; if it is not, every call
	// fails INTERNAL rather than skip the check.
	CheckRevoked bool
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
	level := slog.LevelInfo
	attrs := []any{"function", h.name}
	if err != nil {
		cerr := h.toCallerError(err)
		status = string(cerr.Status)
		writeJSON(w, cerr.Status.HTTPCode(), map[string]any{"error": cerr})
		// The caller got the status and the domain sentence; the whole
		// chain is for the log. A caller who hung up or ran out of time is
		// no server fault: WARNING, so ERROR alerts mean something.
		switch cerr.Status {
		case Internal:
			level = slog.LevelError
		case Cancelled, DeadlineExceeded:
			level = slog.LevelWarn
		}
		attrs = append(attrs, "error", err.Error())
	} else {
		writeJSON(w, http.StatusOK, map[string]any{"result": result})
	}
	attrs = append(attrs, "status", status, "uid", uid, "latencyMs", time.Since(start).Milliseconds())
	h.opts.Logger.Log(ctx, level, "callable", attrs...)
}

func (h *handler) toCallerError(err error) *Error {
	var cerr *Error
	switch {
	case errors.As(err, &cerr):
	case errors.Is(err, context.Canceled):
		// The client went away (or the platform cancelled the request).
		return Errorf(Cancelled, "the call was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return Errorf(DeadlineExceeded, "the call took too long")
	case h.opts.MapError != nil:
		cerr = h.opts.MapError(err)
	}
	if cerr == nil || !cerr.Status.valid() {
		// A status the SDKs do not know would reach the app as a generic
		// failure anyway; the Node server answers such errors as INTERNAL.
		return internalError
	}
	return cerr
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
	// The envelope is decoded as strictly as the data (see strictOptions):
	// {"data":1,"data":2} or {"DATA":...} would otherwise be read one way
	// here and another way by whatever else reads the body. Duplicate
	// names are refused at every depth, in data too.
	var envelope struct {
		Data jsontext.Value `json:"data"`
	}
	if err := json.Unmarshal(body, &envelope, json.RejectUnknownMembers(true)); err != nil {
		var synErr *jsontext.SyntacticError
		if errors.As(err, &synErr) && errors.Is(err, jsontext.ErrDuplicateName) {
			path := slices.Collect(synErr.JSONPointer.Tokens())
			if len(path) > 1 { // inside data: named as DecodeData names fields
				return nil, Errorf(InvalidArgument, "duplicate field %q", strings.Join(path[1:], "."))
			}
			return nil, Errorf(InvalidArgument, "duplicate key %q in the request body", strings.Join(path, "."))
		}
		if errors.Is(err, json.ErrUnknownName) {
			return nil, Errorf(InvalidArgument, "request body must have exactly one member, \"data\"")
		}
		return nil, Errorf(InvalidArgument, "request body must be a JSON object {\"data\": ...}")
	}
	data := stdjson.RawMessage(envelope.Data)
	if data == nil {
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
	// The scheme is case-insensitive (RFC 9110 section 11.1): "bearer"
	// is as good as "Bearer".
	scheme, token, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, Errorf(Unauthenticated, "Authorization must be \"Bearer <Firebase ID token>\"")
	}
	verify := h.verifier.VerifyIDToken
	if h.opts.CheckRevoked {
		rv, ok := h.verifier.(RevocationVerifier)
		if !ok {
			return nil, fmt.Errorf("callable %s: CheckRevoked with a verifier (%T) that cannot check revocation", h.name, h.verifier)
		}
		verify = rv.VerifyIDTokenAndCheckRevoked
	}
	verified, err := verify(ctx, token)
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
	// Every answer varies with Origin, also one to a request without it: a
	// shared cache must not serve that answer to a browser that sends one.
	w.Header().Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); origin != "" {
		w.Header().Set("Access-Control-Allow-Origin", origin)
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
	if err := stdjson.NewEncoder(&buf).Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"status":"INTERNAL","message":"INTERNAL"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}
