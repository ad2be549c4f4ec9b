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
	{sessions.ErrNotFound, callable.NotFound},
}

// mapError is the callable handlers' Options.MapError.
func mapError(err error) *callable.Error {
	for _, m := range statusOf {
		if errors.Is(err, m.err) {
			return &callable.Error{Status: m.status, Message: m.err.Error()}
		}
	}
	return nil
}

func (a *App) callableOptions() *callable.Options {
	return &callable.Options{MapError: mapError, Logger: a.log}
}
