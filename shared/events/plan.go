package events

import (
	"errors"
	"slices"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
)

// This file is the sequencer's pure core: the session's sequencing state
// and the pending events in, the decisions and the next state out. No I/O,
// no clock, no log: a transaction retry replays it and gets the same plan.

// sequencerState is what the session document keeps for the sequencer
// (its "sequencer" field).
type sequencerState struct {
	// Cursor is the position, in the session's order, of the last event
	// decided in order: every event after it is undecided or was decided
	// out of order by its own trigger.
	Cursor cursor `firestore:"cursor"`
	// Session is the session's rate bucket; Senders those of each sender.
	Session ratelimit.Bucket             `firestore:"session"`
	Senders map[string]*ratelimit.Bucket `firestore:"senders"`
	// Members and Ended are the session as of the cursor: the system
	// events folded in order. An event is judged on them, at its place in
	// the order, never on the session document as it is when a trigger
	// happens to run.
	Members []string `firestore:"members"`
	Ended   bool     `firestore:"ended"`
	// Ordered says Members and Ended are set. A session made by
	// sessions.Store.Create starts ordered with nobody in it (its first
	// event is the creator's participant_joined); one written by other
	// means (an admin, a test) is taken as its document says at the first
	// run.
	Ordered bool `firestore:"ordered"`
}

// cursor is an event's place in the order. ClientSequenceNumber is kept as
// written (normally an integer) so that the cursor can pass a malformed
// event by the values Firestore orders it by.
type cursor struct {
	CreatedAt            time.Time `firestore:"createdAt"`
	ClientSequenceNumber any       `firestore:"clientSequenceNumber"`
	EventID              string    `firestore:"eventId"`
}

func (c cursor) isZero() bool { return c.EventID == "" }

func (c cursor) event() Event {
	return Event{CreatedAt: c.CreatedAt, seq: c.ClientSequenceNumber, DocID: c.EventID}
}

func cursorAt(e Event) cursor {
	return cursor{CreatedAt: e.CreatedAt, ClientSequenceNumber: e.rawSeq(), EventID: e.DocID}
}

func (c cursor) equal(d cursor) bool {
	return c.EventID == d.EventID && c.CreatedAt.Equal(d.CreatedAt) &&
		compareValues(c.ClientSequenceNumber, d.ClientSequenceNumber) == 0
}

// after reports whether e sorts after the cursor.
func (c cursor) after(e Event) bool {
	return c.isZero() || (e.ordered() && compareEvents(c.event(), e) < 0)
}

// rules is what decides an event besides the session: the limits and the
// experiences.
type rules struct {
	maxEventBytes int
	sender        ratelimit.Limit
	session       ratelimit.Limit
	lookup        func(experienceID string) (experiences.Experience, bool)
}

// batch is one run's input: the window the pending query returned (every
// event after the cursor, decided or not, in order, at most BatchSize) and
// the undecided events it cannot return (the trigger's own event, when it
// sorts before the cursor or has no order).
type batch struct {
	window []Event
	extra  []Event
	// full says the window was cut at BatchSize: more events follow it.
	full bool
}

// decision is one event's outcome.
type decision struct {
	Event   Event
	Outcome Outcome
}

// plan is one run's result.
type plan struct {
	decisions []decision // in the order decided
	accepted  []Event    // in sequence order, numbered
	state     sequencerState
	// lastSequenceNumber and lastEventID are the session's after the run.
	lastSequenceNumber int64
	lastEventID        string
	// moved says the cursor or the buckets changed: the session document
	// must be written even if nothing was accepted.
	moved bool
}

// decideBatch decides every undecided event of b, in order, from the
// session as the sequencer left it (st) and its last number.
func decideBatch(sess sessions.Session, st sequencerState, b batch, r rules) plan {
	read := st.Cursor
	st = st.clone()
	p := plan{lastSequenceNumber: sess.LastEventSequenceNumber, lastEventID: sess.LastEventID}
	if !st.Ordered {
		st.Members, st.Ended, st.Ordered = slices.Clone(sess.Participants), sess.Status != sessions.StatusActive, true
		p.moved = true
	}
	todo := make([]Event, 0, len(b.window)+len(b.extra))
	for _, ev := range b.window {
		if ev.Status == "" {
			todo = append(todo, ev)
		}
	}
	todo = append(todo, b.extra...)
	slices.SortFunc(todo, compareEvents)
	for _, ev := range todo {
		out := decide(sess.ExperienceID, &st, ev, r)
		if out.Status == StatusAccepted {
			p.lastSequenceNumber++
			out.SequenceNumber = p.lastSequenceNumber
			p.lastEventID = ev.DocID
			ev.Status, ev.SequenceNumber = out.Status, out.SequenceNumber
			p.accepted = append(p.accepted, ev)
		}
		p.decisions = append(p.decisions, decision{ev, out})
		// A late event decided out of order (it sorts before the cursor)
		// does not move the cursor back.
		if ev.ordered() && st.Cursor.after(ev) {
			st.Cursor = cursorAt(ev)
		}
	}
	// Everything in the window is decided now, whoever decided it: the
	// cursor passes the whole window, so no run is ever spent on a window
	// that was decided already.
	if n := len(b.window); n > 0 && st.Cursor.after(b.window[n-1]) {
		st.Cursor = cursorAt(b.window[n-1])
	}
	if len(p.decisions) > 0 || !st.Cursor.equal(read) {
		p.moved = true
	}
	st.forgetFullBuckets(r.sender)
	p.state = st
	return p
}

// decide validates one event against the session as of its place in the
// order and the experience. The order of the checks makes each reason
// deterministic when several apply.
func decide(experienceID string, st *sequencerState, ev Event, r rules) Outcome {
	reject := func(reason RejectReason) Outcome { return Outcome{Status: StatusRejected, Reason: reason} }
	switch {
	case ev.malformed != nil:
		return reject(ReasonMalformed)
	case ev.ID != ev.DocID:
		return reject(ReasonIDMismatch)
	case ev.size > r.maxEventBytes:
		return reject(ReasonTooLarge)
	case experiences.IsSystemType(ev.Type) && ev.Origin != OriginServer:
		return reject(ReasonSystemReserved)
	case st.Ended:
		// experience_ended is the last accepted event, system events
		// included.
		return reject(ReasonSessionInactive)
	}
	if ev.Origin == OriginServer {
		// The functions wrote it, having changed the session themselves in
		// the same transaction; it needs its number, and moves the
		// sequencer's view of the session.
		st.apply(ev)
		return Outcome{Status: StatusAccepted}
	}
	if !slices.Contains(st.Members, ev.SenderID) {
		return reject(ReasonNotParticipant)
	}
	x, ok := r.lookup(experienceID)
	if !ok {
		return reject(ReasonUnknownType)
	}
	if err := x.Validate(ev.Type, ev.Data); err != nil {
		if errors.Is(err, experiences.ErrUnknownType) {
			return reject(ReasonUnknownType)
		}
		return reject(ReasonInvalidData)
	}
	// Both buckets must have room; neither is charged for a rejected event
	// (see the package doc: what junk costs is bounded by batching).
	sender, session := st.sender(ev.SenderID), &st.Session
	sb, ss := *sender, *session
	if !sb.Take(r.sender, ev.CreatedAt) || !ss.Take(r.session, ev.CreatedAt) {
		return reject(ReasonRateLimited)
	}
	*sender, *session = sb, ss
	return Outcome{Status: StatusAccepted}
}

// apply folds an accepted system event into the sequencer's view of the
// session, as experiences.Fold does into the snapshot's.
func (st *sequencerState) apply(ev Event) {
	uid := ev.Data["userId"]
	switch ev.Type {
	case experiences.ParticipantJoined:
		if uid != "" && !slices.Contains(st.Members, uid) {
			st.Members = append(st.Members, uid)
		}
	case experiences.ParticipantLeft:
		st.Members = slices.DeleteFunc(st.Members, func(p string) bool { return p == uid })
	case experiences.ExperienceEnded:
		st.Ended = true
	}
}

func (st sequencerState) clone() sequencerState {
	senders := make(map[string]*ratelimit.Bucket, len(st.Senders))
	for uid, b := range st.Senders {
		c := *b
		senders[uid] = &c
	}
	st.Senders = senders
	st.Members = slices.Clone(st.Members)
	return st
}

// forgetFullBuckets drops the buckets of senders quiet long enough to have
// refilled completely: a full bucket and no bucket decide alike, and the
// session document must not grow with every sender ever seen.
func (st *sequencerState) forgetFullBuckets(l ratelimit.Limit) {
	for uid, b := range st.Senders {
		if b.Full(l, st.Cursor.CreatedAt) {
			delete(st.Senders, uid)
		}
	}
}

func (st *sequencerState) sender(uid string) *ratelimit.Bucket {
	b, ok := st.Senders[uid]
	if !ok {
		b = &ratelimit.Bucket{}
		st.Senders[uid] = b
	}
	return b
}
