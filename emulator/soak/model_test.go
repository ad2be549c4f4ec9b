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
