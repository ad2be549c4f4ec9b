package functions

import (
	"context"
	"errors"
	"net/http"

	"github.com/pajama-app/sharedexperiences/shared/callable"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
)

// DiscoverSessionsRequest is the data of discoverSessions.
type DiscoverSessionsRequest struct {
	CallID string `json:"callId"`
}

// Validate implements callable.Validator.
func (r *DiscoverSessionsRequest) Validate() error {
	if r.CallID == "" {
		return errors.New(`field "callId" is required`)
	}
	return nil
}

// DiscoverSessionsResult is the result of discoverSessions.
type DiscoverSessionsResult struct {
	Sessions []sessions.Session `json:"sessions"`
}

func (a *App) discoverSessions() http.Handler {
	return callable.Handler("discoverSessions", a.verifier, callable.Typed(
		func(ctx context.Context, auth *callable.Auth, req DiscoverSessionsRequest) (DiscoverSessionsResult, error) {
			found, err := a.sessions.Discover(ctx, auth.UID, req.CallID)
			return DiscoverSessionsResult{Sessions: found}, err
		}), a.callableOptions())
}
