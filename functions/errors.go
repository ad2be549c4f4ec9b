package functions

import (
	"errors"

	"github.com/pajama-app/sharedexperiences/shared/callable"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
)

// statusOf is the one table from domain errors to what a caller sees.
var statusOf = []struct {
	err    error
	status callable.Status
}{
	{sessions.ErrNotCallMember, callable.PermissionDenied},
	{sessions.ErrCallNotFound, callable.PermissionDenied},
	{sessions.ErrNotOwner, callable.PermissionDenied},
	{sessions.ErrNotFound, callable.NotFound},
	{sessions.ErrNotParticipant, callable.FailedPrecondition},
	{sessions.ErrInactive, callable.FailedPrecondition},
	{sessions.ErrUnknownExperience, callable.InvalidArgument},
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
			return &callable.Error{Status: m.status, Message: err.Error()}
		}
	}
	return nil
}

func (a *App) callableOptions() *callable.Options {
	return &callable.Options{MapError: mapError, Logger: a.log}
}
