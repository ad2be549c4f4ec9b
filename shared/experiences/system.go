package experiences

import (
	"slices"

	"github.com/pajama-app/sharedexperiences/shared/model"
)

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
	case model.ParticipantJoined:
		if uid := e.Data[model.DataUserID]; uid != "" && !slices.Contains(s.Participants, uid) {
			s.Participants = append(s.Participants, uid)
		}
		if e.Data[model.DataCreated] == "true" {
			s.OwnerID = e.Data[model.DataUserID] // the creator owns a new session
		}
	case model.ParticipantLeft:
		s.Participants = slices.DeleteFunc(s.Participants, func(p string) bool { return p == e.Data[model.DataUserID] })
	case model.OwnerChanged:
		s.OwnerID = e.Data[model.DataNewOwnerID]
	case model.ExperienceEnded:
		s.Ended = true
	default:
		if !s.Ended {
			s.Experience = x.Reduce(s.Experience, e)
		}
	}
	return s
}
