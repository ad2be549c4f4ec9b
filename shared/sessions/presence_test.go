package sessions

import (
	"testing"
	"time"

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
			got := Absentees(Session{OwnerID: tt.owner, Participants: tt.people}, tt.lastSeen, cutoff)
			require.Equal(t, tt.want, got)
		})
	}
}
