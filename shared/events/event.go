// Package events is the StateSyncEvent pipeline on the server: decoding an
// event a client wrote, validating it, and giving it its place in the
// session's one order (sequenceNumber 1, 2, 3...).
//
// # Exactly-once over at-least-once
//
// Triggers arrive at least once, late and out of order. Every decision is
// taken inside a Firestore transaction that first reads the event: an event
// that already carries a status was decided before, and is left alone, so a
// redelivery changes nothing.
package events

import (
	"errors"
	"fmt"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/firestoreevent"
)

// Status values the server writes on an event.
const (
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
)

// RejectReason is a stable snake_case code a client can switch on.
type RejectReason string

// The reasons an event is rejected.
const (
	ReasonUnknownSession  RejectReason = "unknown_session"
	ReasonSessionInactive RejectReason = "session_not_active"
	ReasonNotParticipant  RejectReason = "sender_not_participant"
	ReasonIDMismatch      RejectReason = "id_mismatch"
	ReasonMalformed       RejectReason = "malformed_event"
	ReasonTooLarge        RejectReason = "too_large"
	ReasonSystemReserved  RejectReason = "system_event_reserved"
	ReasonUnknownType     RejectReason = "unknown_type"
	ReasonInvalidData     RejectReason = "invalid_data"
	ReasonRateLimited     RejectReason = "rate_limited"
)

// Event is a StateSyncEvent as the client wrote it.
type Event struct {
	ID                   string
	Type                 string
	SenderID             string
	Data                 map[string]string
	ClientSequenceNumber int64
	CreatedAt            time.Time
}

// ErrMalformed reports an event document that lacks a client field or has
// one of the wrong type.
var ErrMalformed = errors.New("malformed event")

// FromFields decodes the client-written fields of an event document.
func FromFields(f firestoreevent.Fields) (Event, error) {
	var e Event
	var ok bool
	if e.ID, ok = f.String("id"); !ok {
		return e, fmt.Errorf("%w: id must be a string", ErrMalformed)
	}
	if e.Type, ok = f.String("type"); !ok {
		return e, fmt.Errorf("%w: type must be a string", ErrMalformed)
	}
	if e.SenderID, ok = f.String("senderId"); !ok {
		return e, fmt.Errorf("%w: senderId must be a string", ErrMalformed)
	}
	if e.ClientSequenceNumber, ok = f.Int("clientSequenceNumber"); !ok {
		return e, fmt.Errorf("%w: clientSequenceNumber must be an integer", ErrMalformed)
	}
	if e.CreatedAt, ok = f.Time("createdAt"); !ok {
		return e, fmt.Errorf("%w: createdAt must be a timestamp", ErrMalformed)
	}
	data, present, err := f.StringMap("data")
	switch {
	case err != nil:
		return e, fmt.Errorf("%w: %v", ErrMalformed, err)
	case !present:
		return e, fmt.Errorf("%w: data must be a map of strings", ErrMalformed)
	}
	e.Data = data
	return e, nil
}
