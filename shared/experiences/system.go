package experiences

import "slices"

// System event types, emitted by the server only.
const (
	ParticipantJoined = "participant_joined"
	ParticipantLeft   = "participant_left"
	OwnerChanged      = "owner_changed"
	ExperienceEnded   = "experience_ended"
)

// IsSystemType reports whether t is reserved for the server.
func IsSystemType(t string) bool {
	switch t {
	case ParticipantJoined, ParticipantLeft, OwnerChanged, ExperienceEnded:
		return true
	}
	return false
}

// State is a session's whole state at some sequence number: the system part
// every experience shares (the seed's ExperienceSystemContext) and the
// experience's own state.
type State struct {
	Participants []string
	OwnerID      string
	Ended        bool
	Experience   any
}

// NewState is the state before any event.
func NewState(x Experience) State { return State{Experience: x.Initial()} }

// Fold applies accepted events in sequence order. It is pure: the input
// state is not changed.
func Fold(x Experience, s State, events ...Event) State {
	s.Participants = slices.Clone(s.Participants)
	for _, e := range events {
		s = apply(x, s, e)
	}
	return s
}

func apply(x Experience, s State, e Event) State {
	switch e.Type {
	case ParticipantJoined:
		if uid := e.Data["userId"]; uid != "" && !slices.Contains(s.Participants, uid) {
			s.Participants = append(s.Participants, uid)
		}
		if e.Data["created"] == "true" {
			s.OwnerID = e.Data["userId"] // the creator owns a new session
		}
	case ParticipantLeft:
		s.Participants = slices.DeleteFunc(s.Participants, func(p string) bool { return p == e.Data["userId"] })
	case OwnerChanged:
		s.OwnerID = e.Data["newOwnerId"]
	case ExperienceEnded:
		s.Ended = true
	default:
		if !s.Ended {
			s.Experience = x.Reduce(s.Experience, e)
		}
	}
	return s
}
