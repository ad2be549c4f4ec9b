package inspector

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

func accepted(seq int64, typ string, data map[string]string) Event {
	return Event{DocID: typ + string(rune('a'+seq)), Type: typ, Data: data, Status: "accepted", SequenceNumber: seq}
}

func TestStateAt(t *testing.T) {
	x := experiences.CoReading
	joined := accepted(1, model.ParticipantJoined, map[string]string{"userId": "ann", "created": "true"})
	story := accepted(2, "story_selected", map[string]string{"storyId": "moon"})
	page3 := accepted(3, "page_changed", map[string]string{"pageIndex": "3"})
	page7 := accepted(4, "page_changed", map[string]string{"pageIndex": "7"})
	all := []Event{joined, story, page3, page7}
	snapAt3 := &Snapshot{ExperienceState: `{"selectedStoryId":"moon","currentPageIndex":3,"isFullScreenMode":true}`,
		Participants: []string{"ann"}, OwnerID: "ann", LastEventSequenceNumber: 3, SchemaVersion: x.SchemaVersion()}
	tests := []struct {
		name      string
		snap      *Snapshot
		events    []Event
		at        int64
		wantPage  int
		wantStory string
		wantFrom  string
		wantErr   error
	}{
		{"nothing yet", nil, nil, 0, 0, "", "initial", nil},
		{"every event from the start", nil, all, 4, 7, "moon", "initial", nil},
		{"an earlier number", nil, all, 2, 0, "moon", "initial", nil},
		{"from the snapshot", snapAt3, all, 4, 7, "moon", "snapshot", nil},
		{"the snapshot's own number", snapAt3, all, 3, 3, "moon", "snapshot", nil},
		{"before the snapshot, events kept", snapAt3, all, 2, 0, "moon", "initial", nil},
		{"before the snapshot, events pruned", snapAt3, []Event{page7}, 2, 0, "", "", ErrPruned},
		{"a gap in the events", nil, []Event{joined, page3}, 3, 0, "", "", ErrPruned},
		{"past the last event", nil, all, 5, 0, "", "", ErrPruned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := StateAt(x, tt.snap, tt.events, tt.at)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var st struct {
				SelectedStoryID  string `json:"selectedStoryId"`
				CurrentPageIndex int    `json:"currentPageIndex"`
			}
			require.NoError(t, json.Unmarshal(v.State, &st))
			require.Equal(t, tt.wantPage, st.CurrentPageIndex)
			require.Equal(t, tt.wantStory, st.SelectedStoryID)
			require.Equal(t, tt.wantFrom, v.From)
			require.Equal(t, tt.at, v.At)
			if tt.at >= 1 {
				require.Equal(t, []string{"ann"}, v.Participants)
				require.Equal(t, "ann", v.OwnerID)
			}
		})
	}
}

func TestNewStream(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := []Event{
		{DocID: "p2", CreatedAt: t0.Add(2 * time.Second)},
		{DocID: "a2", Status: "accepted", SequenceNumber: 2, CreatedAt: t0, SequencedAt: t0.Add(1500 * time.Millisecond)},
		{DocID: "r1", Status: "rejected", RejectReason: "invalid_data", CreatedAt: t0.Add(time.Second)},
		{DocID: "p1", CreatedAt: t0.Add(time.Second), ClientSequenceNumber: 1},
		{DocID: "a1", Status: "accepted", SequenceNumber: 1, CreatedAt: t0},
	}
	s := NewStream(events)
	ids := func(es []Event) (out []string) {
		for _, e := range es {
			out = append(out, e.DocID)
		}
		return out
	}
	require.Equal(t, []string{"a1", "a2"}, ids(s.Accepted))
	require.Equal(t, []string{"p1", "p2"}, ids(s.Pending))
	require.Equal(t, []string{"r1"}, ids(s.Rejected))
	require.Nil(t, s.Accepted[0].DelayMs, "no sequencedAt, no delay")
	require.Equal(t, int64(1500), *s.Accepted[1].DelayMs)
}

func TestPresence(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := 30 * time.Second
	tests := []struct {
		name         string
		participants []string
		owner        string
		lastSeen     map[string]time.Time
		want         []string
	}{
		{"oldest heartbeat first", []string{"a", "b", "c"}, "a",
			map[string]time.Time{"a": t0.Add(3 * time.Second), "b": t0.Add(5 * time.Second), "c": t0.Add(time.Second)}, []string{"c", "a", "b"}},
		{"no heartbeat is first", []string{"a", "b"}, "a", map[string]time.Time{"a": t0}, []string{"b", "a"}},
		{"the owner after the others due at once", []string{"a", "b"}, "a", map[string]time.Time{"a": t0, "b": t0}, []string{"b", "a"}},
		{"nobody", nil, "", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Presence(tt.participants, tt.owner, tt.lastSeen, grace)
			uids := []string{}
			for _, p := range got {
				uids = append(uids, p.UID)
				require.Equal(t, p.UID == tt.owner, p.Owner)
				if seen, ok := tt.lastSeen[p.UID]; ok {
					require.Equal(t, seen.Add(grace), p.DueAt)
				} else {
					require.Nil(t, p.LastSeenAt)
				}
			}
			require.Equal(t, tt.want, uids)
		})
	}
}
