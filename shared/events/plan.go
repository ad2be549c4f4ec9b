package events

import (
	"errors"
	"slices"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
)

// This file is the sequencer's pure core: the session's sequencing state
// and the pending events in, the decisions and the next state out. No I/O,
// no clock, no log: a transaction retry replays it and gets the same plan.

// The sequencer's state is model.SequencerState, kept on the session
// document; model.Cursor is an event's place in the order.

func isZero(c model.Cursor) bool { return c.EventID == "" }

func cursorEvent(c model.Cursor) model.Event {
	return model.Event{CreatedAt: c.CreatedAt, RawClientSequenceNumber: c.ClientSequenceNumber, DocID: c.EventID}
}

func cursorAt(e model.Event) model.Cursor {
	return model.Cursor{CreatedAt: e.CreatedAt, ClientSequenceNumber: rawSeq(e), EventID: e.DocID}
}

func sameCursor(c, d model.Cursor) bool {
	return c.EventID == d.EventID && c.CreatedAt.Equal(d.CreatedAt) &&
		compareValues(c.ClientSequenceNumber, d.ClientSequenceNumber) == 0
}

// after reports whether e sorts after the cursor.
func after(c model.Cursor, e model.Event) bool {
	return isZero(c) || (e.Ordered() && compareEvents(cursorEvent(c), e) < 0)
}

// held returns how many of a window's events (in order) a run must leave
// pending, from the first one stamped in [from, to]: a run that began at
// start passes the events stamped before start - Settle, when every write
// stamped before them has committed. An event stamped since may still have
// an earlier neighbour in flight (stamped before the run, or while it
// began), and every event after it waits with it. An event stamped after
// start + Settle has its createdAt set by an admin, not by a request: it
// is not held, so that no such time holds the session's triggers for long.
func held(evs []model.Event, from, to time.Time) int {
	for i, e := range evs {
		if !e.CreatedAt.Before(from) && !e.CreatedAt.After(to) {
			return len(evs) - i
		}
	}
	return 0
}

// heldUntil is when an event held by held may pass: Settle after its
// stamp, which createdAt's milliseconds may round down by up to one.
func heldUntil(e model.Event, settle time.Duration) time.Time {
	return e.CreatedAt.Add(settle + time.Millisecond)
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
	window []model.Event
	extra  []model.Event
	// full says the window was cut at BatchSize: more events follow it.
	full bool
}

// decision is one event's outcome.
type decision struct {
	Event   model.Event
	Outcome Outcome
}

// plan is one run's result.
type plan struct {
	decisions []decision    // in the order decided
	accepted  []model.Event // in sequence order, numbered
	state     model.SequencerState
	// lastSequenceNumber and lastEventID are the session's after the run.
	lastSequenceNumber int64
	lastEventID        string
	// moved says the cursor or the buckets changed: the session document
	// must be written even if nothing was accepted.
	moved bool
	// late counts the events decided behind the cursor, out of order.
	late int64
}

// decideBatch decides every undecided event of b, in order, from the
// session as the sequencer left it (st) and its last number.
func decideBatch(sess model.Session, st model.SequencerState, b batch, r rules) plan {
	read := st.Cursor
	st = cloneState(st)
	p := plan{lastSequenceNumber: sess.LastEventSequenceNumber, lastEventID: sess.LastEventID}
	if !st.Ordered {
		st.Members, st.Ended, st.Ordered = slices.Clone(sess.Participants), sess.Status != model.StatusActive, true
		p.moved = true
	}
	todo := make([]model.Event, 0, len(b.window)+len(b.extra))
	for _, ev := range b.window {
		if ev.Status == "" {
			todo = append(todo, ev)
		}
	}
	todo = append(todo, b.extra...)
	slices.SortFunc(todo, compareEvents)
	for _, ev := range todo {
		out := decide(sess.ExperienceID, &st, ev, r)
		if out.Status == model.EventAccepted {
			p.lastSequenceNumber++
			out.SequenceNumber = p.lastSequenceNumber
			p.lastEventID = ev.DocID
			ev.Status, ev.SequenceNumber = out.Status, out.SequenceNumber
			p.accepted = append(p.accepted, ev)
		}
		p.decisions = append(p.decisions, decision{ev, out})
		// A late event decided out of order (it sorts before the cursor)
		// does not move the cursor back.
		switch {
		case !ev.Ordered():
		case after(st.Cursor, ev):
			st.Cursor = cursorAt(ev)
		case !after(read, ev):
			p.late++
		}
	}
	// Everything in the window is decided now, whoever decided it: the
	// cursor passes the whole window, so no run is ever spent on a window
	// that was decided already.
	if n := len(b.window); n > 0 && after(st.Cursor, b.window[n-1]) {
		st.Cursor = cursorAt(b.window[n-1])
	}
	if len(p.decisions) > 0 || !sameCursor(st.Cursor, read) {
		p.moved = true
	}
	forgetFullBuckets(&st, r.sender)
	p.state = st
	return p
}

// decide validates one event against the session as of its place in the
// order and the experience. The order of the checks makes each reason
// deterministic when several apply.
func decide(experienceID string, st *model.SequencerState, ev model.Event, r rules) Outcome {
	reject := func(reason RejectReason) Outcome { return Outcome{Status: model.EventRejected, Reason: reason} }
	switch {
	case ev.Malformed != nil:
		return reject(ReasonMalformed)
	case ev.ID != ev.DocID:
		return reject(ReasonIDMismatch)
	case ev.Size > r.maxEventBytes:
		return reject(ReasonTooLarge)
	case model.IsSystemType(ev.Type) && ev.Origin != model.OriginServer:
		return reject(ReasonSystemReserved)
	case st.Ended:
		// experience_ended is the last accepted event, system events
		// included.
		return reject(ReasonSessionInactive)
	}
	if ev.Origin == model.OriginServer {
		// The functions wrote it, having changed the session themselves in
		// the same transaction; it needs its number, and moves the
		// sequencer's view of the session.
		applySystem(st, ev)
		return Outcome{Status: model.EventAccepted}
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
	sender, session := senderBucket(st, ev.SenderID), &st.Session
	sb, ss := *sender, *session
	if !sb.Take(r.sender, ev.CreatedAt) || !ss.Take(r.session, ev.CreatedAt) {
		return reject(ReasonRateLimited)
	}
	*sender, *session = sb, ss
	return Outcome{Status: model.EventAccepted}
}

// applySystem folds an accepted system event into the sequencer's view of the
// session, as experiences.Fold does into the snapshot's.
func applySystem(st *model.SequencerState, ev model.Event) {
	uid := ev.Data[model.DataUserID]
	switch ev.Type {
	case model.ParticipantJoined:
		if uid != "" && !slices.Contains(st.Members, uid) {
			st.Members = append(st.Members, uid)
		}
	case model.ParticipantLeft:
		st.Members = slices.DeleteFunc(st.Members, func(p string) bool { return p == uid })
	case model.ExperienceEnded:
		st.Ended = true
	}
}

func cloneState(st model.SequencerState) model.SequencerState {
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
func forgetFullBuckets(st *model.SequencerState, l ratelimit.Limit) {
	for uid, b := range st.Senders {
		if b.Full(l, st.Cursor.CreatedAt) {
			delete(st.Senders, uid)
		}
	}
}

func senderBucket(st *model.SequencerState, uid string) *ratelimit.Bucket {
	b, ok := st.Senders[uid]
	if !ok {
		b = &ratelimit.Bucket{}
		st.Senders[uid] = b
	}
	return b
}
