// Package model owns the Firestore layout: every collection, document and
// field name the server reads or writes, the session and event documents
// with their one encoder and decoder each, and the system events with their
// constructors. Every other package goes through it, so adding a field to
// an event is a change in this package alone.
//
// # Layout
//
//	calls/{callId}                                     Call: members, status; written by the app's call service
//	call_sessions/{callId}                             the call's active session marker (server only)
//	user_limits/{uid}                                  a user's session-creation bucket (server only)
//	sweeps/pending_events                              how far back every event is decided (server only)
//	experience_sessions/{sessionId}                    SessionDocument, written by the server only
//	experience_sessions/{sessionId}/events/{eventId}   Event: created by participants, decided by the server
//	experience_sessions/{sessionId}/presence/{uid}     Presence: a participant's heartbeat
//	experience_sessions/{sessionId}/state_snapshots/latest   the snapshot (package snapshots)
//	experience_sessions/{sessionId}/server/publisher   PublishCursor (server only)
//
// firestore.rules, firestore.indexes.json and the SPEC spell the same names;
// the rules tests hold them to this package.
package model

import "cloud.google.com/go/firestore"

// Collection and document ids.
const (
	CallsCollection        = "calls"
	CallSessionsCollection = "call_sessions"
	UserLimitsCollection   = "user_limits"
	SweepsCollection       = "sweeps"
	PendingSweepID         = "pending_events"
	SessionsCollection     = "experience_sessions"
	EventsCollection       = "events"
	PresenceCollection     = "presence"
	SnapshotsCollection    = "state_snapshots"
	LatestSnapshotID       = "latest"
	ServerCollection       = "server"
	PublisherID            = "publisher"
)

// Field names used in queries and updates. One name serves every document
// that has the field (status is a session's and an event's).
const (
	FieldID                      = "id"
	FieldCallID                  = "callId"
	FieldExperienceID            = "experienceId"
	FieldOwnerID                 = "ownerId"
	FieldStatus                  = "status"
	FieldParticipants            = "participants"
	FieldLastEventID             = "lastEventId"
	FieldLastEventSequenceNumber = "lastEventSequenceNumber"
	// FieldLastPublishedSequenceNumber is PublishCursor's one field.
	FieldLastPublishedSequenceNumber = "lastPublishedSequenceNumber"
	FieldCreatedAt                   = "createdAt"
	FieldUpdatedAt                   = "updatedAt"
	FieldLastActivityAt              = "lastActivityAt"
	FieldEndedAt                     = "endedAt"
	FieldEndReason                   = "endReason"
	FieldExpireAt                    = "expireAt"
	FieldFinalized                   = "finalized"
	FieldSequencer                   = "sequencer"
	// FieldCompactionDue is true while the session has accepted events its
	// snapshot does not cover: the sequencer sets it in the session update
	// that accepts them, compaction clears it. compactSnapshots queries it.
	FieldCompactionDue = "compactionDue"

	FieldType                 = "type"
	FieldSenderID             = "senderId"
	FieldData                 = "data"
	FieldClientSequenceNumber = "clientSequenceNumber"
	FieldOrigin               = "origin"
	FieldSequenceNumber       = "sequenceNumber"
	FieldRejectReason         = "rejectReason"
	FieldSequencedAt          = "sequencedAt"

	FieldLastSeenAt = "lastSeenAt"

	// FieldExperienceState is the snapshot's state, FieldSchemaVersion
	// the version it is encoded in (package snapshots).
	FieldExperienceState = "experienceState"
	FieldSchemaVersion   = "schemaVersion"
)

// SessionRef is experience_sessions/{id}.
func SessionRef(fs *firestore.Client, sessionID string) *firestore.DocumentRef {
	return fs.Collection(SessionsCollection).Doc(sessionID)
}

// CallRef is calls/{id}.
func CallRef(fs *firestore.Client, callID string) *firestore.DocumentRef {
	return fs.Collection(CallsCollection).Doc(callID)
}

// EventsRef is a session's events collection.
func EventsRef(session *firestore.DocumentRef) *firestore.CollectionRef {
	return session.Collection(EventsCollection)
}

// PresenceRef is a participant's heartbeat document in a session.
func PresenceRef(session *firestore.DocumentRef, uid string) *firestore.DocumentRef {
	return session.Collection(PresenceCollection).Doc(uid)
}

// SnapshotRef is a session's snapshot document.
func SnapshotRef(session *firestore.DocumentRef) *firestore.DocumentRef {
	return session.Collection(SnapshotsCollection).Doc(LatestSnapshotID)
}

// PublisherRef is a session's publish cursor document.
func PublisherRef(session *firestore.DocumentRef) *firestore.DocumentRef {
	return session.Collection(ServerCollection).Doc(PublisherID)
}

// PendingSweepRef is the pending-events sweep's mark.
func PendingSweepRef(fs *firestore.Client) *firestore.DocumentRef {
	return fs.Collection(SweepsCollection).Doc(PendingSweepID)
}

// UserLimitsRef is a user's session-creation bucket document.
func UserLimitsRef(fs *firestore.Client, uid string) *firestore.DocumentRef {
	return fs.Collection(UserLimitsCollection).Doc(uid)
}

// CallMarkerRef is a call's active-session marker.
func CallMarkerRef(fs *firestore.Client, callID string) *firestore.DocumentRef {
	return fs.Collection(CallSessionsCollection).Doc(callID)
}
