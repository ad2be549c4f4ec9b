package soak

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// This file is the model: the contract of SPEC.md and the README's event
// pipeline section, replayed in plain Go over a session's committed
// history. It is written from those documents, not from shared/events, so
// that agreeing with it means something. It uses package experiences only
// for what defines an experience: the schema check of one event alone and
// the reducers.

// Outcome is what the contract says an event's fate is.
type Outcome struct {
	Status string `json:"status"`
	Number int64  `json:"number,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ModelState is the session as the model folds it from system events.
type ModelState struct {
	Members []string
	Owner   string
	Ended   bool
	// Wrong lists system events that break the session rules where they
	// stand in the order (an owner change to a non-participant...).
	Wrong []string
}

// Breaks lists the rules the model can be told to skip, to prove that the
// checker notices (SOAK_BREAK=<name>).
var Breaks = []string{"membership", "end", "rate", "order"}

// Model replays a session's history.
type Model struct {
	Config Config
	// Break skips one rule (see Breaks); empty in real runs.
	Break string
}

// commitOrder sorts events as the contract orders a session: commit time
// (createdAt), then clientSequenceNumber, then document id. Events without
// a timestamp createdAt have no place and come back apart.
func (m Model) commitOrder(evs []EventDoc) (ordered, unordered []EventDoc) {
	for _, e := range evs {
		if e.CreatedAt.IsZero() || slices.Contains(e.BadFields, "createdAt") {
			unordered = append(unordered, e)
			continue
		}
		ordered = append(ordered, e)
	}
	slices.SortStableFunc(ordered, func(a, b EventDoc) int {
		if m.Break == "order" {
			return strings.Compare(a.DocID, b.DocID)
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ClientSeq, b.ClientSeq); c != 0 {
			return c
		}
		return strings.Compare(a.DocID, b.DocID)
	})
	return ordered, unordered
}

// bucket is a token bucket advanced by event time: rate per second, burst
// of twice the rate (README: "token buckets with bursts of twice the rate,
// counted on createdAt").
type bucket struct {
	tokens float64
	at     time.Time
	seen   bool
}

// take reports whether an event at t fits, and the bucket as it would be
// after taking it; the caller keeps that only when the event is accepted,
// so a rejected event leaves the bucket exactly as it was.
func (b bucket) take(rate float64, t time.Time) (bucket, bool) {
	if !b.seen {
		b.tokens, b.at, b.seen = 2*rate, t, true
	}
	if t.After(b.at) {
		b.tokens = min(2*rate, b.tokens+t.Sub(b.at).Seconds()*rate)
		b.at = t
	}
	if b.tokens < 1 {
		return b, false
	}
	b.tokens--
	return b, true
}

// Replay decides every event of a session's history in commit order and
// returns each event's outcome by document id and the final state.
func (m Model) Replay(experienceID string, evs []EventDoc) (map[string]Outcome, ModelState) {
	out := map[string]Outcome{}
	ordered, unordered := m.commitOrder(evs)
	for _, e := range unordered {
		out[e.DocID] = Outcome{Status: "rejected", Reason: "malformed_event"}
	}
	var st ModelState
	var number int64
	senders := map[string]bucket{}
	var session bucket
	x, known := experiences.Default().Lookup(experienceID)
	for _, e := range ordered {
		reject := func(reason string) { out[e.DocID] = Outcome{Status: "rejected", Reason: reason} }
		accept := func() {
			number++
			out[e.DocID] = Outcome{Status: "accepted", Number: number}
		}
		server := e.Origin == "server"
		switch {
		case len(e.BadFields) > 0:
			reject("malformed_event")
			continue
		case e.ID != e.DocID:
			reject("id_mismatch")
			continue
		case e.Bytes > m.Config.MaxEventBytes:
			reject("too_large")
			continue
		case model.IsSystemType(e.Type) && !server:
			reject("system_event_reserved")
			continue
		case st.Ended && m.Break != "end":
			reject("session_not_active")
			continue
		}
		if server {
			accept()
			st.apply(e)
			continue
		}
		if !slices.Contains(st.Members, e.SenderID) && m.Break != "membership" {
			reject("sender_not_participant")
			continue
		}
		if !known {
			reject("unknown_type")
			continue
		}
		if err := x.Validate(e.Type, e.Data); err != nil {
			if errors.Is(err, experiences.ErrUnknownType) {
				reject("unknown_type")
			} else {
				reject("invalid_data")
			}
			continue
		}
		sb, okSender := senders[e.SenderID].take(m.Config.SenderEventsPerSecond, e.CreatedAt)
		ss, okSession := session.take(m.Config.SessionEventsPerSecond, e.CreatedAt)
		if (!okSender || !okSession) && m.Break != "rate" {
			// Neither bucket is charged for a rejected event.
			reject("rate_limited")
			continue
		}
		senders[e.SenderID], session = sb, ss
		accept()
	}
	return out, st
}

func (st *ModelState) apply(e EventDoc) {
	uid := e.Data["userId"]
	switch e.Type {
	case model.ParticipantJoined:
		if e.Data["created"] == "true" && (len(st.Members) > 0 || st.Owner != "") {
			st.Wrong = append(st.Wrong, e.DocID+": a creator joined a session that had begun")
		}
		if uid != "" && !slices.Contains(st.Members, uid) {
			st.Members = append(st.Members, uid)
		}
		if e.Data["created"] == "true" {
			st.Owner = uid
		}
	case model.ParticipantLeft:
		st.Members = slices.DeleteFunc(st.Members, func(p string) bool { return p == uid })
	case model.OwnerChanged:
		prev, next := e.Data["previousOwnerId"], e.Data["newOwnerId"]
		switch {
		case prev != st.Owner:
			st.Wrong = append(st.Wrong, e.DocID+": owner_changed from "+prev+" but the owner is "+st.Owner)
		case !slices.Contains(st.Members, next):
			st.Wrong = append(st.Wrong, e.DocID+": owner_changed to "+next+", not a participant")
		case !slices.Contains(st.Members, prev) && next != st.Members[0]:
			// The owner left: ownership passes to the longest-present
			// participant (members are kept in joining order).
			st.Wrong = append(st.Wrong, e.DocID+": owner left, ownership went to "+next+", not the longest present "+st.Members[0])
		}
		st.Owner = next
	case model.ExperienceEnded:
		st.Ended = true
	}
}
