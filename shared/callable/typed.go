package callable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Validator is implemented by request types that check their own fields
// after decoding; the error it returns is sent as INVALID_ARGUMENT.
type Validator interface {
	Validate() error
}

// Typed adapts fn, which takes a decoded request, to a Func. The caller is
// always authenticated when fn runs unless the handler allows anonymous
// calls, in which case auth may be nil.
func Typed[Req any, Res any](fn func(ctx context.Context, auth *Auth, req Req) (Res, error)) Func {
	return func(ctx context.Context, r *Request) (any, error) {
		req, err := DecodeData[Req](r.Data)
		if err != nil {
			return nil, err
		}
		return fn(ctx, r.Auth, req)
	}
}

// strictOptions are the decoding rules of request data. encoding/json (v1)
// matches names case-insensitively and keeps the last of duplicate keys, so
// {"sessionId":"a","SESSIONID":"b"} would mean what the last proxy or
// logger to read it did not see; the v2 semantics (go-json-experiment/json,
// the prototype of encoding/json/v2) match names exactly, refuse duplicate
// names at every depth and invalid UTF-8, and with RejectUnknownMembers
// refuse names the request type does not have.
var strictOptions = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.WithUnmarshalers(int64Wrappers),
)

// DecodeData decodes the "data" member strictly into T and validates it.
// Integer fields also accept Firebase's 64-bit wrappers (see
// decodeIntWrapper).
func DecodeData[T any](data []byte) (T, error) {
	var v T
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return v, Errorf(InvalidArgument, "data must be a JSON object")
	}
	if err := json.Unmarshal(data, &v, strictOptions); err != nil {
		return v, Errorf(InvalidArgument, "%s", describeDecodeError(err))
	}
	if val, ok := any(&v).(Validator); ok {
		if err := val.Validate(); err != nil {
			return v, Errorf(InvalidArgument, "%s", err.Error())
		}
	}
	return v, nil
}

// Firebase's callable serializer (every client SDK and the Node server)
// sends 64-bit integers, which a JavaScript number cannot hold exactly, as
// {"@type": <one of these>, "value": "<decimal>"}.
const (
	int64ValueType  = "type.googleapis.com/google.protobuf.Int64Value"
	uint64ValueType = "type.googleapis.com/google.protobuf.UInt64Value"
)

// errBadWrapper is the cause of every malformed 64-bit wrapper.
var errBadWrapper = errors.New(`a 64-bit integer must be {"@type": "` + int64ValueType +
	`" or "` + uint64ValueType + `", "value": "<decimal integer>"} and nothing else`)

// int64Wrappers lets every Go integer kind take either a JSON number or a
// 64-bit wrapper; a wrapper elsewhere (a string field...) is a type error
// like any object would be.
var int64Wrappers = json.JoinUnmarshalers(
	intWrapper[int](), intWrapper[int8](), intWrapper[int16](), intWrapper[int32](), intWrapper[int64](),
	intWrapper[uint](), intWrapper[uint8](), intWrapper[uint16](), intWrapper[uint32](), intWrapper[uint64](),
)

type integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

func intWrapper[T integer]() *json.Unmarshalers {
	return json.UnmarshalFromFunc(func(dec *jsontext.Decoder, out *T) error {
		if dec.PeekKind() != '{' {
			return errors.ErrUnsupported // a plain number: the default rules apply
		}
		raw, err := dec.ReadValue() // duplicate names already refused here
		if err != nil {
			return err
		}
		n, err := decodeIntWrapper[T](raw)
		if err != nil {
			return err
		}
		*out = n
		return nil
	})
}

// decodeIntWrapper reads {"@type", "value"} into T, refusing any other key,
// a value that is not a decimal string, and one out of T's range (the
// wrapper's own range included: UInt64Value is never negative).
func decodeIntWrapper[T integer](raw jsontext.Value) (T, error) {
	var w map[string]jsontext.Value
	if err := json.Unmarshal(raw, &w); err != nil || len(w) != 2 {
		return 0, errBadWrapper
	}
	var typ, value string
	if json.Unmarshal(w["@type"], &typ) != nil || json.Unmarshal(w["value"], &value) != nil {
		return 0, errBadWrapper
	}
	kind := reflect.TypeFor[T]().Kind()
	signed := kind >= reflect.Int && kind <= reflect.Int64
	bits := reflect.TypeFor[T]().Bits()
	switch typ {
	case int64ValueType:
		i, err := strconv.ParseInt(value, 10, 64)
		if err != nil || !isDecimal(value) {
			return 0, errBadWrapper
		}
		if signed {
			if n := T(i); int64(n) == i {
				return n, nil
			}
		} else if i >= 0 {
			if n := T(i); uint64(n) == uint64(i) {
				return n, nil
			}
		}
		return 0, fmt.Errorf("%s does not fit in %d bits", value, bits)
	case uint64ValueType:
		u, err := strconv.ParseUint(value, 10, 64)
		if err != nil || !isDecimal(value) {
			return 0, errBadWrapper
		}
		if n := T(u); uint64(n) == u && (!signed || int64(n) >= 0) {
			return n, nil
		}
		return 0, fmt.Errorf("%s does not fit in %d bits", value, bits)
	}
	return 0, errBadWrapper
}

// isDecimal refuses what strconv accepts beyond plain decimal digits with
// an optional minus ("+5", "0x5" with base 0, "1_000").
func isDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// describeDecodeError names the offending field, as a dotted path from
// data, in words a client developer can act on, without Go type names.
func describeDecodeError(err error) string {
	var semErr *json.SemanticError
	var synErr *jsontext.SyntacticError
	switch {
	case errors.As(err, &synErr):
		field := fieldPath(synErr.JSONPointer)
		switch {
		case errors.Is(err, jsontext.ErrDuplicateName):
			// The pointer of a duplicate names the repeated member itself.
			return fmt.Sprintf("duplicate field %q", field)
		case strings.Contains(synErr.Err.Error(), "UTF-8"):
			return "data contains invalid UTF-8"
		}
		return "data is not valid JSON"
	case errors.As(err, &semErr):
		field := fieldPath(semErr.JSONPointer)
		switch {
		case errors.Is(err, json.ErrUnknownName):
			return fmt.Sprintf("unknown field %q", field)
		case field == "":
			return "data must be a JSON object"
		case errors.Is(err, errBadWrapper), semErr.Err != nil && semErr.JSONKind == 0:
			return fmt.Sprintf("field %q is not valid: %s", field, causeOf(semErr))
		}
		want := "a valid value"
		if semErr.GoType != nil {
			want = jsonKind(semErr.GoType)
		}
		return fmt.Sprintf("field %q must be %s, not %s", field, want, kindName(semErr.JSONKind))
	default:
		return "data is not valid JSON"
	}
}

// causeOf is the innermost message of a semantic error, without the
// package's prefix and Go type names.
func causeOf(e *json.SemanticError) string {
	if e.Err == nil {
		return "wrong type"
	}
	var inner *json.SemanticError
	if errors.As(e.Err, &inner) && inner != e {
		return causeOf(inner)
	}
	return e.Err.Error()
}

// fieldPath turns the JSON pointer "/sub/k" into "sub.k".
func fieldPath(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	return strings.Join(parts, ".")
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	default:
		return "a number"
	}
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	default:
		return "this value"
	}
}
