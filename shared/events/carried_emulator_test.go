package events_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/require"

	. "github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// TestCarriedCopiesSkipTheWindowRead: triggers that carry their events
// (as a Firestore CloudEvent does) let the instance that moved the cursor
// last decide a burst with one count aggregation instead of reading every
// event: two reads for the run, whatever the burst. The same burst through
// Sequence reads each event. A count that finds an event no trigger
// carried (its trigger lost or late) reads the window after all, in order,
// and the next run reads the window until one shows nothing missing; a
// carried event deleted before the commit, and a copy of an event decided
// long ago, are answered from what is stored.
func TestCarriedCopiesSkipTheWindowRead(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1")
	// Each decision's log line says whether it was decided from the
	// trigger's copy: how production, and the soak, see that path taken.
	var logs bytes.Buffer
	seq := NewSequencer(fs, experiences.Default(), &Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	id := func(n int) string { return fmt.Sprintf("e%03d", n) }
	written := 0
	copyOf := func(n int) model.Event { return storedCopy(t, ctx, fs, sessionID, id(n)) }
	type result struct {
		n   int
		out Outcome
		err error
	}
	// burst delivers the triggers of events ns while the lane is held, so
	// that one run finds them all queued; carried: their triggers carry
	// the events, else they go through Sequence. meanwhile, when not nil,
	// runs after the copies were taken and the triggers queued, before
	// the run: a change to what is stored that the copies do not show.
	burst := func(ns []int, carried bool, meanwhile func()) map[int]Outcome {
		copies := map[int]model.Event{}
		for _, n := range ns {
			copies[n] = copyOf(n)
		}
		release := seq.HoldLane(sessionID)
		results := make(chan result, len(ns))
		for _, n := range ns {
			go func() {
				var out Outcome
				var err error
				if carried {
					out, err = seq.SequenceCreated(ctx, sessionID, copies[n])
				} else {
					out, err = seq.Sequence(ctx, sessionID, id(n))
				}
				results <- result{n, out, err}
			}()
		}
		if carried {
			require.Eventually(t, func() bool { return seq.Carried(sessionID) == len(ns) }, 10*time.Second, time.Millisecond)
		}
		if meanwhile != nil {
			meanwhile()
		}
		release()
		outs := map[int]Outcome{}
		for range ns {
			r := <-results
			require.NoError(t, r.err, "event %d", r.n)
			outs[r.n] = r.out
		}
		return outs
	}
	write := func(k int) []int {
		var ns []int
		for range k {
			written++
			require.NoError(t, writeEvent(ctx, fs, sessionID, id(written), "u1", int64(written)))
			ns = append(ns, written)
		}
		return ns
	}
	accepted := func(n int) Outcome { return Outcome{Status: model.EventAccepted, SequenceNumber: int64(n)} }
	for _, st := range []struct {
		name     string
		events   int
		trigger  []int // counted from the first event written in this step; nil: all
		carried  bool
		reads    int64
		runs     int64
		fromCopy int64
		refuted  int64
	}{
		// No view yet: the event and the session, then the window.
		{name: "first event", events: 1, carried: true, reads: 3, runs: 1},
		{name: "burst of 5, carried", events: 5, carried: true, reads: 2, runs: 1, fromCopy: 1},
		{name: "burst of 5, not carried", events: 5, carried: false, reads: 6, runs: 1},
		// The window shows what was carried: the next run may count.
		{name: "one, carried", events: 1, carried: true, reads: 2, runs: 1},
		{name: "burst of 5, carried again", events: 5, carried: true, reads: 2, runs: 1, fromCopy: 1},
		// The second event's trigger is lost: the count finds 3 for 2.
		{name: "a trigger missing", events: 3, trigger: []int{0, 2}, carried: true, reads: 2 + 3, runs: 1, refuted: 1},
		{name: "after a refuted count, the window", events: 1, carried: true, reads: 2, runs: 1},
		{name: "and then the count", events: 2, carried: true, reads: 2, runs: 1, fromCopy: 1},
	} {
		ns := write(st.events)
		trig := ns
		if st.trigger != nil {
			trig = nil
			for _, i := range st.trigger {
				trig = append(trig, ns[i])
			}
		}
		before := seq.Stats.Snapshot()
		logs.Reset()
		outs := burst(trig, st.carried, nil)
		after := seq.Stats.Snapshot()
		lines := strings.Count(logs.String(), `"msg":"event decided"`)
		require.EqualValues(t, after.Decided-before.Decided, lines, "%s: decisions logged", st.name)
		wantCopies := 0
		if st.fromCopy > 0 {
			wantCopies = lines
		}
		require.Equal(t, wantCopies, strings.Count(logs.String(), `"fromCopy":true`), "%s: logged as decided from copies", st.name)
		require.Equal(t, st.runs, after.Transactions-before.Transactions, "%s: runs", st.name)
		require.Equal(t, st.reads, after.Reads-before.Reads, "%s: reads", st.name)
		require.Equal(t, st.fromCopy, after.CarriedRuns-before.CarriedRuns, "%s: runs from copies", st.name)
		require.Equal(t, st.refuted, after.CarriedMisses-before.CarriedMisses, "%s: counts refuted", st.name)
		for _, n := range trig {
			require.Equal(t, accepted(n), outs[n], "%s: event %d", st.name, n)
		}
	}
	// Two carried events, the first deleted before the run, and between
	// them one whose trigger has not come: the count finds as many events
	// as were carried, but not the same ones. The commit fails on the
	// deleted event, and the run is made again on what is stored.
	ns := write(3)
	a, b, c := ns[0], ns[1], ns[2]
	// logged checks that a rerun's decisions are logged as read, not as
	// from copies.
	logged := func(name string, before Counters) {
		t.Helper()
		require.EqualValues(t, seq.Stats.Snapshot().Decided-before.Decided, strings.Count(logs.String(), `"msg":"event decided"`), "%s: decisions logged", name)
		require.Zero(t, strings.Count(logs.String(), `"fromCopy":true`), "%s: logged as decided from copies", name)
	}
	before := seq.Stats.Snapshot()
	logs.Reset()
	outs := burst([]int{a, c}, true, func() {
		_, err := eventsCol(fs, sessionID).Doc(id(a)).Delete(ctx)
		require.NoError(t, err)
	})
	require.Equal(t, Outcome{Status: model.EventRejected, Reason: ReasonMalformed}, outs[a], "the deleted event")
	require.Equal(t, before.CarriedRuns, seq.Stats.Snapshot().CarriedRuns, "the failed run from copies is not counted")
	logged("a carried event deleted", before)
	// The deleted event took no number: b and c follow the last one.
	require.Equal(t, accepted(c-1), outs[c])
	require.EqualValues(t, c-2, decisionOf(t, ctx, fs, sessionID, id(b))["sequenceNumber"], "the event whose trigger had not come")

	// An event decided on its own since its trigger's copy was taken
	// (as an admin's could be), carried with one after it: the count
	// finds both, but the decision's update-time precondition fails, and
	// the run is made again on what is stored, which leaves it alone.
	// First a run from copies again, so that the next one counts.
	for tries := 0; ; tries++ {
		require.Less(t, tries, 3, "no run from copies after the deletion")
		before = seq.Stats.Snapshot()
		n := write(1)[0]
		out, err := seq.SequenceCreated(ctx, sessionID, copyOf(n))
		require.NoError(t, err)
		require.Equal(t, accepted(n-1), out)
		if seq.Stats.Snapshot().CarriedRuns > before.CarriedRuns {
			break
		}
	}
	ns = write(2)
	d, e := ns[0], ns[1]
	before = seq.Stats.Snapshot()
	logs.Reset()
	outs = burst([]int{d, e}, true, func() {
		_, err := eventsCol(fs, sessionID).Doc(id(d)).Update(ctx, []firestore.Update{
			{Path: model.FieldStatus, Value: model.EventRejected}, {Path: model.FieldRejectReason, Value: string(ReasonUnknownSession)}})
		require.NoError(t, err)
	})
	require.Equal(t, Outcome{Status: model.EventRejected, Reason: ReasonUnknownSession}, outs[d], "decided on its own: left alone")
	require.Equal(t, accepted(e-2), outs[e], "numbered after the deleted and the rejected event")
	require.Equal(t, before.CarriedRuns, seq.Stats.Snapshot().CarriedRuns)
	logged("a carried event decided since", before)

	// A redelivery of an event decided long ago, carrying the document as
	// created: its copy sorts before the cursor, so the event is read, and
	// answered as decided.
	old := copyOf(2)
	old.Status, old.SequenceNumber = "", 0
	out, err := seq.SequenceCreated(ctx, sessionID, old)
	require.NoError(t, err)
	require.Equal(t, accepted(2), out)

	for n := 1; n < a; n++ {
		d := decisionOf(t, ctx, fs, sessionID, id(n))
		require.Equal(t, model.EventAccepted, d["status"], "event %d", n)
		require.EqualValues(t, n, d["sequenceNumber"], "event %d", n)
	}
}

// TestUnqueriedCopiesAreNotCarried (review finding): a copy the window
// query cannot match, such as an admin write with no clientSequenceNumber
// (the query orders by it, so leaves it out), must not be carried: the
// count would not see it, and would count in its place a pending event
// whose trigger has not come, which the cursor would then pass by. Here
// u is pending and its trigger late, c and m are carried; u was written
// first and must be numbered first.
func TestUnqueriedCopiesAreNotCarried(t *testing.T) {
	fs := newClient(t)
	ctx := context.Background()
	sessionID := newSession(t, fs, "u1")
	seq := NewSequencer(fs, experiences.Default(), nil)
	copyOf := func(id string) model.Event { return storedCopy(t, ctx, fs, sessionID, id) }
	// A view this instance trusts, whose last window held only copies.
	for i, id := range []string{"a1", "a2", "a3"} {
		require.NoError(t, writeEvent(ctx, fs, sessionID, id, "u1", int64(i+1)))
		out, err := seq.SequenceCreated(ctx, sessionID, copyOf(id))
		require.NoError(t, err)
		require.EqualValues(t, i+1, out.SequenceNumber)
	}
	require.NoError(t, writeEvent(ctx, fs, sessionID, "u", "u1", 10))
	require.NoError(t, writeEvent(ctx, fs, sessionID, "c", "u1", 11))
	_, err := eventsCol(fs, sessionID).Doc("m").Create(ctx, map[string]any{
		"id": "m", "type": "page_changed", "senderId": "u1", "data": map[string]any{"pageIndex": "1"},
		"createdAt": firestore.ServerTimestamp,
	})
	require.NoError(t, err)

	copies := []model.Event{copyOf("c"), copyOf("m")}
	release := seq.HoldLane(sessionID)
	errs := make(chan error, len(copies))
	for _, c := range copies {
		go func() {
			_, err := seq.SequenceCreated(ctx, sessionID, c)
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return seq.Waiting(sessionID) == len(copies) }, 10*time.Second, time.Millisecond)
	release()
	for range copies {
		require.NoError(t, <-errs)
	}
	out, err := seq.Sequence(ctx, sessionID, "u")
	require.NoError(t, err)
	require.Equal(t, Outcome{Status: model.EventAccepted, SequenceNumber: 4}, out, "u, written before c")
	require.EqualValues(t, 5, decisionOf(t, ctx, fs, sessionID, "c")["sequenceNumber"])
	require.Equal(t, model.EventRejected, decisionOf(t, ctx, fs, sessionID, "m")["status"])
	require.Zero(t, seq.Stats.Snapshot().LateEvents)
}
