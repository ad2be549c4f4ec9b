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
// # Streaming
//
// A call with Accept: text/event-stream (httpsCallable(...).stream() in the
// client SDKs) is answered 200 with server-sent events, as the Node server
// answers it: any chunks the function sends ({"message": ...}, see
// [Request.SendChunk]), then the {"result": ...} or {"error": ...} a plain
// call would get, as the last "data:" event. A heartbeat comment keeps a
// silent call's connection alive ([Options.Heartbeat]). A client that hangs
// up cancels the function's context.
//
// # App Check
//
// With [Options.AppCheck] the X-Firebase-AppCheck header is verified and the
// token handed to the function ([Request.App]); with
// [Options.EnforceAppCheck] a call without a valid one is UNAUTHENTICATED
// before the function runs, as the Node server's enforceAppCheck does.
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

	"firebase.google.com/go/v4/appcheck"
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
	// App is the verified App Check token; nil when the call had none or it
	// did not verify (never, under Options.EnforceAppCheck).
	App *appcheck.DecodedAppCheckToken
	// InstanceIDToken is the Firebase-Instance-ID-Token header (the
	// caller's FCM token), unverified, as the Node server passes it on.
	InstanceIDToken string
	// Data is the raw JSON of the "data" member.
	Data stdjson.RawMessage

	stream *eventStream // nil unless the caller asked for a stream
}

// AcceptsStreaming reports whether the caller reads a stream
// (httpsCallable(...).stream()), so chunks would reach it.
func (r *Request) AcceptsStreaming() bool { return r.stream != nil }

// SendChunk sends v to a streaming caller as one {"message": v} event, which
// the SDK yields from its stream before the result. It reports false, and
// sends nothing, when the caller did not ask for a stream or the call is
// over (the client hung up, the deadline passed); the error is v's encoding
// error.
func (r *Request) SendChunk(v any) (bool, error) {
	if r.stream == nil {
		return false, nil
	}
	return r.stream.chunk(v)
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
	// AppCheck verifies the X-Firebase-AppCheck header when present (nil:
	// the header is not read, and Request.App is always nil).
	AppCheck AppCheckVerifier
	// EnforceAppCheck refuses calls without a valid App Check token
	// (UNAUTHENTICATED). It needs AppCheck; without one every call fails
	// INTERNAL rather than skip the check.
	EnforceAppCheck bool
	// Heartbeat is how long a streaming call may stay silent before a
	// heartbeat is written (default DefaultHeartbeat; negative: never).
	Heartbeat time.Duration
	// MapError turns domain errors into caller-facing ones; nil results fall
	// back to INTERNAL.
	MapError func(error) *Error
	// Logger receives one line per call (default slog.Default()).
	Logger *slog.Logger

	// now and newTicker drive heartbeats; tests replace them.
	now       func() time.Time
	newTicker ticker
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
	if o.Heartbeat == 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.newTicker == nil {
		o.newTicker = realTicker
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
	var stream *eventStream
	if acceptsStreaming(r) {
		stream = newEventStream(w, ctx, cancel, h.opts.now)
	}

	info := callInfo{appCheck: appCheckMissing}
	result, err := func() (result any, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("callable %s: panic: %v", h.name, p)
			}
		}()
		req, err := h.decode(ctx, w, r, &info)
		if err != nil {
			return nil, err
		}
		if stream != nil {
			req.stream = stream
			stream.begin()
			// Deferred after the recover, so it runs first: no heartbeat
			// can follow the final event, even after a panic.
			defer stream.heartbeats(h.opts.Heartbeat, h.opts.newTicker)()
		}
		return h.fn(ctx, req)
	}()

	status := "OK"
	level := slog.LevelInfo
	attrs := []any{"function", h.name}
	var code int
	var body []byte
	if err != nil {
		cerr := h.toCallerError(err)
		status = string(cerr.Status)
		code, body = cerr.Status.HTTPCode(), encodeBody("error", cerr)
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
		code, body = http.StatusOK, encodeBody("result", result)
	}
	if body == nil {
		code, body = http.StatusInternalServerError, internalBody
		status, level = string(Internal), slog.LevelError
		attrs = append(attrs, "encodeError", fmt.Sprintf("callable %s: the answer is not JSON-encodable", h.name))
	}
	switch {
	case stream == nil:
		writeJSON(w, code, body)
	case r.Context().Err() != nil || stream.broken():
		// The client hung up: like the Node server, write nothing more.
		status, level = string(Cancelled), slog.LevelWarn
		attrs = append(attrs, "clientGone", true)
	default:
		// An event stream is 200 whatever the outcome; the status is in
		// the event, where the SDK reads it.
		stream.final(body)
	}
	if stream != nil {
		attrs = append(attrs, "stream", true)
	}
	attrs = append(attrs, "status", status, "uid", info.uid, "appCheck", info.appCheck)
	if info.appCheckErr != "" {
		attrs = append(attrs, "appCheckError", info.appCheckErr)
	}
	attrs = append(attrs, "latencyMs", time.Since(start).Milliseconds())
	h.opts.Logger.Log(ctx, level, "callable", attrs...)
}

// callInfo is what the log line says about the caller.
type callInfo struct {
	uid         string
	appCheck    string // one of the appCheck* outcomes
	appCheckErr string // why the token did not verify
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
func (h *handler) decode(ctx context.Context, w http.ResponseWriter, r *http.Request, info *callInfo) (*Request, error) {
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
	req := &Request{Data: data, InstanceIDToken: r.Header.Get("Firebase-Instance-ID-Token")}
	if err := h.authenticate(ctx, r, req); err != nil {
		return nil, err
	}
	if req.Auth != nil {
		info.uid = req.Auth.UID
	}
	if err := h.checkApp(r, req, info); err != nil {
		return nil, err
	}
	return req, nil
}

// authenticate verifies the ID token, if any, into req.Auth.
func (h *handler) authenticate(ctx context.Context, r *http.Request, req *Request) error {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		if !h.opts.AllowUnauthenticated {
			return Errorf(Unauthenticated, "this function requires a signed-in caller")
		}
		return nil
	}
	// The scheme is case-insensitive (RFC 9110 section 11.1): "bearer"
	// is as good as "Bearer".
	scheme, token, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Errorf(Unauthenticated, "Authorization must be \"Bearer <Firebase ID token>\"")
	}
	verify := h.verifier.VerifyIDToken
	if h.opts.CheckRevoked {
		rv, ok := h.verifier.(RevocationVerifier)
		if !ok {
			return fmt.Errorf("callable %s: CheckRevoked with a verifier (%T) that cannot check revocation", h.name, h.verifier)
		}
		verify = rv.VerifyIDTokenAndCheckRevoked
	}
	verified, err := verify(ctx, token)
	if err != nil {
		// The verifier's message says why (expired, wrong audience...), which
		// helps the developer and reveals nothing secret.
		return Errorf(Unauthenticated, "invalid ID token: %s", verifyReason(err))
	}
	req.Auth = &Auth{UID: verified.UID, Token: verified}
	return nil
}

// checkApp verifies the App Check token, if any, into req.App, and refuses
// the call under enforcement when there is no valid one. Without
// enforcement a bad token is only logged, as the Node server does.
func (h *handler) checkApp(r *http.Request, req *Request, info *callInfo) error {
	token := r.Header.Get(appCheckHeader)
	enforce := h.opts.EnforceAppCheck
	switch {
	case token == "" && enforce:
		return Errorf(Unauthenticated, "this function requires an App Check token")
	case token == "":
		return nil
	case h.opts.AppCheck == nil && enforce:
		return fmt.Errorf("callable %s: EnforceAppCheck without an App Check verifier", h.name)
	case h.opts.AppCheck == nil:
		info.appCheck = appCheckUnverified
		return nil
	}
	app, err := verifyAppCheck(h.opts.AppCheck, token)
	if err != nil {
		info.appCheck, info.appCheckErr = appCheckInvalid, verifyReason(err)
		if enforce {
			// Unlike an ID token's, the reason stays in the log: App Check
			// is there against scripted callers, who should learn nothing.
			return Errorf(Unauthenticated, "invalid App Check token")
		}
		return nil
	}
	info.appCheck = appCheckValid
	req.App = app
	return nil
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
	// The answer reflects Access-Control-Request-Headers, so it varies with
	// it, also when a request had none (as the cors middleware says).
	w.Header().Add("Vary", "Access-Control-Request-Headers")
	if hdrs := r.Header.Get("Access-Control-Request-Headers"); hdrs != "" {
		w.Header().Set("Access-Control-Allow-Headers", hdrs)
	}
	w.Header().Set("Access-Control-Max-Age", "3600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// internalBody is the answer when even an error cannot be encoded.
var internalBody = []byte(`{"error":{"status":"INTERNAL","message":"INTERNAL"}}`)

// encodeBody encodes {key: v} on one line (an SSE event is one line), or
// returns nil when v cannot be encoded.
func encodeBody(key string, v any) []byte {
	b, err := stdjson.Marshal(map[string]any{key: v})
	if err != nil {
		return nil
	}
	return b
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
