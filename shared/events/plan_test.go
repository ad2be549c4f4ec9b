package events

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func testRules() rules {
	reg := experiences.Default()
	return rules{maxEventBytes: 1 << 10, sender: ratelimit.Limit{PerSecond: 1, Burst: 2},
		session: ratelimit.Limit{PerSecond: 100, Burst: 100}, lookup: reg.Lookup}
}

// ev is a valid co_reading client event at t0+ms.
func ev(id, sender string, ms int) model.Event {
	return model.Event{DocID: id, ID: id, Type: "page_changed", SenderID: sender, Data: map[string]string{"pageIndex": "1"},
		ClientSequenceNumber: int64(ms), CreatedAt: t0.Add(time.Duration(ms) * time.Millisecond), Size: 100}
}

func sys(id, typ, uid string, ms int) model.Event {
	e := ev(id, model.SystemSender, ms)
	e.Type, e.Origin, e.Data = typ, model.OriginServer, map[string]string{"userId": uid}
	return e
}

func with(e model.Event, f func(*model.Event)) model.Event { f(&e); return e }

func TestDecideReasons(t *testing.T) {
	st := model.SequencerState{Ordered: true, Members: []string{"u1"}, Senders: map[string]*ratelimit.Bucket{}}
	tests := []struct {
		name string
		e    model.Event
		want RejectReason // "" is accepted
	}{
		{"valid", ev("a", "u1", 0), ""},
		{"malformed first", with(ev("a", "u9", 0), func(e *model.Event) { e.Malformed = model.ErrMalformed; e.ID = "x"; e.Size = 1 << 20 }), ReasonMalformed},
		{"id mismatch before size", with(ev("a", "u1", 0), func(e *model.Event) { e.ID = "x"; e.Size = 1 << 20 }), ReasonIDMismatch},
		{"too large before type", with(ev("a", "u1", 0), func(e *model.Event) { e.Size = 1 << 20; e.Type = "participant_left" }), ReasonTooLarge},
		{"system type from a client", with(ev("a", "u1", 0), func(e *model.Event) { e.Type = "participant_left" }), ReasonSystemReserved},
		{"not a participant", ev("a", "u9", 0), ReasonNotParticipant},
		{"unknown type", with(ev("a", "u1", 0), func(e *model.Event) { e.Type = "dance" }), ReasonUnknownType},
		{"invalid data", with(ev("a", "u1", 0), func(e *model.Event) { e.Data = map[string]string{"pageIndex": "ten"} }), ReasonInvalidData},
		{"server event accepted", sys("a", model.ParticipantJoined, "u2", 0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := cloneState(st)
			out := decide("co_reading", &s, tt.e, testRules())
			if tt.want == "" {
				require.Equal(t, model.EventAccepted, out.Status)
				return
			}
			require.Equal(t, Outcome{Status: model.EventRejected, Reason: tt.want}, out)
		})
	}
}

// TestDecideBatchMembershipInOrder: membership and the end are those at
// each event's place in the order, whatever the session document says now.
func TestDecideBatchMembershipInOrder(t *testing.T) {
	// The session document as it is when the (late) run happens: u2 left,
	// then the session ended.
	now := model.Session{ExperienceID: "co_reading", Status: model.StatusInactive, Participants: nil}
	window := []model.Event{
		sys("s1", model.ParticipantJoined, "u1", 0),
		ev("c1", "u2", 1), // before u2 joined
		sys("s2", model.ParticipantJoined, "u2", 2),
		ev("c2", "u2", 3),
		sys("s3", model.ParticipantLeft, "u2", 4),
		ev("c3", "u2", 5), // after u2 left
		ev("c4", "u1", 6),
		sys("s4", model.ExperienceEnded, "u1", 7),
		ev("c5", "u1", 8), // after the end
	}
	p := decideBatch(now, model.SequencerState{Ordered: true}, batch{window: window}, testRules())
	got := map[string]string{}
	var numbers []int64
	for _, d := range p.decisions {
		got[d.Event.DocID] = d.Outcome.Status + string(d.Outcome.Reason)
		if d.Outcome.Status == model.EventAccepted {
			numbers = append(numbers, d.Outcome.SequenceNumber)
		}
	}
	require.Equal(t, map[string]string{
		"s1": "accepted", "c1": "rejectedsender_not_participant", "s2": "accepted", "c2": "accepted",
		"s3": "accepted", "c3": "rejectedsender_not_participant", "c4": "accepted", "s4": "accepted",
		"c5": "rejectedsession_not_active",
	}, got)
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6}, numbers, "gapless, in order")
	require.Equal(t, "s4", p.accepted[len(p.accepted)-1].DocID, "experience_ended is the last accepted event")
	require.True(t, p.state.Ended)
	require.Equal(t, "c5", p.state.Cursor.EventID)
}

// TestDecideBatchCursorPassesWindow: a window of events decided already
// (by their own triggers) still moves the cursor, so no run repeats it.
func TestDecideBatchCursorPassesWindow(t *testing.T) {
	sess := model.Session{ExperienceID: "co_reading", Status: model.StatusActive, Participants: []string{"u1"}}
	var window []model.Event
	for i, id := range []string{"j1", "j2", "j3"} {
		window = append(window, with(ev(id, "u1", i), func(e *model.Event) { e.Status = model.EventRejected; e.Malformed = model.ErrMalformed }))
	}
	p := decideBatch(sess, model.SequencerState{}, batch{window: window, full: true}, testRules())
	require.Empty(t, p.decisions)
	require.True(t, p.moved)
	require.Equal(t, "j3", p.state.Cursor.EventID)
	require.True(t, p.state.Ordered, "a session not made by Create is taken as its document says")
	require.Equal(t, []string{"u1"}, p.state.Members)

	// A run over the same state with nothing new does not move.
	p2 := decideBatch(sess, p.state, batch{}, testRules())
	require.False(t, p2.moved)
}

// TestDecideBatchRateLimit: the sender's bucket is charged only for what
// it accepts, on createdAt, so a redelivery never changes an outcome.
func TestDecideBatchRateLimit(t *testing.T) {
	sess := model.Session{ExperienceID: "co_reading", Status: model.StatusActive, Participants: []string{"u1"}}
	window := []model.Event{
		with(ev("bad", "u1", 0), func(e *model.Event) { e.Data = map[string]string{"pageIndex": "x"} }),
		ev("a", "u1", 1), ev("b", "u1", 2), ev("c", "u1", 3), // burst of 2
	}
	p := decideBatch(sess, model.SequencerState{}, batch{window: window}, testRules())
	var reasons []string
	for _, d := range p.decisions {
		reasons = append(reasons, string(d.Outcome.Reason))
	}
	require.Equal(t, []string{"invalid_data", "", "", "rate_limited"}, reasons, "junk is not charged")
	again := decideBatch(sess, model.SequencerState{}, batch{window: window}, testRules())
	require.Equal(t, p.decisions, again.decisions, "pure: the same input decides the same")
}

// TestDecideBatchUnorderedFirst: events with no order sort first and never
// move the cursor.
func TestDecideBatchUnorderedFirst(t *testing.T) {
	sess := model.Session{ExperienceID: "co_reading", Status: model.StatusActive, Participants: []string{"u1"}}
	unordered := with(ev("z", "u1", 0), func(e *model.Event) { e.CreatedAt = time.Time{}; e.Malformed = model.ErrMalformed })
	p := decideBatch(sess, model.SequencerState{}, batch{window: []model.Event{ev("a", "u1", 1)}, extra: []model.Event{unordered}}, testRules())
	require.Equal(t, "z", p.decisions[0].Event.DocID)
	require.Equal(t, ReasonMalformed, p.decisions[0].Outcome.Reason)
	require.Equal(t, "a", p.state.Cursor.EventID)
}

func TestCompareValues(t *testing.T) {
	ordered := []any{nil, false, true, int64(-1), 0.5, int64(2), t0, "a", "b", map[string]any{}}
	for i := range ordered {
		for j := range ordered {
			got := compareValues(ordered[i], ordered[j])
			switch {
			case i < j && i < len(ordered)-1:
				require.Negative(t, got, "%v < %v", ordered[i], ordered[j])
			case i == j:
				require.Zero(t, got)
			}
		}
	}
}

// TestHeld: a run passes the events stamped before its horizon and holds
// from the first one after it, whatever follows; an admin's time far in the
// future is not held.
func TestHeld(t *testing.T) {
	start := t0.Add(100 * time.Millisecond)
	const settle = 50 * time.Millisecond
	at := func(ms ...int) []model.Event {
		var evs []model.Event
		for i, m := range ms {
			evs = append(evs, ev(string(rune('a'+i)), "u1", m))
		}
		return evs
	}
	tests := []struct {
		name string
		ms   []int
		want int
	}{
		{"empty", nil, 0},
		{"all settled", []int{0, 10, 49}, 0},
		{"at the horizon", []int{10, 50, 60}, 2},
		{"all young", []int{60, 70}, 2},
		{"stamped while the run began", []int{40, 120}, 1},
		{"the last a request could stamp", []int{40, 150}, 1},
		{"an admin's time far ahead", []int{10, 200, 300}, 0},
		{"after a young one, held with it", []int{10, 60, 300}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, held(at(tt.ms...), start.Add(-settle), start.Add(settle)))
		})
	}
}

// TestWindowHold: a held window passes its settled prefix, is not full (the
// trigger waits for the held events, it does not loop), an event that
// sorts after what was held waits instead of being decided out of order,
// and a trigger waits once, for its own event.
func TestWindowHold(t *testing.T) {
	start := t0.Add(100 * time.Millisecond)
	const settle = 50 * time.Millisecond
	w := window{events: []model.Event{ev("a", "u1", 10), ev("b", "u1", 60), ev("c", "u1", 70), ev("far", "u1", 900)}, full: true}
	w.hold(start, settle)
	require.Equal(t, 3, w.held)
	first := t0.Add(60*time.Millisecond + settle + time.Millisecond)
	b := w.batch(ev("b", "u1", 60))
	require.Equal(t, []model.Event{ev("a", "u1", 10)}, b.window)
	require.False(t, b.full)
	require.Empty(t, b.extra, "a held event is not decided apart")
	require.Empty(t, w.batch(ev("z", "u1", 990)).extra, "an event past the held ones waits with them")
	require.Len(t, w.batch(ev("late", "u1", 5)).extra, 1, "an event before the window is decided out of order, as before")

	holds, past := w.holds(start, settle)
	lastReq := t0.Add(70*time.Millisecond + settle + time.Millisecond)
	require.Equal(t, map[string]time.Time{"b": first, "c": lastReq, "far": lastReq}, holds,
		"each its own stamp, not the first held; an admin's time far ahead, the last a request stamped")
	require.Equal(t, lastReq, past, "past the window")

	w = window{events: w.events}
	w.hold(start, 0)
	require.Zero(t, w.held, "no Settle, nothing held")
	none, _ := w.holds(start, 0)
	require.Empty(t, none)
	require.Equal(t, w.events, w.ready().window)
	require.Equal(t, window{}.ready(), batch{window: nil}, "the zero window holds nothing")
}

// TestDecideBatchCountsLate: an event decided behind the cursor (out of
// order) is counted; one after it, or without an order, is not.
func TestDecideBatchCountsLate(t *testing.T) {
	sess := model.Session{ExperienceID: "co_reading", Status: model.StatusActive, Participants: []string{"u1"}}
	st := model.SequencerState{Ordered: true, Members: []string{"u1"}, Cursor: cursorAt(ev("c", "u1", 50))}
	unordered := with(ev("n", "u1", 0), func(e *model.Event) { e.CreatedAt = time.Time{} })
	p := decideBatch(sess, st, batch{window: []model.Event{ev("w", "u1", 60)}, extra: []model.Event{ev("late", "u1", 40), unordered}}, testRules())
	require.Len(t, p.decisions, 3)
	require.EqualValues(t, 1, p.late)
	require.Equal(t, "w", p.state.Cursor.EventID, "the late event does not move the cursor back")
}
