package model

import (
	"slices"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
)

// Status values of a session.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
)

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

// Session is experience_sessions/{id} as clients read it. Field names are
// the seed's.
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

// SessionDocument is the whole session document: what clients read, and
// the sequencer's own bookkeeping beside it.
type SessionDocument struct {
	Session
	Sequencer SequencerState `firestore:"sequencer"`
	// ExpireAt is set when the session ends, for Firestore's TTL policy;
	// Finalized once its subcollections are prepared for removal.
	ExpireAt  *time.Time `firestore:"expireAt,omitempty"`
	Finalized *bool      `firestore:"finalized,omitempty"`
	// CompactionDue: accepted events passed the snapshot (see
	// FieldCompactionDue).
	CompactionDue bool `firestore:"compactionDue"`
}

// NewSessionDocument is a new session's document. The sequencer's view
// starts empty and ordered: the creator's participant_joined is its first
// event, so every event is judged on the system events before it.
func NewSessionDocument(s Session) SessionDocument {
	return SessionDocument{Session: s, Sequencer: SequencerState{Ordered: true}}
}

// SequencerState is what the session document keeps for the sequencer
// (package events, which alone interprets it).
type SequencerState struct {
	// Cursor is the position, in the session's order, of the last event
	// decided in order: every event after it is undecided or was decided
	// out of order by its own trigger.
	Cursor Cursor `firestore:"cursor"`
	// Session is the session's rate bucket; Senders those of each sender.
	Session ratelimit.Bucket             `firestore:"session"`
	Senders map[string]*ratelimit.Bucket `firestore:"senders"`
	// Members and Ended are the session as of the cursor: the system
	// events folded in order.
	Members []string `firestore:"members"`
	Ended   bool     `firestore:"ended"`
	// Ordered says Members and Ended are set. A session written by other
	// means than NewSessionDocument (an admin, a test) is taken as its
	// document says at the first run.
	Ordered bool `firestore:"ordered"`
}

// Cursor is an event's place in the session's order. ClientSequenceNumber
// is kept as written (normally an integer) so that the cursor can pass a
// malformed event by the values Firestore orders it by.
type Cursor struct {
	CreatedAt            time.Time `firestore:"createdAt"`
	ClientSequenceNumber any       `firestore:"clientSequenceNumber"`
	EventID              string    `firestore:"eventId"`
}

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

// Presence is presence/{uid}: a participant's last heartbeat.
type Presence struct {
	LastSeenAt time.Time `firestore:"lastSeenAt"`
}

// CallMarker is call_sessions/{callId}: the call's active session, read and
// written by every create transaction of the call so that concurrent
// creates conflict on it and only one wins.
type CallMarker struct {
	ActiveSessionID string    `firestore:"activeSessionId"`
	UpdatedAt       time.Time `firestore:"updatedAt"`
}

// UserLimitsDoc is user_limits/{uid}.
type UserLimitsDoc struct {
	Create ratelimit.Bucket `firestore:"create"`
}

// PublishCursor is server/publisher: the last sequence number published
// (FieldLastPublishedSequenceNumber). It only moves forward.
// It lives in a server-only document so advancing it costs no write on the
// contended session document.
type PublishCursor struct {
	LastPublishedSequenceNumber int64 `firestore:"lastPublishedSequenceNumber"`
}

// PendingSweepMark is sweeps/pending_events: every event committed up to
// Through is decided.
type PendingSweepMark struct {
	Through time.Time `firestore:"through"`
}
