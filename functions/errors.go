package functions

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/callable"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
)

// statusOf is the one table from domain errors to what a caller sees. The
// caller reads the sentinel's own sentence; the chain around it (which
// document, which read) is for the log, which the callable handler writes.
var statusOf = []struct {
	err    error
	status callable.Status
}{
	{sessions.ErrNotCallMember, callable.PermissionDenied},
	{sessions.ErrCallEnded, callable.FailedPrecondition},
	{sessions.ErrNotOwner, callable.PermissionDenied},
	// A uid from a valid token that cannot name a document: the user is
	// who they say, and may not use sessions (see README, Security).
	{sessions.ErrInvalidUserID, callable.PermissionDenied},
	{sessions.ErrInvalidID, callable.InvalidArgument},
	{sessions.ErrNotFound, callable.NotFound},
	{sessions.ErrNotParticipant, callable.FailedPrecondition},
	{sessions.ErrInactive, callable.FailedPrecondition},
	{experiences.ErrUnknownExperience, callable.InvalidArgument},
	{sessions.ErrFull, callable.ResourceExhausted},
	{sessions.ErrTooManySessions, callable.ResourceExhausted},
}

// mapError is the callable handlers' Options.MapError.
func mapError(err error) *callable.Error {
	var exists *sessions.ExistsError
	if errors.As(err, &exists) {
		return &callable.Error{Status: callable.AlreadyExists, Message: exists.Error(),
			Details: map[string]any{"session": exists.Session}}
	}
	for _, m := range statusOf {
		if errors.Is(err, m.err) {
			return &callable.Error{Status: m.status, Message: m.err.Error()}
		}
	}
	// The Firestore client reports a request cut short by the caller's
	// context as a gRPC status, not always wrapping the context's error
	// (which the callable handler maps itself).
	switch status.Code(err) {
	case codes.Canceled:
		return callable.Errorf(callable.Cancelled, "the call was cancelled")
	case codes.DeadlineExceeded:
		return callable.Errorf(callable.DeadlineExceeded, "the call took too long")
	}
	return nil
}

// callableOptions are the options of one callable; changes says whether it
// changes a session, which is where revoked tokens are refused when
// CHECK_TOKEN_REVOCATION is on (reads are left the lookup's cost). App
// Check, when ENFORCE_APP_CHECK is on, guards every callable: all of them
// are the app's, and discovery is as much worth scripting as a change.
func (a *App) callableOptions(changes bool) *callable.Options {
	return &callable.Options{MapError: mapError, Logger: a.log,
		CheckRevoked: changes && a.cfg.CheckTokenRevocation,
		AppCheck:     a.appCheck, EnforceAppCheck: a.cfg.EnforceAppCheck}
}
