package callable

import (
	"fmt"
	"net/http"
)

// Status is a canonical callable status name, as the client SDKs expect in
// error.status.
type Status string

// The statuses this backend answers with. The HTTP codes are those of the
// reference server (firebase-functions errorCodeMap).
const (
	InvalidArgument    Status = "INVALID_ARGUMENT"
	FailedPrecondition Status = "FAILED_PRECONDITION"
	OutOfRange         Status = "OUT_OF_RANGE"
	Unauthenticated    Status = "UNAUTHENTICATED"
	PermissionDenied   Status = "PERMISSION_DENIED"
	NotFound           Status = "NOT_FOUND"
	Aborted            Status = "ABORTED"
	AlreadyExists      Status = "ALREADY_EXISTS"
	ResourceExhausted  Status = "RESOURCE_EXHAUSTED"
	Cancelled          Status = "CANCELLED"
	DeadlineExceeded   Status = "DEADLINE_EXCEEDED"
	Unimplemented      Status = "UNIMPLEMENTED"
	Unavailable        Status = "UNAVAILABLE"
	Internal           Status = "INTERNAL"
	Unknown            Status = "UNKNOWN"
	DataLoss           Status = "DATA_LOSS"
)

var httpCodes = map[Status]int{
	InvalidArgument:    http.StatusBadRequest,
	FailedPrecondition: http.StatusBadRequest,
	OutOfRange:         http.StatusBadRequest,
	Unauthenticated:    http.StatusUnauthorized,
	PermissionDenied:   http.StatusForbidden,
	NotFound:           http.StatusNotFound,
	Aborted:            http.StatusConflict,
	AlreadyExists:      http.StatusConflict,
	ResourceExhausted:  http.StatusTooManyRequests,
	Cancelled:          499,
	DeadlineExceeded:   http.StatusGatewayTimeout,
	Unimplemented:      http.StatusNotImplemented,
	Unavailable:        http.StatusServiceUnavailable,
	Internal:           http.StatusInternalServerError,
	Unknown:            http.StatusInternalServerError,
	DataLoss:           http.StatusInternalServerError,
}

// valid reports whether s is one of the protocol's error statuses (OK is
// not an error).
func (s Status) valid() bool {
	_, ok := httpCodes[s]
	return ok
}

// HTTPCode is the HTTP status that carries s.
func (s Status) HTTPCode() int {
	if c, ok := httpCodes[s]; ok {
		return c
	}
	return http.StatusInternalServerError
}

// Error is an error the caller is meant to see: its status, a message for a
// developer, and optional details (JSON-encodable).
type Error struct {
	Status  Status `json:"status"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

func (e *Error) Error() string { return string(e.Status) + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(s Status, format string, args ...any) *Error {
	return &Error{Status: s, Message: fmt.Sprintf(format, args...)}
}

// internalError is what the caller sees for anything not meant for them: no
// stack, no internal message.
var internalError = &Error{Status: Internal, Message: "INTERNAL"}
