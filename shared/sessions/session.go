// Package sessions is the ExperienceSession: its Firestore document, the
// call it belongs to, and the rules of who may see and change it.
//
// # Firestore layout
//
//	calls/{callId}                          members [uid], status; written by the app's call service
//	experience_sessions/{sessionId}         Session, written by the server only
//	experience_sessions/{sessionId}/events  StateSyncEvents, created by participants
//
// The session document is written only by the functions; clients read it
// (participants, and call members for discovery) under firestore.rules.
package sessions

import (
	"errors"
	"slices"
	"time"
)

// Collection names, shared with firestore.rules and the indexes.
const (
	CallsCollection    = "calls"
	SessionsCollection = "experience_sessions"
	EventsCollection   = "events"
	PresenceCollection = "presence"
)

// Status values of a session.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
)

// Domain errors; functions/errors.go maps them to callable statuses.
var (
	ErrNotFound          = errors.New("session not found")
	ErrNotCallMember     = errors.New("caller is not a member of the call")
	ErrCallNotFound      = errors.New("call not found")
	ErrNotOwner          = errors.New("only the session's owner may do this")
	ErrNotParticipant    = errors.New("the user is not a participant of the session")
	ErrInactive          = errors.New("the session has ended")
	ErrUnknownExperience = errors.New("unknown experience")
	ErrTooManySessions   = errors.New("too many sessions created by this user; try again in a minute")
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
type ExistsError struct{ Session Session }

func (e *ExistsError) Error() string { return "the call already has an active session " + e.Session.ID }

// OriginServer marks the events the functions write themselves (the system
// events); firestore.rules keep clients from writing the "origin" field.
const OriginServer = "server"

// SystemSender is the senderId of system events no user caused.
const SystemSender = "system"

// End reasons written in endReason.
const (
	EndReasonStale = "stale"
	EndReasonEmpty = "empty"
	// EndReasonAbsent: every participant's heartbeat stopped.
	EndReasonAbsent  = "no_participant_present"
	EndReasonByOwner = "ended_by_owner"
	// EndReasonCallEnded: the call was deleted or marked ended.
	EndReasonCallEnded = "call_ended"
)

// Session is experience_sessions/{id}. Field names are the seed's.
type Session struct {
	ID                      string     `firestore:"id" json:"id"`
	CallID                  string     `firestore:"callId" json:"callId"`
	ExperienceID            string     `firestore:"experienceId" json:"experienceId"`
	OwnerID                 string     `firestore:"ownerId" json:"ownerId"`
	Status                  string     `firestore:"status" json:"status"`
	Participants            []string   `firestore:"participants" json:"participants"`
	LastEventID             string     `firestore:"lastEventId" json:"lastEventId"`
	LastEventSequenceNumber int64      `firestore:"lastEventSequenceNumber" json:"lastEventSequenceNumber"`
	CreatedAt               time.Time  `firestore:"createdAt" json:"createdAt"`
	UpdatedAt               time.Time  `firestore:"updatedAt" json:"updatedAt"`
	LastActivityAt          time.Time  `firestore:"lastActivityAt" json:"lastActivityAt"`
	EndedAt                 *time.Time `firestore:"endedAt" json:"endedAt"`
	EndReason               string     `firestore:"endReason" json:"endReason"`
}

// IsParticipant reports whether uid is in the session.
func (s *Session) IsParticipant(uid string) bool { return slices.Contains(s.Participants, uid) }

// Call is calls/{callId}: the call service's record of who is in the call.
type Call struct {
	Members []string `firestore:"members"`
	// Status is CallStatusActive, CallStatusEnded, or empty (active).
	Status string `firestore:"status"`
}

// Status values of a call.
const (
	CallStatusActive = "active"
	CallStatusEnded  = "ended"
)

// IsMember reports whether uid is in the call.
func (c *Call) IsMember(uid string) bool { return slices.Contains(c.Members, uid) }
