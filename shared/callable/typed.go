package callable

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
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

// DecodeData decodes the "data" member strictly into T and validates it.
func DecodeData[T any](data json.RawMessage) (T, error) {
	var v T
	if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return v, Errorf(InvalidArgument, "data must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, Errorf(InvalidArgument, "%s", describeDecodeError(err))
	}
	// More() misses a stray "]" or "}"; only io.EOF proves nothing follows.
	if _, err := dec.Token(); err != io.EOF {
		return v, Errorf(InvalidArgument, "data must be a single JSON value")
	}
	if val, ok := any(&v).(Validator); ok {
		if err := val.Validate(); err != nil {
			return v, Errorf(InvalidArgument, "%s", err.Error())
		}
	}
	return v, nil
}

// describeDecodeError names the offending field in words a client developer
// can act on, without Go type names.
func describeDecodeError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return "data must be a JSON object"
		}
		return fmt.Sprintf("field %q must be %s, not %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return "data is not valid JSON"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		return "data is not valid: " + err.Error()
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	default:
		return "a number"
	}
}
