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
// decision is taken in a transaction that reads the event, or the cursor
// its copy sorts after (see Copies): an event that already has a status
// was decided before and is left alone. Order comes from the events'
// createdAt (the commit time, which the rules force to request.time), then
// clientSequenceNumber, then id, never from arrival; rate limits are
// computed on createdAt too, so a redelivery can never change an outcome.
//
// The pending query runs inside the read-write transaction on purpose. On
// the emulator a client's createdAt (request.time) is stamped before its
// rules run, so a slow write can become visible after a later one; the
// transaction's locks make the query wait for writes in flight. A query
// outside the transaction (optimistic concurrency, commit preconditions on
// update times) passed such events by and numbered them late, out of
// order (functions TestConcurrentWriters, 50 writers through the rules).
//
// # Copies
//
// A Firestore trigger carries its event as created, and SequenceCreated
// keeps that copy on the lane while the trigger waits. The instance that
// moved a session's cursor last, whose last window held nothing the
// triggers had not carried, decides the copies without reading them: the
// cursor, read in the transaction, says they are undecided (runs decide in
// order, and the cursor passes all they decide), and one count aggregation
// over the events from the cursor to the last copy says nothing else is
// pending there; each decision is written only if its document is still
// the copy (its update time). Otherwise (a count that finds more, copies
// that lag their writes, another instance moving the cursor) the run reads
// the window as Sequence does. So a lone writer's event costs about its decision's write
// and a share of the run's, not also a read. A copy is trusted as the
// document created: its content is judged and published unread, and the
// update-time precondition is no secret (for a client's event it is its
// createdAt), so only Eventarc may invoke the trigger (the deploy grants
// the trigger's service account alone).
//
// # Settle
//
// The locks do not cover a write stamped before a run and held up by the
// run itself: its rules wait for the transaction's lock on the session, so
// it commits after the run has passed its place (soak seed 9521). With
// Options.Settle a run passes only the events stamped Settle before it began
// (see held), and the trigger of a held event waits until its event has
// settled and runs again; the lane keeps when each held event settles, so
// the other triggers of a burst wait without a transaction. Production
// needs none (createdAt is the commit time); the emulator's configuration
// sets it. An event still decided behind the cursor is counted
// (Counters.LateEvents) and logged.
package events

import (
	"cmp"
	"strings"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/model"
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

// before orders events as the session sees them: commit time, then the
// client's tie-breaker, then id. Events without an order (no timestamp
// createdAt) sort first, by id: they are rejected and take no number, so
// where they sort changes nothing else.
func before(a, b model.Event) bool { return compareEvents(a, b) < 0 }

func compareEvents(a, b model.Event) int {
	switch {
	case a.Ordered() != b.Ordered():
		if !a.Ordered() {
			return -1
		}
		return 1
	case a.Ordered():
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if c := compareValues(rawSeq(a), rawSeq(b)); c != 0 {
			return c
		}
	}
	return strings.Compare(a.DocID, b.DocID)
}

// rawSeq is the clientSequenceNumber as Firestore orders it.
func rawSeq(e model.Event) any {
	if e.RawClientSequenceNumber != nil {
		return e.RawClientSequenceNumber
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
