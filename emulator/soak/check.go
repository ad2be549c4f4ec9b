package soak

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// Violation is one broken invariant.
type Violation struct {
	Invariant string `json:"invariant"`
	Session   string `json:"session,omitempty"`
	Detail    string `json:"detail"`
}

func (v Violation) String() string {
	if v.Session == "" {
		return v.Invariant + ": " + v.Detail
	}
	return fmt.Sprintf("%s [session %s]: %s", v.Invariant, v.Session, v.Detail)
}

// Invariants names every invariant Check can report.
var Invariants = []string{
	"numbers_contiguous", "numbers_stable", "sender_order", "decision_shape", "pending_swept",
	"created_at_before_commit", "acked_before_sent", "model_outcome", "model_session", "session_rules", "snapshot_fold",
	"join_continuation", "active_shape", "ended_shape", "one_active_per_call", "call_source_of_truth",
	"fanout_complete", "fanout_once", "fanout_order",
}

// sweepSlack allows for the clocks of the test and of the emulator (the
// same machine) and for createdAt's millisecond precision.
const sweepSlack = 250 * time.Millisecond

type checker struct {
	h     *History
	model Model
	out   []Violation
}

func (c *checker) fail(inv, session, format string, args ...any) {
	c.out = append(c.out, Violation{Invariant: inv, Session: session, Detail: fmt.Sprintf(format, args...)})
}

// Check returns every invariant h breaks; breakRule is passed to the
// model (empty for a real check).
func Check(h *History, breakRule string) []Violation {
	c := &checker{h: h, model: Model{Config: h.Config, Break: breakRule}}
	accepted := map[string]map[int64]EventDoc{} // session -> number -> event
	for _, s := range h.Sessions {
		accepted[s.ID] = c.session(s)
	}
	c.observations()
	c.senderOrder()
	c.ackedBeforeSent()
	c.joins(accepted)
	c.calls()
	c.fanout(accepted)
	// One line per invariant and session is enough to act on.
	seen := map[string]bool{}
	var out []Violation
	for _, v := range c.out {
		k := v.Invariant + "/" + v.Session
		if !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

// session checks one session's final documents and returns its accepted
// events by number.
func (c *checker) session(s SessionHistory) map[int64]EventDoc {
	byNumber := map[int64]EventDoc{}
	for _, e := range s.Events {
		switch e.Status {
		case "accepted":
			if !e.HasNumber || e.SequenceNumber < 1 || e.RejectReason != "" {
				c.fail("decision_shape", s.ID, "accepted event %s has number %v (%d), reason %q", e.DocID, e.HasNumber, e.SequenceNumber, e.RejectReason)
			}
			if prev, dup := byNumber[e.SequenceNumber]; dup {
				c.fail("numbers_contiguous", s.ID, "number %d given to %s and %s", e.SequenceNumber, prev.DocID, e.DocID)
			}
			byNumber[e.SequenceNumber] = e
		case "rejected":
			if e.HasNumber || e.RejectReason == "" {
				c.fail("decision_shape", s.ID, "rejected event %s has a number (%v) or no reason (%q)", e.DocID, e.HasNumber, e.RejectReason)
			}
		case "":
			c.fail("pending_swept", s.ID, "event %s (%s, createdAt %s) still undecided after the run settled and the sweep ran",
				e.DocID, e.Type, e.CreatedAt.Format("15:04:05.000000"))
		default:
			c.fail("decision_shape", s.ID, "event %s has status %q", e.DocID, e.Status)
		}
		// createdAt is the request time (millisecond precision), never
		// after the commit.
		if !e.CreateTime.IsZero() && !e.CreatedAt.IsZero() && e.CreatedAt.After(e.CreateTime) {
			c.fail("created_at_before_commit", s.ID, "event %s createdAt %s, committed %s", e.DocID, e.CreatedAt, e.CreateTime)
		}
	}
	n := int64(len(byNumber))
	if err := model.CheckNumbers(sortedNumbers(byNumber), s.Session.LastEventSequenceNumber); err != nil {
		c.fail("numbers_contiguous", s.ID, "accepted numbers %v: %v", sortedNumbers(byNumber), err)
	} else if n > 0 && s.Session.LastEventID != byNumber[n].DocID {
		c.fail("numbers_contiguous", s.ID, "session lastEventId %s, event %d is %s", s.Session.LastEventID, n, byNumber[n].DocID)
	}

	// The model, over the same committed history.
	want, st := c.model.Replay(s.Session.ExperienceID, s.Events)
	ordered, _ := c.model.commitOrder(s.Events)
	for i, e := range ordered {
		w := want[e.DocID]
		got := Outcome{Status: e.Status, Number: e.SequenceNumber, Reason: e.RejectReason}
		if e.Status == "" {
			continue // reported as pending_swept
		}
		if got != w {
			c.fail("model_outcome", s.ID, "event %s (%s by %s, %s, place %d in commit order): got %+v, the contract says %+v\n%s",
				e.DocID, e.Type, e.SenderID, e.Origin, i, got, w, orderExcerpt(ordered, i, want))
		}
	}
	for _, w := range st.Wrong {
		c.fail("session_rules", s.ID, "%s", w)
	}
	doc := s.Session
	ended := doc.Status != "active"
	if ended != st.Ended || !slices.Equal(doc.Participants, st.Members) || doc.OwnerID != st.Owner {
		c.fail("model_session", s.ID, "session doc: status %s, participants %v, owner %s; its system events fold to ended %v, participants %v, owner %s",
			doc.Status, doc.Participants, doc.OwnerID, st.Ended, st.Members, st.Owner)
	}
	if !ended {
		if len(doc.Participants) == 0 || !slices.Contains(doc.Participants, doc.OwnerID) {
			c.fail("active_shape", s.ID, "active with participants %v and owner %q", doc.Participants, doc.OwnerID)
		}
	} else {
		last, ok := byNumber[n]
		switch {
		case doc.EndedAt == nil || doc.EndReason == "":
			c.fail("ended_shape", s.ID, "ended without endedAt (%v) or endReason (%q)", doc.EndedAt, doc.EndReason)
		case !ok || last.Type != model.ExperienceEnded:
			c.fail("ended_shape", s.ID, "ended, but the last accepted event (%d) is %s", n, last.Type)
		}
	}
	c.snapshot(s, byNumber)
	return byNumber
}

func orderExcerpt(ordered []EventDoc, i int, want map[string]Outcome) string {
	var b strings.Builder
	for j := max(0, i-6); j < min(len(ordered), i+3); j++ {
		e := ordered[j]
		mark := "  "
		if j == i {
			mark = "->"
		}
		fmt.Fprintf(&b, "    %s %s %s %-22s by %-28s %v got %s/%d/%s want %+v\n", mark, e.CreatedAt.Format("15:04:05.000000"), e.DocID, e.Type,
			e.SenderID, e.Data, e.Status, e.SequenceNumber, e.RejectReason, want[e.DocID])
	}
	return b.String()
}

func sortedNumbers(m map[int64]EventDoc) []int64 {
	ns := slices.Collect(maps.Keys(m))
	slices.Sort(ns)
	return ns
}

// fold folds the accepted events from..to (inclusive) onto s.
func fold(x experiences.Experience, s experiences.State, byNumber map[int64]EventDoc, from, to int64) (experiences.State, bool) {
	var evs []experiences.Event
	for i := from; i <= to; i++ {
		e, ok := byNumber[i]
		if !ok {
			return s, false
		}
		evs = append(evs, experiences.Event{Type: e.Type, SenderID: e.SenderID, Data: e.Data})
	}
	return experiences.Fold(x, s, evs...), true
}

func sameState(x experiences.Experience, a, b experiences.State) (bool, string) {
	ea, err1 := x.EncodeState(a.Experience)
	eb, err2 := x.EncodeState(b.Experience)
	if err1 != nil || err2 != nil {
		return false, fmt.Sprintf("encode: %v %v", err1, err2)
	}
	pa, pb := slices.Clone(a.Participants), slices.Clone(b.Participants)
	sort.Strings(pa)
	sort.Strings(pb)
	if !bytes.Equal(ea, eb) || !slices.Equal(pa, pb) || a.OwnerID != b.OwnerID {
		return false, fmt.Sprintf("state %s participants %v owner %s != state %s participants %v owner %s",
			ea, a.Participants, a.OwnerID, eb, b.Participants, b.OwnerID)
	}
	return true, ""
}

// fromSnapshot is the state a snapshot document holds.
func fromSnapshot(x experiences.Experience, snap *SnapshotDoc) (experiences.State, error) {
	st, err := x.DecodeState(snap.SchemaVersion, json.RawMessage(snap.ExperienceState))
	if err != nil {
		return experiences.State{}, err
	}
	return experiences.State{Participants: snap.Participants, OwnerID: snap.OwnerID, Experience: st}, nil
}

// snapshot: the snapshot plus the accepted events after it fold to the
// fold of every accepted event.
func (c *checker) snapshot(s SessionHistory, byNumber map[int64]EventDoc) {
	x, ok := experiences.Default().Lookup(s.Session.ExperienceID)
	if !ok {
		return
	}
	n := int64(len(byNumber))
	whole, ok := fold(x, experiences.NewState(x), byNumber, 1, n)
	if !ok {
		return // numbers_contiguous says why
	}
	start := experiences.NewState(x)
	from := int64(1)
	if s.Snapshot != nil {
		var err error
		if start, err = fromSnapshot(x, s.Snapshot); err != nil {
			c.fail("snapshot_fold", s.ID, "snapshot unreadable: %v", err)
			return
		}
		from = s.Snapshot.LastEventSequenceNumber + 1
		if s.Snapshot.LastEventSequenceNumber > n {
			c.fail("snapshot_fold", s.ID, "snapshot at %d, only %d events accepted", s.Snapshot.LastEventSequenceNumber, n)
			return
		}
		if at, _ := fold(x, experiences.NewState(x), byNumber, 1, from-1); true {
			if same, why := sameState(x, start, at); !same {
				c.fail("snapshot_fold", s.ID, "snapshot at %d is not the fold of events 1..%d: %s", from-1, from-1, why)
				return
			}
		}
	}
	rest, _ := fold(x, start, byNumber, from, n)
	if same, why := sameState(x, rest, whole); !same {
		c.fail("snapshot_fold", s.ID, "snapshot + events after it != every accepted event: %s", why)
	}
}

// observations: at every consistent read during the run, numbers were
// 1..N with N the session's last, a number once set never changed, and a
// call had at most one active session.
func (c *checker) observations() {
	final := map[string]map[string]EventDoc{}
	for _, s := range c.h.Sessions {
		m := map[string]EventDoc{}
		for _, e := range s.Events {
			m[e.DocID] = e
		}
		final[s.ID] = m
	}
	for i, o := range c.h.Observations {
		active := map[string][]string{}
		for sid, s := range o.Sessions {
			if s.Status == "active" {
				active[s.CallID] = append(active[s.CallID], sid)
			}
			seen := map[int64]string{}
			for id, n := range s.Numbers {
				if other, dup := seen[n]; dup {
					c.fail("numbers_contiguous", sid, "observation %d: number %d on %s and %s", i, n, other, id)
				}
				seen[n] = id
				if f, ok := final[sid][id]; ok && (f.Status != "accepted" || f.SequenceNumber != n) {
					c.fail("numbers_stable", sid, "observation %d saw %s accepted as %d; at the end it is %s %d", i, id, n, f.Status, f.SequenceNumber)
				}
			}
			for id, reason := range s.Rejected {
				if f, ok := final[sid][id]; ok && (f.Status != "rejected" || f.RejectReason != reason) {
					c.fail("numbers_stable", sid, "observation %d saw %s rejected (%s); at the end it is %s %d %s", i, id, reason, f.Status, f.SequenceNumber, f.RejectReason)
				}
			}
			if s.Status == "active" && (len(s.Participants) == 0 || !slices.Contains(s.Participants, s.OwnerID)) {
				c.fail("active_shape", sid, "observation %d: active with participants %v and owner %q", i, s.Participants, s.OwnerID)
			}
			// A sweep that started after an event was PENDING_SWEEP_AGE
			// old and finished before this read decided it.
			for id, created := range s.Pending {
				for _, sw := range c.h.Sweeps {
					if sw.End.Before(o.At) && created.Add(c.h.SweepAge+sweepSlack).Before(sw.Start) {
						c.fail("pending_swept", sid, "observation %d: event %s (createdAt %s) still pending after a sweep ran %s-%s",
							i, id, created.Format("15:04:05.000"), sw.Start.Format("15:04:05.000"), sw.End.Format("15:04:05.000"))
						break
					}
				}
			}
			if err := model.CheckNumbers(slices.Collect(maps.Keys(seen)), s.LastEventSequenceNumber); err != nil {
				c.fail("numbers_contiguous", sid, "observation %d: %v", i, err)
			}
		}
		for call, ids := range active {
			if len(ids) > 1 {
				c.fail("one_active_per_call", "", "observation %d: call %s has active sessions %v", i, call, ids)
			}
		}
	}
	active := map[string][]string{}
	for _, s := range c.h.Sessions {
		if s.Session.Status == "active" {
			active[s.Session.CallID] = append(active[s.Session.CallID], s.ID)
		}
	}
	for call, ids := range active {
		if len(ids) > 1 {
			c.fail("one_active_per_call", "", "at the end call %s has active sessions %v", call, ids)
		}
	}
}

// senderOrder: each sender's accepted events are numbered in the order
// that sender's writes were acknowledged.
func (c *checker) senderOrder() {
	events := map[string]EventDoc{}
	for _, s := range c.h.Sessions {
		for _, e := range s.Events {
			events[s.ID+"/"+e.DocID] = e
		}
	}
	for uid, writes := range c.h.Writes {
		last := map[string]int64{}
		lastID := map[string]string{}
		for _, w := range writes {
			sid, _, _ := strings.Cut(w.Path, "/")
			e, ok := events[w.Path]
			if !ok || e.Status != "accepted" {
				continue
			}
			if e.SequenceNumber <= last[sid] {
				c.fail("sender_order", sid, "%s wrote %s (accepted %d) after %s (accepted %d)", uid, e.DocID, e.SequenceNumber, lastID[sid], last[sid])
			}
			last[sid], lastID[sid] = e.SequenceNumber, e.DocID
		}
	}
}

// ackedBeforeSent: a write acknowledged before another was sent gets the
// lower number (SPEC), whoever the senders.
func (c *checker) ackedBeforeSent() {
	type w struct {
		Write
		e EventDoc
	}
	events := map[string]EventDoc{}
	for _, s := range c.h.Sessions {
		for _, e := range s.Events {
			events[s.ID+"/"+e.DocID] = e
		}
	}
	bySession := map[string][]w{}
	for _, writes := range c.h.Writes {
		for _, x := range writes {
			if e, ok := events[x.Path]; ok && e.Status == "accepted" {
				sid, _, _ := strings.Cut(x.Path, "/")
				bySession[sid] = append(bySession[sid], w{x, e})
			}
		}
	}
	for sid, ws := range bySession {
		for _, a := range ws {
			for _, b := range ws {
				if a.Acked.Before(b.Sent) && a.e.SequenceNumber > b.e.SequenceNumber {
					c.fail("acked_before_sent", sid, "%s (by %s, createdAt %s) was acknowledged %s before %s (by %s, createdAt %s) was sent, yet numbered %d > %d",
						a.e.DocID, a.e.SenderID, a.e.CreatedAt.Format("15:04:05.000"), b.Sent.Sub(a.Acked), b.e.DocID, b.e.SenderID,
						b.e.CreatedAt.Format("15:04:05.000"), a.e.SequenceNumber, b.e.SequenceNumber)
				}
			}
		}
	}
}

// joins: every joinSession answer was a contiguous continuation from its
// snapshot to its lastEventSequenceNumber, made of the accepted events,
// and reached the fold of every event up to there.
func (c *checker) joins(accepted map[string]map[int64]EventDoc) {
	exp := map[string]string{}
	for _, s := range c.h.Sessions {
		exp[s.ID] = s.Session.ExperienceID
	}
	for i, j := range c.h.Joins {
		byNumber := accepted[j.SessionID]
		if !slices.Contains(j.Participants, j.User) {
			c.fail("join_continuation", j.SessionID, "join %d: the joiner %s is not among the answer's participants %v", i, j.User, j.Participants)
		}
		x, ok := experiences.Default().Lookup(exp[j.SessionID])
		if !ok {
			continue
		}
		start, from := experiences.NewState(x), int64(1)
		if j.Snapshot != nil {
			var err error
			if start, err = fromSnapshot(x, j.Snapshot); err != nil {
				c.fail("join_continuation", j.SessionID, "join %d: snapshot unreadable: %v", i, err)
				continue
			}
			from = j.Snapshot.LastEventSequenceNumber + 1
		}
		var evs []experiences.Event
		ok = true
		for k, e := range j.Events {
			want := from + int64(k)
			f, has := byNumber[want]
			if e.SequenceNumber != want || !has || f.DocID != e.ID || f.Type != e.Type || !maps.Equal(f.Data, e.Data) {
				c.fail("join_continuation", j.SessionID, "join %d by %s: event %d of the answer is %s #%d (%s), want #%d = %s (%s)",
					i, j.User, k, e.ID, e.SequenceNumber, e.Type, want, f.DocID, f.Type)
				ok = false
				break
			}
			evs = append(evs, experiences.Event{Type: e.Type, SenderID: e.SenderID, Data: e.Data})
		}
		if !ok {
			continue
		}
		if end := from + int64(len(j.Events)) - 1; end != j.LastEventSequenceNumber {
			c.fail("join_continuation", j.SessionID, "join %d by %s: answer ends at %d, lastEventSequenceNumber %d", i, j.User, end, j.LastEventSequenceNumber)
			continue
		}
		got := experiences.Fold(x, start, evs...)
		want, complete := fold(x, experiences.NewState(x), byNumber, 1, j.LastEventSequenceNumber)
		if !complete {
			c.fail("join_continuation", j.SessionID, "join %d: answer at %d, beyond the accepted events", i, j.LastEventSequenceNumber)
			continue
		}
		if same, why := sameState(x, got, want); !same {
			c.fail("join_continuation", j.SessionID, "join %d by %s at %d: snapshot + events != fold of 1..%d: %s", i, j.User, j.LastEventSequenceNumber, j.LastEventSequenceNumber, why)
		}
	}
}

// calls: the call is the source of truth for who is in its sessions, once
// every onCallWritten delivery was made.
func (c *checker) calls() {
	if c.h.CallTriggersLost {
		return
	}
	for _, s := range c.h.Sessions {
		if s.Session.Status != "active" {
			continue
		}
		call, ok := c.h.Calls[s.Session.CallID]
		switch {
		case !ok || !call.Exists:
			c.fail("call_source_of_truth", s.ID, "active, but its call %s was deleted", s.Session.CallID)
		case call.Status == "ended":
			c.fail("call_source_of_truth", s.ID, "active, but its call %s ended", s.Session.CallID)
		default:
			for _, p := range s.Session.Participants {
				if !slices.Contains(call.Members, p) {
					c.fail("call_source_of_truth", s.ID, "participant %s is not a member of call %s %v", p, s.Session.CallID, call.Members)
				}
			}
		}
	}
}

// fanout: every accepted event published on experience-events, once per
// (sessionId, sequenceNumber) (copies allowed only when the host crashed,
// and then identical), nothing else, first copies in order per session.
func (c *checker) fanout(accepted map[string]map[int64]EventDoc) {
	type key struct {
		sid string
		n   int64
	}
	first := map[key]Message{}
	lastFirst := map[string]int64{}
	for _, m := range c.h.Published {
		byNumber, ours := accepted[m.SessionID]
		if !ours {
			continue // another run's session
		}
		k := key{m.SessionID, m.SequenceNumber}
		if prev, dup := first[k]; dup {
			if c.h.Crashes == 0 {
				c.fail("fanout_once", m.SessionID, "event %d published twice without a crash", m.SequenceNumber)
			} else if prev.EventID != m.EventID || prev.Type != m.Type || !maps.Equal(prev.Data, m.Data) {
				c.fail("fanout_once", m.SessionID, "event %d published twice, differently: %+v, %+v", m.SequenceNumber, prev, m)
			}
			continue
		}
		first[k] = m
		e, ok := byNumber[m.SequenceNumber]
		if !ok || e.DocID != m.EventID || e.Type != m.Type || !maps.Equal(e.Data, m.Data) ||
			m.Attributes["sessionId"] != m.SessionID || m.Attributes["type"] != m.Type ||
			m.Attributes["sequenceNumber"] != fmt.Sprint(m.SequenceNumber) {
			c.fail("fanout_once", m.SessionID, "message %d (%s %s) is not accepted event %d (%s %s)", m.SequenceNumber, m.EventID, m.Type, m.SequenceNumber, e.DocID, e.Type)
		}
		if m.SequenceNumber <= lastFirst[m.SessionID] {
			c.fail("fanout_order", m.SessionID, "event %d first received after event %d", m.SequenceNumber, lastFirst[m.SessionID])
		}
		lastFirst[m.SessionID] = max(lastFirst[m.SessionID], m.SequenceNumber)
	}
	for sid, byNumber := range accepted {
		var missing []int64
		for n := range byNumber {
			if _, ok := first[key{sid, n}]; !ok {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			c.fail("fanout_complete", sid, "accepted events %v never published", missing)
		}
	}
}
