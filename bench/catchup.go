package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/shared/bulk"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/snapshots"
)

// JoinRow is joinSession on a session with Events accepted events, before
// and after compaction (scenario 4).
type JoinRow struct {
	Events int          `json:"events"`
	Before Distribution `json:"before"`
	After  Distribution `json:"after"`
	// Ratios are p50s over the p50 of the baseline join in the same phase
	// (see CatchUpResult.Baseline).
	BeforeRatio float64 `json:"beforeRatio"`
	AfterRatio  float64 `json:"afterRatio"`
	// AfterVsSmallest is the after-compaction p50 over the smallest
	// history's after-compaction p50: the goal's ratio, like for like
	// (both answer with a snapshot and no event).
	AfterVsSmallest float64 `json:"afterVsSmallest"`
	// TailQuery is the events query a join would run after compaction,
	// timed alone in this process: the events after the snapshot, none.
	// joinSession skips it when the session's lastEventSequenceNumber is
	// the snapshot's; this is what that saves on the emulator.
	TailQuery Distribution `json:"tailQueryAfter"`
	// What the joiner received, and its size as JSON.
	EventsBefore int `json:"eventsReturnedBefore"`
	EventsAfter  int `json:"eventsReturnedAfter"`
	BytesBefore  int `json:"responseBytesBefore"`
	BytesAfter   int `json:"responseBytesAfter"`
}

// CompactionRow is one Compactor.Compact of a session whose events are all
// new since its (absent) snapshot (scenario 5).
type CompactionRow struct {
	Events int     `json:"events"`
	Ms     float64 `json:"ms"`
	// EventsRead is what the compactor folded (one read each); OtherReads
	// the session and the snapshot (read before folding and again in the
	// writing transaction) and the final, empty page of events when the
	// last page was full. Writes is the one snapshot document.
	EventsRead      int     `json:"eventsRead"`
	OtherReads      int     `json:"otherReads"`
	Writes          int     `json:"writes"`
	EventsPerSecond float64 `json:"foldedPerSecond"`
}

// CatchUpResult is scenarios 4 and 5.
type CatchUpResult struct {
	Reps        int     `json:"reps"`
	Warmup      int     `json:"warmup"`
	SeedSeconds float64 `json:"seedSeconds"`
	// Baseline is a session with the smallest history that is never
	// compacted, joined in turn with the others in both phases: what
	// joining a fresh session costs at that moment.
	Baseline    JoinRow         `json:"baseline"`
	Joins       []JoinRow       `json:"joins"`
	Compactions []CompactionRow `json:"compactions"`
}

// compactorChunk is snapshots.Compactor's page size (compact.go), for the
// count of the empty last page.
const compactorChunk = 1000

// runCatchUp seeds one session per size with already-decided history, plus
// the baseline session, times joinSession through the callable protocol,
// compacts each session but the baseline in this process and times the
// joins again.
func runCatchUp(ctx context.Context, st *stack, sizes []int, reps, warmup int, prog *progress) (CatchUpResult, error) {
	res := CatchUpResult{Reps: reps, Warmup: warmup}
	u, err := st.signUp(ctx)
	if err != nil {
		return res, err
	}
	// The baseline is last, so joins[i] for i < len(sizes) are the sizes.
	all := append(slices.Clone(sizes), sizes[0])
	base := len(sizes)
	total := 0
	for _, n := range all {
		total += n
	}
	prog.phase("scenario 4: seeding history", int64(total))
	seedStart := time.Now()
	received := st.local.Deliveries().Received
	ids := make([]string, len(all))
	for i, n := range all {
		if ids[i], err = seedHistory(ctx, st.writer, u.UID, n, prog); err != nil {
			return res, err
		}
	}
	// Every seeded event has its trigger; each finds its event decided and
	// returns. They are let through before anything is timed.
	prog.phase("scenario 4: draining the seeded events' triggers", int64(total))
	if err := drainTriggers(ctx, st, received+int64(total), prog); err != nil {
		return res, err
	}
	res.SeedSeconds = time.Since(seedStart).Seconds()

	joins := make([]JoinRow, len(all))
	for i, n := range all {
		joins[i].Events = n
	}
	timeJoins := func(label string, after bool) error {
		prog.phase("scenario 4: joinSession "+label, int64((reps+warmup)*len(all)))
		samples := make([][]time.Duration, len(all))
		// In rounds, each in a new random order, so machine noise and the
		// after-effects of a big join on the next hit every session alike.
		for r := range reps + warmup {
			for _, i := range rand.Perm(len(all)) {
				n := all[i]
				compacted := after && i != base
				start := time.Now()
				var out functions.JoinSessionResult
				if err := st.callables.Call(ctx, "joinSession", u.IDToken, map[string]any{"sessionId": ids[i]}, &out); err != nil {
					return fmt.Errorf("joinSession (%d events, %s): %w", n, label, err)
				}
				took := time.Since(start)
				if err := checkJoin(out, n, compacted); err != nil {
					return fmt.Errorf("joinSession (%d events, %s): %w", n, label, err)
				}
				if r >= warmup {
					samples[i] = append(samples[i], took)
				}
				if r == 0 {
					b, _ := json.Marshal(out)
					if after {
						joins[i].EventsAfter, joins[i].BytesAfter = len(out.Events), len(b)
					} else {
						joins[i].EventsBefore, joins[i].BytesBefore = len(out.Events), len(b)
					}
				}
				prog.add(1)
			}
		}
		for i := range all {
			if after {
				joins[i].After = distribution(samples[i])
			} else {
				joins[i].Before = distribution(samples[i])
			}
		}
		return nil
	}
	if err := timeJoins("before compaction", false); err != nil {
		return res, err
	}

	prog.phase("scenario 5: compaction", int64(len(sizes)))
	compactor := snapshots.NewCompactor(st.writer, experiences.Default(), nil)
	for i, n := range sizes {
		start := time.Now()
		out, err := compactor.Compact(ctx, ids[i])
		took := time.Since(start)
		if err != nil {
			return res, fmt.Errorf("compact %d events: %w", n, err)
		}
		if !out.Written || out.To != int64(n) || out.Folded != n {
			return res, fmt.Errorf("compact %d events: %+v", n, out)
		}
		other := 3 // session, snapshot, snapshot again in the transaction
		if n%compactorChunk == 0 {
			other++ // the empty page that ends the loop
		}
		res.Compactions = append(res.Compactions, CompactionRow{
			Events: n, Ms: ms(took), EventsRead: out.Folded, OtherReads: other, Writes: 1,
			EventsPerSecond: float64(out.Folded) / took.Seconds(),
		})
		prog.add(1)
	}

	if err := timeJoins("after compaction", true); err != nil {
		return res, err
	}
	// The events query a compacted join skips, alone: it returns nothing,
	// whatever the history, so its time is the store's, not the payload's.
	prog.phase("scenario 4: the skipped after-snapshot query, alone", int64((reps+warmup)*len(sizes)))
	tail := make([][]time.Duration, len(sizes))
	for r := range reps + warmup {
		for i, n := range sizes {
			start := time.Now()
			docs, err := eventsOf(st.writer, ids[i]).Where("sequenceNumber", ">", int64(n)).OrderBy("sequenceNumber", firestore.Asc).
				Documents(ctx).GetAll()
			if err != nil {
				return res, fmt.Errorf("tail query (%d events): %w", n, err)
			}
			if len(docs) != 0 {
				return res, fmt.Errorf("tail query (%d events): %d documents, want none", n, len(docs))
			}
			if r >= warmup {
				tail[i] = append(tail[i], time.Since(start))
			}
			prog.add(1)
		}
	}
	for i := range sizes {
		joins[i].TailQuery = distribution(tail[i])
		joins[i].BeforeRatio = joins[i].Before.P50 / joins[base].Before.P50
		joins[i].AfterRatio = joins[i].After.P50 / joins[base].After.P50
		joins[i].AfterVsSmallest = joins[i].After.P50 / joins[0].After.P50
	}
	res.Baseline = joins[base]
	res.Baseline.BeforeRatio, res.Baseline.AfterRatio = 1, 1
	res.Joins = joins[:base]
	return res, nil
}

// checkJoin makes sure a timed join returned what a joiner needs: all n
// events before compaction, the snapshot and nothing after it afterwards.
func checkJoin(out functions.JoinSessionResult, n int, after bool) error {
	switch {
	case out.LastEventSequenceNumber != int64(n):
		return fmt.Errorf("lastEventSequenceNumber %d, want %d", out.LastEventSequenceNumber, n)
	case !after && (out.Snapshot != nil || len(out.Events) != n):
		return fmt.Errorf("before compaction: %d events (want %d), snapshot %v", len(out.Events), n, out.Snapshot != nil)
	case after && (out.Snapshot == nil || out.Snapshot.LastEventSequenceNumber != int64(n) || len(out.Events) != 0):
		return fmt.Errorf("after compaction: %d events (want 0), snapshot %+v", len(out.Events), out.Snapshot)
	}
	return nil
}

// seedHistory creates a session whose n events are already accepted and
// numbered 1..n, as the pipeline would have left them, with the admin
// BulkWriter: a 10,000-event history in seconds instead of sequencing it.
// The publish cursor is set past them, so their triggers owe no fan-out.
func seedHistory(ctx context.Context, fs *firestore.Client, uid string, n int, prog *progress) (string, error) {
	sid, err := seedSession(ctx, fs, uid)
	if err != nil {
		return "", err
	}
	sessRef := fs.Collection(model.SessionsCollection).Doc(sid)
	if _, err := sessRef.Collection("server").Doc("publisher").Set(ctx, map[string]any{"lastPublishedSequenceNumber": int64(n)}); err != nil {
		return "", fmt.Errorf("seed publish cursor: %w", err)
	}
	refs := make([]*firestore.DocumentRef, n)
	for i := range refs {
		refs[i] = eventsOf(fs, sid).Doc(seededID(i + 1))
	}
	base := time.Now().Add(-time.Hour)
	err = bulk.Apply(ctx, fs, refs, func(bw *firestore.BulkWriter, ref *firestore.DocumentRef) (*firestore.BulkWriterJob, error) {
		seq, _ := strconv.ParseInt(ref.ID[1:], 10, 64)
		ev := clientEvent(ref.ID, uid, seq)
		if seq == 1 {
			ev["type"], ev["data"] = "story_selected", map[string]string{"storyId": "story-1"}
		}
		ev["createdAt"] = base.Add(time.Duration(seq) * time.Millisecond)
		ev["status"], ev["sequenceNumber"], ev["sequencedAt"] = model.EventAccepted, seq, base.Add(time.Duration(seq)*time.Millisecond)
		prog.add(1)
		return bw.Create(ref, ev)
	})
	if err != nil {
		return "", fmt.Errorf("seed %d events: %w", n, err)
	}
	_, err = sessRef.Update(ctx, []firestore.Update{
		{Path: "lastEventSequenceNumber", Value: int64(n)},
		{Path: "lastEventId", Value: seededID(n)},
	})
	if err != nil {
		return "", fmt.Errorf("seed session cursor: %w", err)
	}
	return sid, nil
}

func seededID(seq int) string { return fmt.Sprintf("e%07d", seq) }

// drainTriggers waits until the runner has received want triggers in all
// (the Firestore emulator sends them one at a time, after the writes) and
// delivered every one.
func drainTriggers(ctx context.Context, st *stack, want int64, prog *progress) error {
	deadline := time.Now().Add(6 * time.Minute)
	first := st.local.Deliveries().Succeeded
	for {
		d := st.local.Deliveries()
		prog.set(d.Succeeded + d.Failed - first)
		if d.Received >= want && d.Succeeded+d.Failed >= d.Received {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("triggers: %d of %d received, %d delivered after 6 minutes", d.Received, want, d.Succeeded+d.Failed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
