package model

import "cloud.google.com/go/firestore"

// System event types, written by the server only.
const (
	ParticipantJoined = "participant_joined"
	ParticipantLeft   = "participant_left"
	OwnerChanged      = "owner_changed"
	ExperienceEnded   = "experience_ended"
)

// Keys of a system event's data.
const (
	DataUserID          = "userId"
	DataCreated         = "created" // "true" on the creator's participant_joined
	DataPreviousOwnerID = "previousOwnerId"
	DataNewOwnerID      = "newOwnerId"
	DataReason          = "reason"
)

// IsSystemType reports whether t is reserved for the server.
func IsSystemType(t string) bool {
	switch t {
	case ParticipantJoined, ParticipantLeft, OwnerChanged, ExperienceEnded:
		return true
	}
	return false
}

// SystemEvent is a server-written event; the pipeline numbers it like any
// other.
type SystemEvent struct {
	Type string
	// By is the senderId: the user who caused it, or SystemSender.
	By   string
	Data map[string]string
}

// Joined is uid's participant_joined; created marks the session's creator.
func Joined(uid string, created bool) SystemEvent {
	data := map[string]string{DataUserID: uid}
	if created {
		data[DataCreated] = "true"
	}
	return SystemEvent{Type: ParticipantJoined, By: uid, Data: data}
}

// Left is uid's participant_left, caused by by.
func Left(uid, by string) SystemEvent {
	return SystemEvent{Type: ParticipantLeft, By: by, Data: map[string]string{DataUserID: uid}}
}

// OwnerChange is owner_changed from previous to next, caused by by. userId
// names the new owner, so every system event has one.
func OwnerChange(previous, next, by string) SystemEvent {
	return SystemEvent{Type: OwnerChanged, By: by, Data: map[string]string{
		DataPreviousOwnerID: previous, DataNewOwnerID: next, DataUserID: next,
	}}
}

// Ended is experience_ended, caused by by for reason (an EndReason).
func Ended(by, reason string) SystemEvent {
	return SystemEvent{Type: ExperienceEnded, By: by, Data: map[string]string{DataUserID: by, DataReason: reason}}
}

// Document is the event document for id. The events of one transaction
// share a commit time; i, their clientSequenceNumber, keeps them in the
// order they were emitted.
func (e SystemEvent) Document(id string, i int) map[string]any {
	return map[string]any{
		FieldID:                   id,
		FieldType:                 e.Type,
		FieldSenderID:             e.By,
		FieldData:                 e.Data,
		FieldClientSequenceNumber: int64(i),
		FieldCreatedAt:            firestore.ServerTimestamp,
		FieldOrigin:               OriginServer,
	}
}
