package functions

import (
	"context"
	"fmt"
	"net/http"

	"github.com/pajama-app/sharedexperiences/shared/callable"
	"github.com/pajama-app/sharedexperiences/shared/docid"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/snapshots"
)

// checkID refuses a request field that cannot be a Firestore document id
// (package docid), naming the field; the Store checks again, for callers
// other than these.
func checkID(field, v string) error {
	if v == "" {
		return fmt.Errorf("field %q is required", field)
	}
	if p := docid.Problem(v); p != "" {
		return fmt.Errorf("field %q is not a valid id: it %s", field, p)
	}
	return nil
}

// Requests and results of the callable functions. Field names are the
// client's (JSON); every field is required.
type (
	CreateSessionRequest struct {
		CallID       string `json:"callId"`
		ExperienceID string `json:"experienceId"`
	}
	DiscoverSessionsRequest struct {
		CallID string `json:"callId"`
	}
	SessionRequest struct {
		SessionID string `json:"sessionId"`
	}
	TransferOwnershipRequest struct {
		SessionID  string `json:"sessionId"`
		NewOwnerID string `json:"newOwnerId"`
	}

	SessionResult struct {
		Session model.Session `json:"session"`
	}
	DiscoverSessionsResult struct {
		Sessions []model.Session `json:"sessions"`
	}
	// JoinSessionResult is everything a joiner needs: the session, the
	// latest snapshot (null when none exists yet) and the accepted events
	// after it, in order. A client applies the snapshot, then the events,
	// then listens to events with sequenceNumber > lastEventSequenceNumber.
	JoinSessionResult struct {
		Session                 model.Session         `json:"session"`
		Snapshot                *snapshots.Snapshot   `json:"snapshot"`
		Events                  []model.AcceptedEvent `json:"events"`
		LastEventSequenceNumber int64                 `json:"lastEventSequenceNumber"`
	}
)

// Validate implements callable.Validator.
func (r *CreateSessionRequest) Validate() error {
	if err := checkID("callId", r.CallID); err != nil {
		return err
	}
	return checkID("experienceId", r.ExperienceID)
}

// Validate implements callable.Validator.
func (r *DiscoverSessionsRequest) Validate() error { return checkID("callId", r.CallID) }

// Validate implements callable.Validator.
func (r *SessionRequest) Validate() error { return checkID("sessionId", r.SessionID) }

// Validate implements callable.Validator.
func (r *TransferOwnershipRequest) Validate() error {
	if err := checkID("sessionId", r.SessionID); err != nil {
		return err
	}
	return checkID("newOwnerId", r.NewOwnerID)
}

// handler serves fn as a callable that changes a session.
func (a *App) handler(name string, fn callable.Func) http.Handler {
	return callable.Handler(name, a.verifier, fn, a.callableOptions(true))
}

// readHandler serves fn as a callable that only reads.
func (a *App) readHandler(name string, fn callable.Func) http.Handler {
	return callable.Handler(name, a.verifier, fn, a.callableOptions(false))
}

func (a *App) createSession() http.Handler {
	return a.handler("createSession", callable.Typed(
		func(ctx context.Context, auth *callable.Auth, req CreateSessionRequest) (SessionResult, error) {
			s, err := a.sessions.Create(ctx, auth.UID, req.CallID, req.ExperienceID)
			return SessionResult{Session: s}, err
		}))
}

func (a *App) discoverSessions() http.Handler {
	return a.readHandler("discoverSessions", callable.Typed(
		func(ctx context.Context, auth *callable.Auth, req DiscoverSessionsRequest) (DiscoverSessionsResult, error) {
			found, err := a.sessions.Discover(ctx, auth.UID, req.CallID)
			return DiscoverSessionsResult{Sessions: found}, err
		}))
}

func (a *App) joinSession() http.Handler {
	return a.handler("joinSession", callable.Typed(
		func(ctx context.Context, auth *callable.Auth, req SessionRequest) (JoinSessionResult, error) {
			j, err := snapshots.JoinAndCatchUp(ctx, a.fs, a.sessions, auth.UID, req.SessionID)
			if err != nil {
				return JoinSessionResult{}, err
			}
			return JoinSessionResult{Session: j.Session, Snapshot: j.Snapshot, Events: j.Events, LastEventSequenceNumber: j.After()}, nil
		}))
}

// sessionCall serves a callable taking {sessionId} and answering
// {session}.
func (a *App) sessionCall(name string, op func(ctx context.Context, uid, sessionID string) (model.Session, error)) http.Handler {
	return a.handler(name, callable.Typed(
		func(ctx context.Context, auth *callable.Auth, req SessionRequest) (SessionResult, error) {
			s, err := op(ctx, auth.UID, req.SessionID)
			return SessionResult{Session: s}, err
		}))
}

func (a *App) leaveSession() http.Handler { return a.sessionCall("leaveSession", a.sessions.Leave) }

func (a *App) endSession() http.Handler { return a.sessionCall("endSession", a.sessions.End) }

func (a *App) transferOwnership() http.Handler {
	return a.handler("transferOwnership", callable.Typed(
		func(ctx context.Context, auth *callable.Auth, req TransferOwnershipRequest) (SessionResult, error) {
			s, err := a.sessions.TransferOwnership(ctx, auth.UID, req.SessionID, req.NewOwnerID)
			return SessionResult{Session: s}, err
		}))
}
