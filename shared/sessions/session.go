// Package sessions is the ExperienceSession's lifecycle: who may create,
// join, leave, end and hand over a session, the call that is its source of
// truth, and the heartbeats that keep its participants in. The documents
// themselves are package model's.
//
// The session document is written only by the functions; clients read it
// (participants, and call members for discovery) under firestore.rules.
package sessions

import (
	"errors"

	"github.com/pajama-app/sharedexperiences/shared/model"
)

// Domain errors; functions/errors.go maps them to callable statuses.
var (
	ErrNotFound       = errors.New("session not found")
	ErrNotCallMember  = errors.New("caller is not a member of the call")
	ErrNotOwner       = errors.New("only the session's owner may do this")
	ErrNotParticipant = errors.New("the user is not a participant of the session")
	ErrInactive       = errors.New("the session has ended")
	// ErrCallEnded: the call is marked ended; no session can start in it.
	ErrCallEnded       = errors.New("the call has ended")
	ErrTooManySessions = errors.New("too many sessions created by this user; try again in a minute")
	// ErrInvalidID: a call, session or user id given to the Store breaks
	// Firestore's document-id rules (package docid).
	ErrInvalidID = errors.New("an id is not a valid document id")
	// ErrInvalidUserID: the caller's own uid breaks them. Firebase Auth
	// allows any string up to 128 characters in a custom token; such a user
	// may sign in but cannot take part in sessions.
	ErrInvalidUserID = errors.New("this user id cannot be used with sessions")
)

// ExistsError reports that the call already has an active session, and
// which.
type ExistsError struct{ Session model.Session }

func (e *ExistsError) Error() string { return "the call already has an active session " + e.Session.ID }
