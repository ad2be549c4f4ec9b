package callable

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The conformance table: every HTTP-observable case of the Node server's own
// tests, firebase/firebase-functions
//
//	spec/common/providers/https.spec.ts  (onCallHandler, the protocol)
//	spec/v2/providers/https.spec.ts      (onCall)
//	spec/v1/providers/https.spec.ts      (#onCall, callable CORS)
//
// as one row, replayed over real HTTP against Handler, each row naming its
// source case. The handler runs with the Node server's defaults where ours
// differ by option (anonymous calls allowed, App Check verified when sent);
// rows marked "ours:" pin what we answer where we deliberately differ, and
// the README (The callable protocol) lists every difference with its
// reason, and the cases that are not HTTP-observable (trigger annotations,
// .run, encode/decode unit tests of values a Go function cannot hold).
//
// Bodies are compared as JSON values (the Node server orders error members
// message-then-status, we status-then-message; no SDK cares), SSE events
// one by one. Headers are compared as the whole set a client receives,
// except Date and Content-Length, which is checked against the body (and
// must be absent on a 204, RFC 9110 section 8.6).

// origin is the Origin of the spec's mockRequest.
const origin = "example.com"

// sp is the spec's mockRequest(data, contentType, context, reqHeaders):
// Content-Type application/json and Origin example.com unless replaced;
// an empty value removes a header.
func sp(extra ...string) map[string]string {
	h := map[string]string{"Content-Type": "application/json", "Origin": origin}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

// Response headers: the spec's expectedResponseHeaders (Access-Control-
// Allow-Origin example.com, Vary Origin) plus what a real HTTP answer has.
func jsonHeaders(origin string) map[string]string {
	h := map[string]string{"Content-Type": "application/json; charset=utf-8", "Vary": "Origin"}
	if origin != "" {
		h["Access-Control-Allow-Origin"] = origin
	}
	return h
}

func sseHeaders(origin string) map[string]string {
	h := map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Vary": "Origin"}
	if origin != "" {
		h["Access-Control-Allow-Origin"] = origin
	}
	return h
}

func preflightHeaders(origin, allowHeaders string) map[string]string {
	h := map[string]string{
		"Access-Control-Allow-Methods": "POST",
		"Access-Control-Max-Age":       "3600",
		"Vary":                         "Origin, Access-Control-Request-Headers",
	}
	if origin != "" {
		h["Access-Control-Allow-Origin"] = origin
	}
	if allowHeaders != "" {
		h["Access-Control-Allow-Headers"] = allowHeaders
	}
	return h
}

type conformanceRow struct {
	name   string // "<spec file>: <case name>", or "ours: ..."
	fn     Func   // nil: returns (nil, nil), the spec's () => {return;}
	opts   Options
	clock  *fakeClock // drives heartbeats when set
	method string     // default POST
	header map[string]string
	body   string // default {"data":null}, the spec's mockRequest(null)

	wantCode   int
	wantHeader map[string]string
	wantBody   string // JSON, or SSE events; "" for no body

	// requireAuth refuses anonymous calls, as our functions do (the Node
	// server and the other rows let them through); noAppCheck leaves the
	// App Check verifier out (the other rows have the real one).
	requireAuth, noAppCheck bool

	// read replaces reading the whole body (the disconnect case); after
	// runs once the answer is read.
	read  func(t *testing.T, resp *http.Response) []byte
	after func(t *testing.T)
}

func TestConformance(t *testing.T) {
	const (
		internal     = `{"error":{"status":"INTERNAL","message":"INTERNAL"}}`
		resultNull   = `{"result":null}`
		streamHeader = "Accept"
		sse          = "text/event-stream"
	)
	var (
		// The spec's handlers, over our Request.
		returns = func(v any) Func {
			return func(context.Context, *Request) (any, error) { return v, nil }
		}
		fails = func(err error) Func {
			return func(context.Context, *Request) (any, error) { return nil, err }
		}
		// expect fails the call (500, not the spec's body) when the
		// request the function got is not as the case says.
		expect = func(check func(*Request) error) Func {
			return func(_ context.Context, r *Request) (any, error) {
				if err := check(r); err != nil {
					return nil, &Error{Status: DataLoss, Message: err.Error()}
				}
				return nil, nil
			}
		}
		authIs = func(uid string) Func {
			return expect(func(r *Request) error {
				if r.Auth == nil || r.Auth.UID != uid {
					return errors.New("want auth " + uid)
				}
				return nil
			})
		}
		appIs = func(appID string) Func {
			return expect(func(r *Request) error {
				switch {
				case appID == "" && r.App != nil:
					return errors.New("want no app")
				case appID != "" && (r.App == nil || r.App.AppID != appID):
					return errors.New("want app " + appID)
				}
				return nil
			})
		}
		enforced = Options{EnforceAppCheck: true}
		unauth   = func(msg string) string {
			return `{"error":{"status":"UNAUTHENTICATED","message":"` + msg + `"}}`
		}
		badRequest = func(msg string) string {
			return `{"error":{"status":"INVALID_ARGUMENT","message":"` + msg + `"}}`
		}
	)

	disconnect := struct {
		sent2 chan bool
		err   chan error
	}{make(chan bool, 1), make(chan error, 1)}
	hb, hbChunk, hbOff := newFakeClock(), newFakeClock(), newFakeClock()

	rows := []conformanceRow{
		// ---- spec/common/providers/https.spec.ts, describe onCallHandler ----
		{name: "common: should handle success", fn: returns(map[string]string{"baz": "qux"}),
			header: sp(), body: `{"data":{"foo":"bar"}}`,
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: `{"result":{"baz":"qux"}}`},
		{name: "common: should handle null data and return", fn: expect(func(r *Request) error {
			if string(r.Data) != "null" {
				return errors.New("want data null")
			}
			return nil
		}), header: sp(), wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		{name: "common: should handle void return", header: sp(),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		// Node's message is "Bad Request" for every envelope fault; ours
		// names the fault (README).
		{name: "common: should reject bad method", method: "GET", header: sp(),
			wantCode: 400, wantHeader: jsonHeaders(origin), wantBody: badRequest("method GET not allowed: use POST")},
		{name: "common: should ignore charset", header: sp("Content-Type", "application/json; charset=utf-8"),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		{name: "common: should reject bad content type", header: sp("Content-Type", "text/plain"),
			wantCode: 400, wantHeader: jsonHeaders(origin), wantBody: badRequest("Content-Type must be application/json")},
		{name: "common: should reject extra body fields", header: sp(), body: `{"data":null,"extra":"bad"}`,
			wantCode: 400, wantHeader: jsonHeaders(origin), wantBody: badRequest(`request body must have exactly one member, \"data\"`)},
		{name: "common: should handle unhandled error", fn: fails(errors.New("ceci n'est pas une error")), header: sp(),
			wantCode: 500, wantHeader: jsonHeaders(origin), wantBody: internal},
		{name: "common: should handle unknown error status", fn: fails(&Error{Status: "THIS_IS_NOT_VALID", Message: "nope"}), header: sp(),
			wantCode: 500, wantHeader: jsonHeaders(origin), wantBody: internal},
		{name: "common: should handle well-formed error", fn: fails(&Error{Status: NotFound, Message: "i am error"}), header: sp(),
			wantCode: 404, wantHeader: jsonHeaders(origin), wantBody: `{"error":{"status":"NOT_FOUND","message":"i am error"}}`},

		// ---- common, describe auth (ID tokens: fakeVerifier, "good-<uid>";
		// the real verifier against the Auth emulator is functions/'s) ----
		{name: "common: auth: should handle auth", fn: authIs("alice"), header: sp("Authorization", "Bearer good-alice"),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		{name: "common: auth: should handle auth - case insensitive", fn: authIs("alice"), header: sp("Authorization", "bearer good-alice"),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		// Node: "Unauthenticated"; ours says what was wrong.
		{name: "common: auth: should reject auth with incorrect authorization header", header: sp("Authorization", "Beaver heyyall"),
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth(`Authorization must be \"Bearer <Firebase ID token>\"`)},
		{name: "common: auth: should reject bad auth with bad signature", header: sp("Authorization", "Bearer unsigned"),
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth("invalid ID token: ID token has expired at: 1700000000")},

		// ---- common, describe AppCheck > verify token (the real
		// firebase-admin-go verifier, keys from appcheck_test.go) ----
		{name: "common: AppCheck: should handle AppCheck token", fn: appIs(testAppID), opts: enforced,
			header:   sp("X-Firebase-AppCheck", validAppToken()),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		// Node: "Unauthenticated"; ours names App Check, not why.
		{name: "common: AppCheck: should reject bad AppCheck token", opts: enforced,
			header:   sp("X-Firebase-AppCheck", unsignedAppToken()),
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth("invalid App Check token")},
		{name: "common: AppCheck: should handle bad AppCheck token with enforcement disabled", fn: appIs(""),
			header:   sp("X-Firebase-AppCheck", "FAKE"),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		{name: "common: AppCheck: should handle bad AppCheck token with enforcement enabled", opts: enforced,
			header:   sp("X-Firebase-AppCheck", "FAKE"),
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth("invalid App Check token")},
		// The spec sends the literal token "MISSING"; the header left out
		// is the row after.
		{name: "common: AppCheck: should handle no AppCheck token with enforcement enabled", opts: enforced,
			header:   sp("X-Firebase-AppCheck", "MISSING"),
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth("invalid App Check token")},
		{name: "ours: AppCheck: no header with enforcement enabled", opts: enforced, header: sp(),
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth("this function requires an App Check token")},
		{name: "ours: AppCheck: expired token, enforced", opts: enforced, header: sp("X-Firebase-AppCheck", expiredAppToken()),
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth("invalid App Check token")},
		{name: "ours: AppCheck: expired token, not enforced", fn: appIs(""), header: sp("X-Firebase-AppCheck", expiredAppToken()),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		{name: "ours: AppCheck: wrong audience, enforced", opts: enforced, header: sp("X-Firebase-AppCheck", wrongAudienceAppToken()),
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth("invalid App Check token")},
		{name: "ours: AppCheck: wrong audience, not enforced", fn: appIs(""), header: sp("X-Firebase-AppCheck", wrongAudienceAppToken()),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		{name: "ours: AppCheck: valid token, not enforced", fn: appIs(testAppID), header: sp("X-Firebase-AppCheck", validAppToken()),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		{name: "ours: AppCheck: no header, not enforced", fn: appIs(""), header: sp(),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		// Signed, so past the signature check, where the SDK panics.
		{name: "ours: AppCheck: string audience (SDK panic), enforced", opts: enforced, header: sp("X-Firebase-AppCheck", stringAudienceAppToken()),
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth("invalid App Check token")},
		{name: "ours: AppCheck: no exp (SDK panic), enforced", opts: enforced, header: sp("X-Firebase-AppCheck", noExpiryAppToken()),
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth("invalid App Check token")},
		{name: "ours: AppCheck: enforced without a verifier fails closed", opts: enforced, noAppCheck: true,
			header:   sp("X-Firebase-AppCheck", validAppToken()),
			wantCode: 500, wantHeader: jsonHeaders(origin), wantBody: internal},
		{name: "common: AppCheck: should handle instance id", fn: expect(func(r *Request) error {
			if r.Auth != nil || r.InstanceIDToken != "iid-token" {
				return errors.New("want no auth and instance id iid-token")
			}
			return nil
		}), header: sp("Firebase-Instance-ID-Token", "iid-token"),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		// The raw request itself is not handed to Go functions (README).
		{name: "common: AppCheck: should expose raw request", header: sp(),
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},

		// ---- common, describe Streaming callables ----
		{name: "common: Streaming: returns data in SSE format for requests Accept: text/event-stream header",
			fn: func(_ context.Context, r *Request) (any, error) {
				if ok, err := r.SendChunk("hello"); !ok || err != nil {
					return nil, errors.New("chunk not sent")
				}
				return "world", nil
			}, header: sp(streamHeader, sse), body: `{"data":{"message":"hello streaming"}}`,
			wantCode: 200, wantHeader: sseHeaders(origin), wantBody: "data: {\"message\":\"hello\"}\n\ndata: {\"result\":\"world\"}\n\n"},
		{name: "common: Streaming: returns error in SSE format", fn: fails(errors.New("BOOM")),
			header: sp(streamHeader, sse), body: `{"data":{"message":"hello streaming"}}`,
			wantCode: 200, wantHeader: sseHeaders(origin), wantBody: "data: " + internal + "\n\n"},
		{name: "ours: Streaming: a function that streams nothing", fn: returns(map[string]int{"n": 1}),
			header: sp(streamHeader, sse), wantCode: 200, wantHeader: sseHeaders(origin), wantBody: "data: {\"result\":{\"n\":1}}\n\n"},
		{name: "ours: Streaming: an envelope error is an event too", header: sp(streamHeader, sse), body: `{"nodata":1}`,
			wantCode: 200, wantHeader: sseHeaders(origin), wantBody: "data: " + badRequest(`request body must have exactly one member, \"data\"`) + "\n\n"},
		{name: "ours: Streaming: a domain error keeps its status in the event", fn: fails(&Error{Status: NotFound, Message: "i am error"}),
			header: sp(streamHeader, sse), wantCode: 200, wantHeader: sseHeaders(origin),
			wantBody: "data: {\"error\":{\"status\":\"NOT_FOUND\",\"message\":\"i am error\"}}\n\n"},
		{name: "ours: Streaming: SendChunk without a stream sends nothing", fn: func(_ context.Context, r *Request) (any, error) {
			ok, err := r.SendChunk("hello")
			return map[string]any{"sent": ok, "streaming": r.AcceptsStreaming()}, err
		}, header: sp(), wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: `{"result":{"sent":false,"streaming":false}}`},
		// The client reads the first event and hangs up; the function
		// must see its context cancelled and its next chunk refused.
		{name: "common: Streaming: stops processing when client disconnects",
			fn: func(ctx context.Context, r *Request) (any, error) {
				if ok, _ := r.SendChunk("initial message"); !ok {
					return nil, errors.New("first chunk not sent")
				}
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Second): // a bound, not a proof
				}
				disconnect.err <- ctx.Err()
				ok, _ := r.SendChunk("should not be sent")
				disconnect.sent2 <- ok
				return "done", nil
			}, header: sp(streamHeader, sse), body: `{"data":{"message":"test abort"}}`,
			wantCode: 200, wantHeader: sseHeaders(origin), wantBody: "data: {\"message\":\"initial message\"}\n\n",
			read: func(t *testing.T, resp *http.Response) []byte {
				event, err := bufio.NewReader(resp.Body).ReadString('\n')
				require.NoError(t, err)
				event += "\n"
				require.NoError(t, resp.Body.Close()) // before the end: the connection closes
				return []byte(event)
			},
			after: func(t *testing.T) {
				require.ErrorIs(t, <-disconnect.err, context.Canceled)
				require.False(t, <-disconnect.sent2, "a chunk after the hang-up was accepted")
			}},
		// Heartbeats: the clock and the ticks are the test's, as the spec's
		// sinon fake timers; the heartbeat loop sees each tick before the
		// function goes on, so the body is exact.
		{name: "common: Streaming: Heartbeats: sends heartbeat messages at specified interval", clock: hb,
			opts: Options{Heartbeat: 5 * time.Second},
			fn: func(context.Context, *Request) (any, error) {
				for range 2 {
					hb.advance(5 * time.Second)
					hb.tick()
				}
				hb.advance(time.Second) // 11 s in all
				return "done", nil
			}, header: sp(streamHeader, sse), body: `{"data":{"message":"test heartbeat"}}`,
			wantCode: 200, wantHeader: sseHeaders(origin), wantBody: ": ping\n\n: ping\n\ndata: {\"result\":\"done\"}\n\n"},
		{name: "common: Streaming: Heartbeats: doesn't send heartbeat messages if user writes data", clock: hbChunk,
			opts: Options{Heartbeat: 5 * time.Second},
			fn: func(_ context.Context, r *Request) (any, error) {
				hbChunk.advance(3 * time.Second)
				if ok, _ := r.SendChunk("hello"); !ok {
					return nil, errors.New("chunk not sent")
				}
				hbChunk.advance(3 * time.Second) // 6 s from the start, 3 from the chunk
				hbChunk.tick()
				return "done", nil
			}, header: sp(streamHeader, sse), body: `{"data":{"message":"test heartbeat"}}`,
			wantCode: 200, wantHeader: sseHeaders(origin), wantBody: "data: {\"message\":\"hello\"}\n\ndata: {\"result\":\"done\"}\n\n"},
		// heartbeatSeconds: null is a negative Heartbeat here.
		{name: "common: Streaming: Heartbeats: respects null heartbeatSeconds option", clock: hbOff,
			opts: Options{Heartbeat: -1},
			fn: func(context.Context, *Request) (any, error) {
				hbOff.advance(31 * time.Second)
				hbOff.tick()
				return "done", nil
			}, header: sp(streamHeader, sse), body: `{"data":{"message":"test no heartbeat"}}`,
			wantCode: 200, wantHeader: sseHeaders(origin), wantBody: "data: {\"result\":\"done\"}\n\n"},

		// ---- common, describe CORS resolution (we reflect every origin,
		// as the Node default cors: true; see README) ----
		{name: "common: CORS resolution: should resolve Expression origin", header: sp("Origin", "example.org"),
			wantCode: 200, wantHeader: jsonHeaders("example.org"), wantBody: resultNull},
		{name: "common: CORS resolution: should resolve Expression list origin", header: sp("Origin", "example.org"),
			wantCode: 200, wantHeader: jsonHeaders("example.org"), wantBody: resultNull},

		// ---- common, describe encoding/decoding, where a request or a
		// result crosses HTTP (a Go function's data and results are typed) ----
		{name: "common: encoding: decodes int / long / unsigned long / double / string / object", fn: Typed(
			func(_ context.Context, _ *Auth, r wrapperReq) (wrapperReq, error) { return r, nil }),
			header: sp(), body: `{"data":{"long":{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"-9223372036854775000"},` +
				`"ulong":{"@type":"type.googleapis.com/google.protobuf.UInt64Value","value":"9223372036854800000"},` +
				`"int":1,"double":1.2,"string":"hello",` +
				`"foo":1,"bar":"hello","baz":[1,2,{"value":"1099511627776","@type":"type.googleapis.com/google.protobuf.Int64Value"}]}}`,
			wantCode: 200, wantHeader: jsonHeaders(origin),
			wantBody: `{"result":{"long":-9223372036854775000,"ulong":9223372036854800000,"int":1,"double":1.2,"string":"hello",` +
				`"foo":1,"bar":"hello","baz":[1,2,1099511627776]}}`},
		{name: "common: encoding: encodes null / int / long / unsigned long / double / string / array / object",
			fn: returns(map[string]any{"null": nil, "int": 1, "long": int64(-9223372036854775000), "ulong": uint64(9223372036854800000),
				"double": 1.2, "string": "hello", "array": []any{1, "2", []int{3, 4}}, "object": map[string]any{"foo": 1, "bar": "hello", "baz": []int{1, 2, 3}}}),
			header: sp(), wantCode: 200, wantHeader: jsonHeaders(origin),
			wantBody: `{"result":{"null":null,"int":1,"long":-9223372036854775000,"ulong":9223372036854800000,"double":1.2,"string":"hello",` +
				`"array":[1,"2",[3,4]],"object":{"foo":1,"bar":"hello","baz":[1,2,3]}}}`},
		// Node encodes a function as {}; a Go func in a result is a bug,
		// answered INTERNAL.
		{name: "ours: encoding: encodes function as an empty object (INTERNAL here)", fn: returns(map[string]any{"f": func() {}}),
			header: sp(), wantCode: 500, wantHeader: jsonHeaders(origin), wantBody: internal},

		// ---- spec/v2/providers/https.spec.ts, describe onCall ----
		// request() there: Content-Type application/json, body {data: {}}.
		{name: "v2: onCall: should be an express handler", fn: returns(42), header: sp(), body: `{"data":{}}`,
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: `{"result":42}`},
		// cors: "example.com" there; we reflect any origin (README). The
		// mock's capitalised header keys hide Access-Control-Request-
		// Headers from the cors middleware; over HTTP it is reflected. Node
		// sends Content-Length: 0, which RFC 9110 forbids on a 204.
		{name: "v2: onCall: should enforce CORS options", method: "OPTIONS",
			header:   map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "origin", "Origin": origin},
			wantCode: 204, wantHeader: preflightHeaders(origin, "origin")},
		{name: "v2: onCall: should allow cors params", method: "OPTIONS",
			header:   map[string]string{"Referrer": origin, "Content-Type": "application/json", "Origin": origin},
			wantCode: 204, wantHeader: preflightHeaders(origin, "")},
		{name: "v2: onCall: should allow boolean params for enforceAppCheck", fn: returns(42), opts: enforced,
			header: sp(), body: `{"data":{}}`,
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth("this function requires an App Check token")},
		{name: "v2: onCall: overrides CORS headers if debug feature is enabled", method: "OPTIONS",
			header:   map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "origin", "Origin": "localhost"},
			wantCode: 204, wantHeader: preflightHeaders("localhost", "origin")},
		{name: "v2: onCall: adds CORS headers", fn: returns(42), header: sp(), body: `{"data":{}}`,
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: `{"result":42}`},
		{name: "v2: onCall: calls init function (the HTTP answer)", fn: returns(42), header: sp(), body: `{"data":{}}`,
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: `{"result":42}`},
		{name: "v2: onCall: should not warn when using Expression-based cors config during deployment", method: "OPTIONS",
			header:   map[string]string{"Referrer": "http://localhost:5173", "Content-Type": "application/json", "Origin": "http://localhost:5173"},
			wantCode: 204, wantHeader: preflightHeaders("http://localhost:5173", "")},
		// authPolicy: isSignedIn() there is 403 for an anonymous caller;
		// our functions refuse one UNAUTHENTICATED before any policy
		// (AllowUnauthenticated false, README).
		{name: "v2: onCall: authPolicy: should check isSignedIn (signed in)", fn: returns(42), header: sp("Authorization", "Bearer good-inlined"), body: `{"data":{}}`,
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: `{"result":42}`},
		{name: "ours: authPolicy: anonymous caller where a sign-in is required", fn: returns(42), requireAuth: true,
			header: sp(), body: `{"data":{}}`,
			wantCode: 401, wantHeader: jsonHeaders(origin), wantBody: unauth("this function requires a signed-in caller")},
		// onCallGenkit's wire format: chunks, then the result.
		{name: "v2: onCallGenkit: Streams with SSE requests (the wire format)", fn: func(_ context.Context, r *Request) (any, error) {
			for _, c := range []int{1, 2} {
				if ok, _ := r.SendChunk(c); !ok {
					return nil, errors.New("chunk not sent")
				}
			}
			return 42, nil
		}, header: map[string]string{"Content-Type": "application/json", streamHeader: sse}, body: `{"data":"answer"}`,
			wantCode: 200, wantHeader: sseHeaders(""), wantBody: "data: {\"message\":1}\n\ndata: {\"message\":2}\n\ndata: {\"result\":42}\n\n"},
		{name: "v2: onCallGenkit: calls with JSON requests (the wire format)", fn: returns(map[string]int{"result": 42}),
			header: map[string]string{"Content-Type": "application/json"}, body: `{"data":"answer"}`,
			wantCode: 200, wantHeader: jsonHeaders(""), wantBody: `{"result":{"result":42}}`},

		// ---- spec/v1/providers/https.spec.ts ----
		{name: "v1: #onCall: should lock to the v1 API even with function.length == 1", fn: expect(func(r *Request) error {
			if string(r.Data) != `{"foo":"bar"}` {
				return errors.New("want data {foo: bar}")
			}
			return nil
		}), header: map[string]string{"Content-Type": "application/json"}, body: `{"data":{"foo":"bar"}}`,
			wantCode: 200, wantHeader: jsonHeaders(""), wantBody: resultNull},
		{name: "v1: #onCall: should call initializer (the HTTP answer)", header: map[string]string{"Content-Type": "application/json"}, body: `{"data":{}}`,
			wantCode: 200, wantHeader: jsonHeaders(""), wantBody: resultNull},
		// The emulator's auth override header must be ignored outside the
		// Node emulator's debug mode: here, always.
		{name: "v1: #onCall: should create context.auth for v1 emulated functions (ignored here)", fn: expect(func(r *Request) error {
			if r.Auth != nil {
				return errors.New("auth taken from x-callable-context-auth")
			}
			return nil
		}), header: sp("X-Callable-Context-Auth", `%7B%22uid%22%3A%22SomeUID%22%7D`), body: `{"data":{"hello":"world"}}`,
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: resultNull},
		// Capitalised keys in the mock hide Origin from the cors
		// middleware; over HTTP it is reflected.
		{name: "v1: callable CORS: handles OPTIONS preflight", method: "OPTIONS",
			header:   map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "origin", "Origin": origin},
			wantCode: 204, wantHeader: preflightHeaders(origin, "origin")},
		{name: "v1: callable CORS: adds CORS headers", fn: returns(42), header: sp(), body: `{"data":{}}`,
			wantCode: 200, wantHeader: jsonHeaders(origin), wantBody: `{"result":42}`},
	}

	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			runConformanceRow(t, row)
		})
	}
}

// wrapperReq echoes the encoding spec's long values.
type wrapperReq struct {
	Long   int64   `json:"long"`
	ULong  uint64  `json:"ulong"`
	Int    int     `json:"int"`
	Double float64 `json:"double"`
	String string  `json:"string"`
	Foo    int     `json:"foo"`
	Bar    string  `json:"bar"`
	Baz    []int64 `json:"baz"`
}

func runConformanceRow(t *testing.T, row conformanceRow) {
	t.Helper()
	opts := row.opts
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.AllowUnauthenticated = !row.requireAuth
	if !row.noAppCheck {
		opts.AppCheck = appCheckVerifier
	}
	if row.clock != nil {
		opts.now, opts.newTicker = row.clock.now, row.clock.newTicker
	}
	fn := row.fn
	if fn == nil {
		fn = func(context.Context, *Request) (any, error) { return nil, nil }
	}
	srv := httptest.NewServer(Handler("conformance", fakeVerifier{}, fn, &opts))
	defer srv.Close()

	method, body := row.method, row.body
	if method == "" {
		method = http.MethodPost
	}
	if body == "" && method != http.MethodOptions {
		body = `{"data":null}`
	}
	req, err := http.NewRequest(method, srv.URL+"/conformance", strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range row.header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var got []byte
	if row.read != nil {
		got = row.read(t, resp)
	} else {
		got, err = io.ReadAll(resp.Body)
		require.NoError(t, err)
	}

	require.Equal(t, row.wantCode, resp.StatusCode, "body: %s", got)
	headers := map[string]string{}
	for k, v := range resp.Header {
		if k != "Date" && k != "Content-Length" {
			headers[k] = strings.Join(v, ", ")
		}
	}
	require.Equal(t, row.wantHeader, headers)
	if cl := resp.Header.Values("Content-Length"); resp.StatusCode == http.StatusNoContent {
		require.Empty(t, cl, "a 204 has no Content-Length (RFC 9110 section 8.6)")
	} else if len(cl) > 0 && row.read == nil {
		require.Equal(t, []string{strconv.Itoa(len(got))}, cl)
	}
	requireSameBody(t, row.wantBody, got)
	if row.after != nil {
		row.after(t)
	}
}

// requireSameBody compares JSON as values and SSE event by event (comments
// exactly, data as JSON values).
func requireSameBody(t *testing.T, want string, got []byte) {
	t.Helper()
	if want == "" {
		require.Empty(t, got)
		return
	}
	if !strings.HasPrefix(want, "data: ") && !strings.HasPrefix(want, ":") {
		requireSameJSON(t, want, string(got))
		return
	}
	require.True(t, strings.HasSuffix(string(got), "\n\n"), "events end with a blank line: %q", got)
	wantEvents := strings.Split(strings.TrimSuffix(want, "\n\n"), "\n\n")
	gotEvents := strings.Split(strings.TrimSuffix(string(got), "\n\n"), "\n\n")
	require.Len(t, gotEvents, len(wantEvents), "events: %q", got)
	for i, w := range wantEvents {
		g := gotEvents[i]
		if wd, ok := strings.CutPrefix(w, "data: "); ok {
			gd, ok := strings.CutPrefix(g, "data: ")
			require.True(t, ok, "event %d: want data, got %q", i, g)
			requireSameJSON(t, wd, gd)
			continue
		}
		require.Equal(t, w, g, "event %d", i)
	}
}

func requireSameJSON(t *testing.T, want, got string) {
	t.Helper()
	decode := func(s string) any {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber() // 64-bit values compared digit for digit
		var v any
		require.NoError(t, d.Decode(&v), "not JSON: %q", s)
		return v
	}
	require.Equal(t, decode(want), decode(got), "body: %s", got)
}

// fakeClock is the heartbeat's clock and ticker. tick hands the loop one
// tick and returns once the loop has taken it; the loop decides on the
// tick's time, so a later advance cannot change that decision.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	made  bool
	ticks chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ticks: make(chan time.Time)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) newTicker(time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.made = true
	return c.ticks, func() {}
}

// tick does nothing when heartbeats are off (no ticker was made).
func (c *fakeClock) tick() {
	c.mu.Lock()
	made := c.made
	c.mu.Unlock()
	if made {
		c.ticks <- c.now()
	}
}

// TestHeartbeatReachesClient: with real timers and a real connection, a
// silent call's heartbeat arrives while the function still runs (it is
// flushed, not buffered), and the result follows.
func TestHeartbeatReachesClient(t *testing.T) {
	sawPing := make(chan struct{})
	fn := func(ctx context.Context, _ *Request) (any, error) {
		select {
		case <-sawPing:
			return "done", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	srv := httptest.NewServer(Handler("slow", fakeVerifier{}, fn, &Options{
		Heartbeat: 20 * time.Millisecond, Timeout: 20 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/slow", strings.NewReader(`{"data":null}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer good-alice")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, ": ping\n", line, "the first thing a silent call sends")
	close(sawPing)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	// rest begins with the blank line that ends the first ping; more pings
	// may come before the result.
	events := strings.Split(strings.TrimSuffix(strings.TrimPrefix(string(rest), "\n"), "\n\n"), "\n\n")
	for _, e := range events[:len(events)-1] {
		require.Equal(t, ": ping", e)
	}
	require.Equal(t, `data: {"result":"done"}`, events[len(events)-1])
}

// TestPreflightRawBytes: over the wire, byte for byte, the 204 has no
// Content-Length (nor Content-Type, nor body): net/http drops them on a
// 204 whatever a handler sets, and the handler sets none.
func TestPreflightRawBytes(t *testing.T) {
	srv := httptest.NewServer(newTestHandler())
	defer srv.Close()
	req, err := http.NewRequest(http.MethodOptions, srv.URL+"/echo", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Close = true // the server closes after answering: read to EOF
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	require.NoError(t, req.Write(conn))
	var raw bytes.Buffer
	_, err = io.Copy(&raw, conn)
	require.NoError(t, err)
	head := strings.ToLower(raw.String())
	require.True(t, strings.HasPrefix(head, "http/1.1 204 no content\r\n"), raw.String())
	require.NotContains(t, head, "content-length")
	require.NotContains(t, head, "content-type")
	require.True(t, strings.HasSuffix(raw.String(), "\r\n\r\n"), "no body: %q", raw.String())
}
