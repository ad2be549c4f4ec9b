package model

import (
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
)

// Status values the server writes on an event; empty means not decided yet.
const (
	EventAccepted = "accepted"
	EventRejected = "rejected"
)

// OriginServer marks an event the functions wrote themselves (the system
// events). The rules' field allow-list keeps clients from writing "origin".
const OriginServer = "server"

// SystemSender is the senderId of system events no user caused.
const SystemSender = "system"

// Event is a StateSyncEvent document as stored: the client's fields and
// the server's decision.
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

	// Size approximates the stored size, for the size limit.
	Size int
	// RawClientSequenceNumber is clientSequenceNumber as written, of
	// whatever type, so the sequencer can place even a malformed event by
	// the values Firestore orders it by.
	RawClientSequenceNumber any
	// Malformed is why the client fields could not be read, if they could
	// not.
	Malformed error
	// UpdateTime is the document's update time as read or carried: a
	// decision made from a trigger's copy is written only if the document
	// is unchanged since.
	UpdateTime time.Time
}

// ErrMalformed reports an event document whose client fields are missing or
// of the wrong type.
var ErrMalformed = errors.New("malformed event")

// Ordered reports whether the event has a place in the session's order: a
// timestamp createdAt.
func (e Event) Ordered() bool { return !e.CreatedAt.IsZero() }

// DecodeEvent reads an event document. A malformed one is still returned,
// with its reason, so it can be rejected.
func DecodeEvent(doc *firestore.DocumentSnapshot) Event {
	return DecodeEventData(doc.Ref.ID, doc.Data(), doc.UpdateTime)
}

// DecodeEventData reads an event from its fields as the Go client returns
// a document's data, and its update time, for an event document that
// arrives other than by a read (the created document a trigger's
// CloudEvent carries).
func DecodeEventData(docID string, data map[string]any, updateTime time.Time) Event {
	e := decodeEvent(docID, data)
	e.UpdateTime = updateTime
	return e
}

func decodeEvent(docID string, m map[string]any) Event {
	e := Event{DocID: docID}
	e.Status, _ = m[FieldStatus].(string)
	e.SequenceNumber, _ = m[FieldSequenceNumber].(int64)
	e.RejectReason, _ = m[FieldRejectReason].(string)
	e.Origin, _ = m[FieldOrigin].(string)

	var ok bool
	fail := func(format string, args ...any) Event {
		if e.Malformed == nil {
			e.Malformed = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
		}
		return e
	}
	e.CreatedAt, ok = m[FieldCreatedAt].(time.Time)
	if !ok {
		fail("createdAt must be a timestamp")
	}
	e.RawClientSequenceNumber = m[FieldClientSequenceNumber]
	if e.ID, ok = m[FieldID].(string); !ok {
		fail("id must be a string")
	}
	if e.Type, ok = m[FieldType].(string); !ok {
		fail("type must be a string")
	}
	if e.SenderID, ok = m[FieldSenderID].(string); !ok {
		fail("senderId must be a string")
	}
	if e.ClientSequenceNumber, ok = m[FieldClientSequenceNumber].(int64); !ok {
		fail("clientSequenceNumber must be an integer")
	}
	e.Size = len(e.DocID) + len(e.ID) + len(e.Type) + len(e.SenderID) + 64 + valueSize(m[FieldData])
	raw, ok := m[FieldData].(map[string]any)
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
	}
	return e
}

// valueSize approximates a Firestore value's stored size (a string is its
// bytes and one, a map its keys and values, see Firestore's storage size
// calculation), whatever its type, so that a malformed event's size is
// known too.
func valueSize(v any) int {
	switch v := v.(type) {
	case string:
		return len(v) + 1
	case []byte:
		return len(v)
	case map[string]any:
		n := 0
		for k, x := range v {
			n += len(k) + 1 + valueSize(x)
		}
		return n
	case []any:
		n := 0
		for _, x := range v {
			n += valueSize(x)
		}
		return n
	case nil, bool:
		return 1
	default:
		return 8
	}
}

// ClientDocument is the document a client creates for e (createdAt is the
// commit time, as the rules require).
func (e Event) ClientDocument() map[string]any {
	data := make(map[string]any, len(e.Data))
	for k, v := range e.Data {
		data[k] = v
	}
	return map[string]any{
		FieldID:                   e.ID,
		FieldType:                 e.Type,
		FieldSenderID:             e.SenderID,
		FieldData:                 data,
		FieldClientSequenceNumber: e.ClientSequenceNumber,
		FieldCreatedAt:            firestore.ServerTimestamp,
	}
}

// Decision is the server's outcome for one event.
type Decision struct {
	Status         string
	RejectReason   string
	SequenceNumber int64
	// DropData removes the event's data with its decision (see
	// DropDataAbove).
	DropData bool
}

// DropDataAbove is the Event.Size above which a rejected event's data is
// removed with its decision. Firestore refuses any write that takes a
// document past 1 MiB, and a decision adds fields: without the removal,
// an event written within a few bytes of the limit could never be
// decided, and no run of its session could commit again. Far above any
// event a sequencer accepts (MAX_EVENT_BYTES), so only junk loses its
// data.
const DropDataAbove = 1<<20 - 16<<10

// Updates is the decision as written on the event document.
func (d Decision) Updates() []firestore.Update {
	updates := []firestore.Update{
		{Path: FieldStatus, Value: d.Status},
		{Path: FieldSequencedAt, Value: firestore.ServerTimestamp},
	}
	if d.Status == EventAccepted {
		return append(updates, firestore.Update{Path: FieldSequenceNumber, Value: d.SequenceNumber})
	}
	if d.DropData {
		updates = append(updates, firestore.Update{Path: FieldData, Value: firestore.Delete})
	}
	return append(updates, firestore.Update{Path: FieldRejectReason, Value: d.RejectReason})
}

// AcceptedEvent is an accepted StateSyncEvent as a client receives it
// (joinSession's catch-up).
type AcceptedEvent struct {
	ID                   string            `json:"id"`
	Type                 string            `json:"type"`
	SenderID             string            `json:"senderId"`
	Data                 map[string]string `json:"data"`
	SequenceNumber       int64             `json:"sequenceNumber"`
	ClientSequenceNumber int64             `json:"clientSequenceNumber"`
	CreatedAt            time.Time         `json:"createdAt"`
}

// Accepted is e as a client receives it. Data is never nil.
func (e Event) Accepted() AcceptedEvent {
	data := e.Data
	if data == nil {
		data = map[string]string{}
	}
	return AcceptedEvent{
		ID: e.DocID, Type: e.Type, SenderID: e.SenderID, Data: data,
		SequenceNumber: e.SequenceNumber, ClientSequenceNumber: e.ClientSequenceNumber, CreatedAt: e.CreatedAt,
	}
}
