package sessions

import (
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/stretchr/testify/require"
)

func TestAbsentees(t *testing.T) {
	cutoff := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	fresh, stale := cutoff.Add(time.Second), cutoff.Add(-time.Second)
	tests := []struct {
		name     string
		owner    string
		people   []string
		lastSeen map[string]time.Time
		want     []string
	}{
		{"everyone present", "a", []string{"a", "b"}, map[string]time.Time{"a": fresh, "b": fresh}, nil},
		{"a silent guest", "a", []string{"a", "b", "c"}, map[string]time.Time{"a": fresh, "b": stale, "c": fresh}, []string{"b"}},
		{"no heartbeat at all counts as never seen", "a", []string{"a", "b"}, map[string]time.Time{"a": fresh}, []string{"b"}},
		{"exactly at the cutoff is present", "a", []string{"a", "b"}, map[string]time.Time{"a": fresh, "b": cutoff}, nil},
		{"owner last, so ownership passes once", "a", []string{"a", "b", "c"}, map[string]time.Time{"a": stale, "b": stale, "c": fresh}, []string{"b", "a"}},
		{"everyone silent: the owner is the last one removed", "b", []string{"a", "b", "c"}, map[string]time.Time{}, []string{"a", "c", "b"}},
		{"an owner who is no participant is not removed", "z", []string{"a"}, map[string]time.Time{"a": fresh}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Absentees(model.Session{OwnerID: tt.owner, Participants: tt.people}, tt.lastSeen, cutoff)
			require.Equal(t, tt.want, got)
		})
	}
}

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func active(owner string, people ...string) *model.Session {
	return &model.Session{ID: "s1", OwnerID: owner, Status: model.StatusActive, Participants: people}
}

// types lists the system events a change emits, as "type:userId".
func types(c *change) []string {
	var out []string
	for _, e := range c.events {
		out = append(out, e.Type+":"+e.Data[model.DataUserID])
	}
	return out
}

func TestChanges(t *testing.T) {
	tests := []struct {
		name       string
		sess       *model.Session
		do         func(*model.Session, *change) error
		wantErr    error
		wantEvents []string
		wantPeople []string
		wantOwner  string
		wantEnd    string // endReason, "" while active
	}{
		{"join", active("a", "a"), func(s *model.Session, c *change) error { return join(s, c, "b", 3) },
			nil, []string{"participant_joined:b"}, []string{"a", "b"}, "a", ""},
		{"join twice changes nothing", active("a", "a", "b"), func(s *model.Session, c *change) error { return join(s, c, "b", 3) },
			nil, nil, []string{"a", "b"}, "a", ""},
		{"join a full session", active("a", "a", "b"), func(s *model.Session, c *change) error { return join(s, c, "c", 2) },
			ErrFull, nil, []string{"a", "b"}, "a", ""},
		{"join an ended session", &model.Session{Status: model.StatusInactive}, func(s *model.Session, c *change) error { return join(s, c, "c", 2) },
			ErrInactive, nil, nil, "", ""},
		{"a guest leaves", active("a", "a", "b"), func(s *model.Session, c *change) error { leave(s, c, "b"); return nil },
			nil, []string{"participant_left:b"}, []string{"a"}, "a", ""},
		{"the owner leaves: the longest present owns it", active("a", "a", "b", "c"), func(s *model.Session, c *change) error { leave(s, c, "a"); return nil },
			nil, []string{"participant_left:a", "owner_changed:b"}, []string{"b", "c"}, "b", ""},
		{"the last one leaves: ended, empty", active("a", "a"), func(s *model.Session, c *change) error { leave(s, c, "a"); return nil },
			nil, []string{"participant_left:a", "experience_ended:a"}, []string{}, "a", model.EndReasonEmpty},
		{"leaving twice changes nothing", active("a", "a"), func(s *model.Session, c *change) error { leave(s, c, "z"); return nil },
			nil, nil, []string{"a"}, "a", ""},
		{"only the owner ends", active("a", "a", "b"), func(s *model.Session, c *change) error { return endByOwner(s, c, "b") },
			ErrNotOwner, nil, []string{"a", "b"}, "a", ""},
		{"the owner ends", active("a", "a", "b"), func(s *model.Session, c *change) error { return endByOwner(s, c, "a") },
			nil, []string{"experience_ended:a"}, []string{"a", "b"}, "a", model.EndReasonByOwner},
		{"transfer", active("a", "a", "b"), func(s *model.Session, c *change) error { return transfer(s, c, "a", "b") },
			nil, []string{"owner_changed:b"}, []string{"a", "b"}, "b", ""},
		{"transfer to a stranger", active("a", "a", "b"), func(s *model.Session, c *change) error { return transfer(s, c, "a", "z") },
			ErrNotParticipant, nil, []string{"a", "b"}, "a", ""},
		{"transfer by a guest", active("a", "a", "b"), func(s *model.Session, c *change) error { return transfer(s, c, "b", "b") },
			ErrNotOwner, nil, []string{"a", "b"}, "a", ""},
		{"absent guest and owner: owner last, one handover", active("a", "a", "b", "c"), func(s *model.Session, c *change) error {
			removeAbsent(s, c, map[string]time.Time{"c": now}, now.Add(-time.Second))
			return nil
		}, nil, []string{"participant_left:b", "participant_left:a", "owner_changed:c"}, []string{"c"}, "c", ""},
		{"everyone absent: ended, no participant present", active("a", "a", "b"), func(s *model.Session, c *change) error {
			removeAbsent(s, c, nil, now)
			return nil
		}, nil, []string{"participant_left:b", "participant_left:a", "experience_ended:system"}, []string{}, "a", model.EndReasonAbsent},
		{"call lists fewer: they leave, owner last", active("a", "a", "b", "c"), func(s *model.Session, c *change) error {
			syncWithCall(s, c, model.Call{Members: []string{"c"}}, true)
			return nil
		}, nil, []string{"participant_left:b", "participant_left:a", "owner_changed:c"}, []string{"c"}, "c", ""},
		{"call deleted: ended", active("a", "a"), func(s *model.Session, c *change) error {
			syncWithCall(s, c, model.Call{}, false)
			return nil
		}, nil, []string{"experience_ended:system"}, []string{"a"}, "a", model.EndReasonCallEnded},
		{"call marked ended: ended", active("a", "a"), func(s *model.Session, c *change) error {
			syncWithCall(s, c, model.Call{Members: []string{"a"}, Status: model.CallStatusEnded}, true)
			return nil
		}, nil, []string{"experience_ended:system"}, []string{"a"}, "a", model.EndReasonCallEnded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &change{now: now, retention: time.Hour}
			before := append([]string(nil), tt.sess.Participants...)
			err := tt.do(tt.sess, c)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Empty(t, c.events)
				require.Empty(t, c.update)
				require.Equal(t, before, tt.sess.Participants)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantEvents, types(c))
			require.Equal(t, tt.wantPeople, tt.sess.Participants)
			require.Equal(t, tt.wantOwner, tt.sess.OwnerID)
			require.Equal(t, tt.wantEnd, tt.sess.EndReason)
			if tt.wantEnd != "" {
				require.Equal(t, model.StatusInactive, tt.sess.Status)
				require.Equal(t, now, *tt.sess.EndedAt, "endedAt is the change's one time")
				require.Equal(t, model.ExperienceEnded, c.events[len(c.events)-1].Type, "experience_ended is the last event")
				require.Contains(t, lastPerPath(c.update), firestore.Update{Path: model.FieldExpireAt, Value: now.Add(time.Hour)})
			}
			paths := map[string]bool{}
			for _, u := range lastPerPath(c.update) {
				require.False(t, paths[u.Path], "a path named twice: %s", u.Path)
				paths[u.Path] = true
			}
		})
	}
}

func TestLastPerPath(t *testing.T) {
	got := lastPerPath([]firestore.Update{{Path: "a", Value: 1}, {Path: "b", Value: 2}, {Path: "a", Value: 3}})
	require.Equal(t, []firestore.Update{{Path: "a", Value: 3}, {Path: "b", Value: 2}}, got)
}
