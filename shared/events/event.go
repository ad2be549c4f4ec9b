// Package events is the StateSyncEvent pipeline on the server: validating
// the events clients write, giving the accepted ones their place in the
// session's one order (sequenceNumber 1, 2, 3... with no gap), and handing
// them to the fan-out.
//
// # Batches
//
// Firestore sustains about one write a second on one document, so the
// session document cannot be written once per event. A sequencing run
// decides every pending event of a session in one transaction and writes
// the session once. Within a process, the triggers of one session queue on
// a lane: the first runs the batch, and those whose events it decided return
// without touching Firestore.
//
// # Exactly-once over at-least-once
//
// Triggers arrive at least once, late, out of order and concurrently. Every
// decision is taken in a transaction that first reads the event: an event
// that already has a status was decided before and is left alone. Order
// comes from the events' createdAt (the commit time, which the rules force
// to request.time), then clientSequenceNumber, then id, never from arrival;
// rate limits are computed on createdAt too, so a redelivery can never
// change an outcome.
package events

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/shared/sessions"
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
	ReasonUnknownType     RejectReason = "unknown_type"
	ReasonInvalidData     RejectReason = "invalid_data"
	ReasonTooLarge        RejectReason = "too_large"
	ReasonIDMismatch      RejectReason = "id_mismatch"
	ReasonSystemReserved  RejectReason = "system_event_reserved"
	ReasonRateLimited     RejectReason = "rate_limited"
	ReasonMalformed       RejectReason = "malformed_event"
)

// OriginServer marks an event the functions wrote themselves (the system
// events). The rules' field allow-list keeps clients from writing "origin".
const OriginServer = sessions.OriginServer

// Event is a StateSyncEvent as stored.
type Event struct {
	// DocID is the document id; ID is the client's "id" field.
	DocID                string
	ID                   string
	Type                 string
	SenderID             string
	Data                 map[string]string
	ClientSequenceNumber int64
	CreatedAt            time.Time
	Origin               string

	// Server fields: empty Status means not decided yet.
	Status         string
	SequenceNumber int64
	RejectReason   string

	// size approximates the stored size, for the size limit.
	size int
	// seq is the raw clientSequenceNumber, of whatever type it was
	// written with, so that the cursor can pass even a malformed event by
	// the values Firestore orders it by.
	seq any
	// malformed is why the client fields could not be read, if they could
	// not.
	malformed error
}

// ErrMalformed reports an event document whose client fields are missing or
// of the wrong type.
var ErrMalformed = errors.New("malformed event")

// fromSnapshot reads an event document. A malformed one is still returned,
// with its reason, so it can be rejected.
func fromSnapshot(doc *firestore.DocumentSnapshot) Event {
	m := doc.Data()
	e := Event{DocID: doc.Ref.ID}
	e.Status, _ = m["status"].(string)
	e.SequenceNumber, _ = m["sequenceNumber"].(int64)
	e.RejectReason, _ = m["rejectReason"].(string)
	e.Origin, _ = m["origin"].(string)

	var ok bool
	fail := func(format string, args ...any) Event {
		if e.malformed == nil {
			e.malformed = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
		}
		return e
	}
	e.CreatedAt, ok = m["createdAt"].(time.Time)
	if !ok {
		fail("createdAt must be a timestamp")
	}
	e.seq = m["clientSequenceNumber"]
	if e.ID, ok = m["id"].(string); !ok {
		fail("id must be a string")
	}
	if e.Type, ok = m["type"].(string); !ok {
		fail("type must be a string")
	}
	if e.SenderID, ok = m["senderId"].(string); !ok {
		fail("senderId must be a string")
	}
	if e.ClientSequenceNumber, ok = m["clientSequenceNumber"].(int64); !ok {
		fail("clientSequenceNumber must be an integer")
	}
	e.size = len(e.DocID) + len(e.ID) + len(e.Type) + len(e.SenderID) + 64
	raw, ok := m["data"].(map[string]any)
	if !ok {
		return fail("data must be a map of strings")
	}
	e.Data = make(map[string]string, len(raw))
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			return fail("data.%s must be a string", k)
		}
		e.Data[k] = s
		e.size += len(k) + len(s) + 2
	}
	return e
}

// before orders events as the session sees them: commit time, then the
// client's tie-breaker, then id. Events without an order (no timestamp
// createdAt) sort first, by id: they are rejected and take no number, so
// where they sort changes nothing else.
func before(a, b Event) bool { return compareEvents(a, b) < 0 }

func compareEvents(a, b Event) int {
	switch {
	case a.ordered() != b.ordered():
		if !a.ordered() {
			return -1
		}
		return 1
	case a.ordered():
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if c := compareValues(a.rawSeq(), b.rawSeq()); c != 0 {
			return c
		}
	}
	return strings.Compare(a.DocID, b.DocID)
}

// ordered reports whether the event has a place in the session's order: a
// timestamp createdAt (the pending query only returns those, see
// minTimestamp).
func (e Event) ordered() bool { return !e.CreatedAt.IsZero() }

// rawSeq is the clientSequenceNumber as Firestore orders it.
func (e Event) rawSeq() any {
	if e.seq != nil {
		return e.seq
	}
	return e.ClientSequenceNumber
}

// compareValues orders two field values as Firestore's query order does for
// the types an event's clientSequenceNumber can hold: null, booleans,
// numbers, timestamps, strings, then everything else (compared equal, and
// left to the document id).
func compareValues(a, b any) int {
	ra, rb := valueRank(a), valueRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
		return cmp.Compare(float64(x), b.(float64))
	case float64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, float64(y))
		}
		return cmp.Compare(x, b.(float64))
	case time.Time:
		return x.Compare(b.(time.Time))
	case string:
		return strings.Compare(x, b.(string))
	}
	return 0
}

func valueRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64, float64:
		return 2
	case time.Time:
		return 3
	case string:
		return 4
	}
	return 5
}
