package inspector

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/experiences"
)

// The pure part of the inspector: documents as read, and what the page
// shows of them. Nothing here does I/O.

// Event is a StateSyncEvent document as the page shows it. Data is kept as
// read: a rejected event's data may be anything a client wrote.
type Event struct {
	DocID                string    `json:"docId"`
	Type                 string    `json:"type"`
	SenderID             string    `json:"senderId"`
	Data                 any       `json:"data"`
	ClientSequenceNumber int64     `json:"clientSequenceNumber"`
	CreatedAt            time.Time `json:"createdAt"`
	Status               string    `json:"status"` // "" while pending
	SequenceNumber       int64     `json:"sequenceNumber,omitempty"`
	RejectReason         string    `json:"rejectReason,omitempty"`
	SequencedAt          time.Time `json:"sequencedAt"`
	// System: emitted by the server (origin "server", or a reserved type).
	System bool `json:"system"`
	// DelayMs is sequencedAt - createdAt: how long the event waited for
	// its trigger and its batch.
	DelayMs *int64 `json:"delayMs,omitempty"`
}

// Stream sorts a session's events for the page: the accepted ones in
// sequence order, then the pending and the rejected ones in commit order.
type Stream struct {
	Accepted []Event `json:"accepted"`
	Pending  []Event `json:"pending"`
	Rejected []Event `json:"rejected"`
}

// NewStream sorts events and fills in their delays.
func NewStream(events []Event) Stream {
	s := Stream{Accepted: []Event{}, Pending: []Event{}, Rejected: []Event{}}
	for _, e := range events {
		if !e.CreatedAt.IsZero() && !e.SequencedAt.IsZero() {
			d := e.SequencedAt.Sub(e.CreatedAt).Milliseconds()
			e.DelayMs = &d
		}
		switch e.Status {
		case "accepted":
			s.Accepted = append(s.Accepted, e)
		case "rejected":
			s.Rejected = append(s.Rejected, e)
		default:
			s.Pending = append(s.Pending, e)
		}
	}
	slices.SortFunc(s.Accepted, func(a, b Event) int { return cmp.Compare(a.SequenceNumber, b.SequenceNumber) })
	byCommit := func(a, b Event) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ClientSequenceNumber, b.ClientSequenceNumber), cmp.Compare(a.DocID, b.DocID))
	}
	slices.SortFunc(s.Pending, byCommit)
	slices.SortFunc(s.Rejected, byCommit)
	return s
}

// Snapshot is state_snapshots/latest as read.
type Snapshot struct {
	ExperienceState         string
	Participants            []string
	OwnerID                 string
	LastEventSequenceNumber int64
	SchemaVersion           int
	UpdatedAt               time.Time
}

// StateView is a session's state at one sequence number.
type StateView struct {
	At           int64           `json:"at"`
	Participants []string        `json:"participants"`
	OwnerID      string          `json:"ownerId"`
	Ended        bool            `json:"ended"`
	State        json.RawMessage `json:"state"`
	// From says where the fold started: "snapshot" (at its number) or
	// "initial" (number 0).
	From string `json:"from"`
}

// ErrPruned reports a state the kept events cannot rebuild: the events it
// needs were pruned after compaction, and the snapshot is past it.
var ErrPruned = errors.New("events pruned")

// StateAt folds the accepted events (sorted, as in Stream) up to number at
// with the experience's own reducer, from the snapshot when it covers no
// more than at, else from the initial state.
func StateAt(x experiences.Experience, snap *Snapshot, accepted []Event, at int64) (StateView, error) {
	state, from, base := experiences.NewState(x), "initial", int64(0)
	if snap != nil && snap.LastEventSequenceNumber <= at {
		st, err := x.DecodeState(snap.SchemaVersion, json.RawMessage(snap.ExperienceState))
		if err != nil {
			return StateView{}, fmt.Errorf("decode the snapshot: %w", err)
		}
		state = experiences.State{Participants: snap.Participants, OwnerID: snap.OwnerID, Experience: st}
		from, base = "snapshot", snap.LastEventSequenceNumber
	}
	next := base + 1
	var folded []experiences.Event
	for _, e := range accepted {
		if e.SequenceNumber <= base || e.SequenceNumber > at {
			continue
		}
		if e.SequenceNumber != next {
			return StateView{}, fmt.Errorf("%w: #%d is not kept (the earliest kept after #%d is #%d)", ErrPruned, next, base, e.SequenceNumber)
		}
		data, _ := e.Data.(map[string]string)
		folded = append(folded, experiences.Event{Type: e.Type, SenderID: e.SenderID, Data: data})
		next++
	}
	if next <= at {
		return StateView{}, fmt.Errorf("%w: no event #%d", ErrPruned, next)
	}
	state = experiences.Fold(x, state, folded...)
	raw, err := x.EncodeState(state.Experience)
	if err != nil {
		return StateView{}, fmt.Errorf("encode the state: %w", err)
	}
	participants := state.Participants
	if participants == nil {
		participants = []string{}
	}
	return StateView{At: at, Participants: participants, OwnerID: state.OwnerID, Ended: state.Ended, State: raw, From: from}, nil
}

// Participant is one participant's presence.
type Participant struct {
	UID   string `json:"uid"`
	Owner bool   `json:"owner"`
	// LastSeenAt is the last heartbeat; nil when there is none.
	LastSeenAt *time.Time `json:"lastSeenAt"`
	// DueAt is when the heartbeat is older than the grace period: the
	// next presence check after it removes the participant.
	DueAt time.Time `json:"dueAt"`
}

// Presence orders the participants by when they would be removed, the
// first one next. Among those due at once the owner goes last, as the
// presence sweep removes the owner after the others.
func Presence(participants []string, ownerID string, lastSeen map[string]time.Time, grace time.Duration) []Participant {
	out := make([]Participant, 0, len(participants))
	for _, uid := range participants {
		p := Participant{UID: uid, Owner: uid == ownerID}
		if t, ok := lastSeen[uid]; ok && !t.IsZero() {
			p.LastSeenAt = &t
			p.DueAt = t.Add(grace)
		}
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b Participant) int {
		return cmp.Or(a.DueAt.Compare(b.DueAt), boolCompare(a.Owner, b.Owner))
	})
	return out
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
