package soak

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A hand-written history exercising each rule of the model, decided as the
// contract says, so that the checker passes it; then each rule the model
// can be told to skip is skipped, and the checker must report it. This is
// the proof that a broken rule is caught (it needs no emulator).
func handHistory() *History {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var evs []EventDoc
	n := int64(0)
	add := func(ms int, typ, sender string, data map[string]string, origin, status, reason string) {
		id := fmt.Sprintf("e%03d", 100-len(evs)) // ids against commit order
		e := EventDoc{DocID: id, ID: id, Type: typ, SenderID: sender, Data: data, ClientSeq: int64(len(evs)),
			CreatedAt: at(ms), CreateTime: at(ms), Origin: origin, Status: status, RejectReason: reason}
		for k, v := range data {
			e.Bytes += len(k) + len(v)
		}
		if status == "accepted" {
			n++
			e.SequenceNumber, e.HasNumber = n, true
		}
		evs = append(evs, e)
	}
	sys := func(ms int, typ string, data map[string]string) {
		add(ms, typ, "system", data, "server", "accepted", "")
	}
	page := map[string]string{"pageIndex": "1"}
	sys(0, "participant_joined", map[string]string{"userId": "a", "created": "true"})
	add(10, "story_selected", "a", map[string]string{"storyId": "s1"}, "", "accepted", "")
	add(20, "page_changed", "b", page, "", "rejected", "sender_not_participant") // membership
	sys(30, "participant_joined", map[string]string{"userId": "b"})
	// a burst of 10 at one instant: the sender's bucket holds 2 x 4 = 8
	for range 8 {
		add(40, "page_changed", "b", page, "", "accepted", "")
	}
	add(40, "page_changed", "b", page, "", "rejected", "rate_limited") // rate
	add(50, "dance", "a", map[string]string{}, "", "rejected", "unknown_type")
	sys(60, "experience_ended", map[string]string{"userId": "a", "reason": "ended_by_owner"})
	add(70, "page_changed", "a", page, "", "rejected", "session_not_active") // end
	end := at(60)
	var pub []Message
	for _, e := range evs {
		if e.Status == "accepted" {
			pub = append(pub, Message{SessionID: "s", SequenceNumber: e.SequenceNumber, EventID: e.DocID, Type: e.Type, Data: e.Data,
				Attributes: map[string]string{"sessionId": "s", "type": e.Type, "sequenceNumber": fmt.Sprint(e.SequenceNumber)}})
		}
	}
	return &History{
		Published: pub,
		Config:    soakConfig,
		Calls:     map[string]CallDoc{"c": {Exists: true, Members: []string{"a", "b"}}},
		Sessions: []SessionHistory{{ID: "s", Events: evs, Session: SessionDoc{
			CallID: "c", ExperienceID: "co_reading", OwnerID: "a", Status: "inactive", Participants: []string{"a", "b"},
			LastEventID: evs[len(evs)-2].DocID, LastEventSequenceNumber: n, EndedAt: &end, EndReason: "ended_by_owner"}}},
	}
}

func TestModelAgreesWithTheContract(t *testing.T) {
	require.Empty(t, Check(handHistory(), ""))
}

func TestBrokenRuleIsCaught(t *testing.T) {
	for _, rule := range Breaks {
		t.Run(rule, func(t *testing.T) {
			vs := Check(handHistory(), rule)
			require.NotEmpty(t, vs, "skipping %s in the model went unnoticed", rule)
			require.Equal(t, "model_outcome", vs[0].Invariant)
		})
	}
}

func TestGenerateIsPure(t *testing.T) {
	a, b := Generate(42, Size{Rounds: 30, Crashes: true}), Generate(42, Size{Rounds: 30, Crashes: true})
	require.Equal(t, a.String(), b.String())
	require.NotEqual(t, a.String(), Generate(43, Size{Rounds: 30, Crashes: true}).String())
}

// TestEachInvariantCanFail: a change to the hand-written history breaking
// one promise is reported under that promise's name, so no invariant is
// vacuous.
func TestEachInvariantCanFail(t *testing.T) {
	accepted := func(h *History) []int {
		var idx []int
		for i, e := range h.Sessions[0].Events {
			if e.Status == "accepted" {
				idx = append(idx, i)
			}
		}
		return idx
	}
	tests := []struct {
		invariant string
		mutate    func(h *History)
	}{
		{"numbers_contiguous", func(h *History) { h.Sessions[0].Events[accepted(h)[2]].SequenceNumber = 99 }},
		{"numbers_contiguous", func(h *History) { // a read that saw a gap
			h.Observations = []Observation{{Sessions: map[string]ObsSession{"s": {CallID: "c", Status: "active",
				Participants: []string{"a"}, OwnerID: "a", LastEventSequenceNumber: 2,
				Numbers: map[string]int64{h.Sessions[0].Events[0].DocID: 1, "unseen": 3}}}}}
		}},
		{"decision_shape", func(h *History) { h.Sessions[0].Events[2].RejectReason = "" }},
		{"pending_swept", func(h *History) { h.Sessions[0].Events[2].Status, h.Sessions[0].Events[2].RejectReason = "", "" }},
		{"model_outcome", func(h *History) {
			e := &h.Sessions[0].Events[len(h.Sessions[0].Events)-1] // after the end
			e.Status, e.RejectReason = "rejected", "rate_limited"
		}},
		{"model_session", func(h *History) { h.Sessions[0].Session.OwnerID = "b" }},
		{"ended_shape", func(h *History) { h.Sessions[0].Session.EndReason = "" }},
		{"active_shape", func(h *History) {
			s := &h.Sessions[0]
			s.Events = s.Events[:len(s.Events)-2] // no end
			s.Session.Status, s.Session.EndedAt, s.Session.EndReason = "active", nil, ""
			s.Session.OwnerID = "z"
		}},
		{"snapshot_fold", func(h *History) {
			h.Sessions[0].Snapshot = &SnapshotDoc{ExperienceID: "co_reading", SchemaVersion: 1, LastEventSequenceNumber: 2,
				ExperienceState: `{"selectedStoryId":"other","currentPageIndex":0,"isFullScreenMode":true}`, Participants: []string{"a"}, OwnerID: "a"}
		}},
		{"join_continuation", func(h *History) {
			h.Joins = []JoinAnswer{{User: "b", SessionID: "s", Participants: []string{"a", "b"}, LastEventSequenceNumber: 3,
				Events: []JoinEvent{{ID: h.Sessions[0].Events[0].DocID, Type: "participant_joined", SequenceNumber: 1,
					Data: h.Sessions[0].Events[0].Data}}}}
		}},
		{"one_active_per_call", func(h *History) {
			h.Observations = []Observation{{Sessions: map[string]ObsSession{
				"s": {CallID: "c", Status: "active", Participants: []string{"a"}, OwnerID: "a"},
				"t": {CallID: "c", Status: "active", Participants: []string{"a"}, OwnerID: "a"}}}}
		}},
		{"numbers_stable", func(h *History) {
			h.Observations = []Observation{{Sessions: map[string]ObsSession{"s": {CallID: "c", Status: "active",
				Participants: []string{"a"}, OwnerID: "a", LastEventSequenceNumber: 1,
				Numbers: map[string]int64{h.Sessions[0].Events[1].DocID: 1}}}}}
		}},
		{"sender_order", func(h *History) {
			ev := h.Sessions[0].Events
			a, b := accepted(h)[3], accepted(h)[4]
			h.Writes = map[string][]Write{"b": {{Path: "s/" + ev[b].DocID}, {Path: "s/" + ev[a].DocID}}}
		}},
		{"acked_before_sent", func(h *History) {
			ev := h.Sessions[0].Events
			a, b := accepted(h)[3], accepted(h)[4]
			t0 := time.Now()
			h.Writes = map[string][]Write{"b": {{Path: "s/" + ev[b].DocID, Sent: t0, Acked: t0.Add(time.Millisecond)}},
				"a": {{Path: "s/" + ev[a].DocID, Sent: t0.Add(time.Second), Acked: t0.Add(2 * time.Second)}}}
		}},
		{"created_at_before_commit", func(h *History) { h.Sessions[0].Events[1].CreateTime = h.Sessions[0].Events[0].CreatedAt }},
		{"session_rules", func(h *History) {
			e := &h.Sessions[0].Events[3] // b's participant_joined, now an owner change to a stranger
			e.Type, e.Data = "owner_changed", map[string]string{"previousOwnerId": "a", "newOwnerId": "z"}
		}},
		{"fanout_complete", func(h *History) { h.Published = h.Published[1:] }},
		{"fanout_once", func(h *History) { h.Published = append(h.Published, h.Published[0]) }},
		{"fanout_order", func(h *History) { h.Published[1], h.Published[2] = h.Published[2], h.Published[1] }},
		{"call_source_of_truth", func(h *History) {
			s := &h.Sessions[0]
			s.Events = s.Events[:len(s.Events)-2]
			s.Session.Status, s.Session.EndedAt, s.Session.EndReason = "active", nil, ""
			h.Calls["c"] = CallDoc{Exists: true, Members: []string{"a"}}
		}},
	}
	tested := map[string]bool{}
	for _, tt := range tests {
		tested[tt.invariant] = true
	}
	for _, name := range Invariants {
		require.True(t, tested[name], "no test breaks %s", name)
	}
	for _, tt := range tests {
		t.Run(tt.invariant, func(t *testing.T) {
			h := handHistory()
			tt.mutate(h)
			var names []string
			for _, v := range Check(h, "") {
				names = append(names, v.Invariant)
			}
			require.Contains(t, names, tt.invariant)
		})
	}
}
