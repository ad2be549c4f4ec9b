package callable

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"firebase.google.com/go/v4/auth"
	"github.com/stretchr/testify/require"
)

// macVerifier accepts only tokens of this test's own format,
// "fake.<uid>.<mac>" with mac the first 8 hex digits of sha256("k"+uid), so
// a fuzzer cannot stumble on a valid token by chance but can be given some
// as seeds. Its errors carry the token after a "; ", as real verifiers'
// details may: the handler must cut them off.
type macVerifier struct{}

func fakeMAC(uid string) string {
	sum := sha256.Sum256([]byte("k" + uid))
	return hex.EncodeToString(sum[:])[:8]
}

func fakeToken(uid string) string { return "fake." + uid + "." + fakeMAC(uid) }

var errBadToken = errors.New("ID token is not a fake token")

func (macVerifier) VerifyIDToken(_ context.Context, tok string) (*auth.Token, error) {
	if uid, ok := validFakeToken(tok); ok {
		return &auth.Token{UID: uid}, nil
	}
	return nil, errors.New(errBadToken.Error() + "; token " + tok)
}

func validFakeToken(tok string) (string, bool) {
	rest, ok := strings.CutPrefix(tok, "fake.")
	if !ok {
		return "", false
	}
	uid, mac, ok := strings.Cut(rest, ".")
	if !ok || uid == "" || len(uid) > 128 || mac != fakeMAC(uid) {
		return "", false
	}
	return uid, true
}

const fuzzMaxBody = 4096

// fuzzAuthHandler answers every authenticated call with the caller's uid,
// so any failure is the protocol's (envelope or token), never the function's.
func fuzzAuthHandler() http.Handler {
	fn := func(_ context.Context, r *Request) (any, error) {
		return map[string]string{"uid": r.Auth.UID}, nil
	}
	return Handler("whoami", macVerifier{}, fn, &Options{
		MaxBodyBytes: fuzzMaxBody,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// validEnvelope says whether body is what the protocol accepts: valid JSON
// in valid UTF-8, an object with exactly one member, "data" (spelt so),
// within the size limit, with no duplicate name in any object. It is
// written against encoding/json's token stream, independently of the
// handler's decoder.
func validEnvelope(body string) bool {
	if len(body) > fuzzMaxBody || !utf8.ValidString(body) || !json.Valid([]byte(body)) || hasDuplicateKey(body) {
		return false
	}
	var env map[string]json.RawMessage
	if json.Unmarshal([]byte(body), &env) != nil {
		return false
	}
	_, ok := env["data"]
	return ok && len(env) == 1
}

// hasDuplicateKey walks valid JSON and reports a name repeated within one
// object, at any depth.
func hasDuplicateKey(doc string) bool {
	dec := json.NewDecoder(strings.NewReader(doc))
	type frame struct {
		names     map[string]bool
		expectKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.expectKey {
			if name, ok := tok.(string); ok {
				if top.names[name] {
					return true
				}
				top.names[name] = true
				top.expectKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{names: map[string]bool{}, expectKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the enclosing object expects a name next.
		if len(stack) > 0 && stack[len(stack)-1].names != nil {
			stack[len(stack)-1].expectKey = true
		}
	}
}

// FuzzAuthorization: whatever the Authorization header and body, the answer
// is one well-formed callable body whose HTTP code is its status's, never
// 500; a well-formed envelope with a bad header is UNAUTHENTICATED with a
// fixed message (the token is never echoed back), and with a good one
// reaches the function as that user.
func FuzzAuthorization(f *testing.F) {
	good := "Bearer " + fakeToken("alice")
	for _, header := range []string{
		good, "", "Bearer", "Bearer ", "bearer " + fakeToken("alice"), "Bearer  " + fakeToken("alice"),
		"Basic YWxpY2U6cGFzcw==", "Bearer fake.alice.00000000", "Bearer fake..x", "Bearer fake.a.b.c",
		good + " ", "Bearer " + fakeToken("ü"), "Bearer " + strings.Repeat("x", 300) + ";\n",
	} {
		for _, body := range []string{`{"data":{}}`, `{"data":null}`, `{}`, `{"data":1,"x":2}`, `not json`, ``} {
			f.Add(header, body)
		}
	}
	h := fuzzAuthHandler()
	f.Fuzz(func(t *testing.T, header, body string) {
		req := httptest.NewRequest(http.MethodPost, "/whoami", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if header != "" {
			req.Header["Authorization"] = []string{header} // as sent, not canonicalised
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		require.NotEqual(t, http.StatusInternalServerError, rec.Code, rec.Body.String())
		var got struct {
			Result *struct {
				UID string `json:"uid"`
			} `json:"result"`
			Error *Error `json:"error"`
		}
		dec := json.NewDecoder(rec.Body)
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&got))
		require.True(t, (got.Result == nil) != (got.Error == nil), "exactly one of result and error")

		if !validEnvelope(body) {
			require.NotNil(t, got.Error)
			require.Equal(t, InvalidArgument, got.Error.Status)
			require.Equal(t, http.StatusBadRequest, rec.Code)
			return
		}
		// The scheme is case-insensitive; the token follows one space.
		bearer := len(header) > 7 && strings.EqualFold(header[:7], "Bearer ")
		if uid, ok := validFakeToken(header[min(7, len(header)):]); bearer && ok {
			require.NotNil(t, got.Result, "%+v", got.Error)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Equal(t, uid, got.Result.UID)
			return
		}
		require.NotNil(t, got.Error)
		require.Equal(t, Unauthenticated, got.Error.Status)
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		require.Contains(t, []string{
			"this function requires a signed-in caller",
			`Authorization must be "Bearer <Firebase ID token>"`,
			"invalid ID token: " + errBadToken.Error(),
		}, got.Error.Message)
	})
}

// fuzzReq is a request type with every kind of field a callable takes, and
// a Validate method, as the session API's requests have.
type fuzzReq struct {
	Name  string            `json:"name"`
	Count int               `json:"count"`
	Ratio float64           `json:"ratio"`
	Tags  []string          `json:"tags"`
	Meta  map[string]string `json:"meta"`
	Inner *struct {
		Flag bool `json:"flag"`
	} `json:"inner"`
	Big  int64  `json:"big"`
	UBig uint64 `json:"ubig"`
}

// fuzzReqNames are fuzzReq's JSON names, spelt exactly.
var fuzzReqNames = map[string]bool{"name": true, "count": true, "ratio": true, "tags": true, "meta": true, "inner": true, "big": true, "ubig": true}

func (r *fuzzReq) Validate() error {
	switch {
	case r.Name == "":
		return errors.New(`field "name" is required`)
	case r.Count < 0:
		return errors.New(`field "count" must not be negative`)
	case len(r.Tags) > 8:
		return errors.New(`field "tags" has more than 8 entries`)
	}
	return nil
}

// FuzzDecodeData: no data may panic the decoder; every failure is an
// INVALID_ARGUMENT *Error with a message that names no Go type; whatever
// decodes is valid, and encodes back to data that decodes to the same value.
func FuzzDecodeData(f *testing.F) {
	for _, seed := range []string{
		`{"name":"n"}`, `{"name":"n","count":2,"ratio":0.5,"tags":["a"],"meta":{"k":"v"},"inner":{"flag":true}}`,
		`{"name":""}`, `{"name":"n","count":-1}`, `{"name":"n","tags":["1","2","3","4","5","6","7","8","9"]}`,
		`{"name":"n","zzz":1}`, `{"name":1}`, `{"name":"n","count":1e400}`, `{"name":"n","count":1.5}`,
		`{"name":"n","inner":{"flag":"yes"}}`, `{"name":"n","meta":{"k":1}}`, `{"name":"n","inner":null}`,
		`[]`, `null`, ``, ` `, `"s"`, `{`, `{"name":"n"} {}`, `{"name":"n"}]`, "\x00", `{"name":"\ud800"}`,
		`{"NAME":"n"}`, `{"name":"n","Count":1}`, `{"name":"x","name":"n"}`, `{"name":"n","inner":{"flag":true,"flag":false}}`,
		`{"name":"n","meta":{"k":"a","k":"b"}}`, `{"name":"n","big":{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"-5"}}`,
		`{"name":"n","ubig":{"@type":"type.googleapis.com/google.protobuf.UInt64Value","value":"18446744073709551615"}}`,
		`{"name":"n","count":{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"9223372036854775807"}}`,
		`{"name":"n","big":{"@type":"type.googleapis.com/google.protobuf.Int64Value","value":"5","x":1}}`,
		`{"name":"n","big":{"@type":"type.googleapis.com/google.protobuf.UInt64Value","value":"-1"}}`,
		"{\"name\":\"\xff\"}", `{"n\u0061me":"n"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Add([]byte(`{"name":"x"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeData[fuzzReq](data)
		if err != nil {
			var cerr *Error
			require.True(t, errors.As(err, &cerr), "%T %v", err, err)
			require.Equal(t, InvalidArgument, cerr.Status)
			require.NotEmpty(t, cerr.Message)
			for _, goName := range []string{"fuzzReq", "Go value", "Go struct", "callable."} {
				require.NotContains(t, cerr.Message, goName)
			}
			return
		}
		require.NoError(t, v.Validate())
		// Only one valid JSON value is accepted: a stray "]" or "}" after
		// it once slipped past json.Decoder.More.
		require.True(t, json.Valid(data), "accepted invalid JSON %q", data)
		require.True(t, utf8.Valid(data), "accepted invalid UTF-8 %q", data)
		// Strictness, checked with encoding/json independently of the
		// decoder: no name twice in one object, and data's names spelt
		// exactly as the type's.
		require.False(t, hasDuplicateKey(string(data)), "accepted a duplicate key in %q", data)
		var top map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(data, &top))
		for name := range top {
			require.True(t, fuzzReqNames[name], "accepted field %q in %q", name, data)
		}
		again, err := json.Marshal(v)
		require.NoError(t, err)
		w, err := DecodeData[fuzzReq](again)
		require.NoError(t, err, "%s", again)
		require.True(t, reflect.DeepEqual(v, w), "%+v != %+v", v, w)
	})
}

// FuzzStreamHandler: whatever the body, a streaming call is answered 200
// with exactly one event, "data: " and one line of JSON holding either
// result or error, as the SDK's line reader needs.
func FuzzStreamHandler(f *testing.F) {
	for _, seed := range []string{`{"data":{"name":"n"}}`, `{"data":{"name":"boom"}}`, `{"data":{"name":"exists"}}`, `{}`, "\x00", `{"data":{"name":"a\nb"}}`, `{"data":{"name":"\u2028"}}`} {
		f.Add(seed)
	}
	h := newTestHandler()
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer good-alice")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		out := rec.Body.String()
		event, ok := strings.CutPrefix(out, "data: ")
		require.True(t, ok, "%q", out)
		event, ok = strings.CutSuffix(event, "\n\n")
		require.True(t, ok, "%q", out)
		require.NotContains(t, event, "\n")
		var got map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(event), &got), out)
		require.Len(t, got, 1)
		_, isResult := got["result"]
		_, isError := got["error"]
		require.True(t, isResult || isError, out)
	})
}
