package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// FloodResult is scenario 7: a valid event behind a flood of junk in its
// session, against the same event in a clean session, same rounds.
type FloodResult struct {
	BatchSize int `json:"batchSize"`
	// Junk is the malformed events written before the valid one, per
	// flooded session (3 x BatchSize).
	Junk   int `json:"junkPerSession"`
	Rounds int `json:"rounds"`
	// Flooded and Clean time the valid event from just before its write to
	// the return of its own Sequence call (accepted).
	Flooded  Distribution `json:"flooded"`
	Clean    Distribution `json:"clean"`
	RatioP50 float64      `json:"ratioP50"`
	RatioP95 float64      `json:"ratioP95"`
	// Transactions are sequencing runs per session, mean over the rounds
	// (each case has a sequencer of its own per round).
	FloodTransactions float64 `json:"floodTransactionsPerSession"`
	CleanTransactions float64 `json:"cleanTransactionsPerSession"`
	// JunkPerExtraRun is Junk over the runs the flood adds.
	JunkPerExtraRun float64 `json:"junkPerExtraRun"`
	// Counted on the flooded sessions' documents, over all rounds (a
	// clean session's event is checked accepted by its Sequence call).
	JunkRejected  int `json:"junkRejectedMalformed"`
	JunkOther     int `json:"junkNotRejectedMalformed"`
	ValidAccepted int `json:"validAccepted"`
	// JunkWriteMs is the untimed writing of one session's junk, p50.
	JunkWriteMs float64 `json:"junkWriteP50Ms"`
}

// junkEvent is an event any participant may write under the rules (the
// allowed keys, a map for data, createdAt the commit time, an integer
// clientSequenceNumber) whose data holds a number: malformed to the
// sequencer, which rejects it.
func junkEvent(id, sender string, clientSeq int64) map[string]any {
	ev := clientEvent(id, sender, clientSeq)
	ev["data"] = map[string]any{"pageIndex": clientSeq}
	ev["createdAt"] = firestore.ServerTimestamp
	return ev
}

// runFlood samples, in rounds that take both cases once in a new random
// order, a valid event written right after 3 x batch junk events in the
// same session (every junk event's trigger and then the valid one's called
// concurrently, junk first, as Eventarc would deliver them), and the same
// event alone in a fresh session. Each round uses a project of its own
// (the emulator scans a project's events for the pending query, see
// scenario 4) and a new sequencer per case, so its counters are the
// case's.
func runFlood(ctx context.Context, rounds, batch int, prog *progress) (FloodResult, error) {
	res := FloodResult{BatchSize: batch, Junk: 3 * batch, Rounds: rounds}
	users := []string{"u00", "u01"}
	var flooded, clean, junkWrites []time.Duration
	var floodTx, cleanTx int64
	prog.setTotal(int64(rounds * 2))
	for r := range rounds {
		project := fmt.Sprintf("demo-bench-flood%03d", r)
		seqFS, err := firestore.NewClient(ctx, project)
		if err != nil {
			return res, fmt.Errorf("firestore client: %w", err)
		}
		writer, err := firestore.NewClient(ctx, project)
		if err != nil {
			seqFS.Close()
			return res, fmt.Errorf("firestore client: %w", err)
		}
		cases := []bool{true, false}
		rand.Shuffle(len(cases), func(i, j int) { cases[i], cases[j] = cases[j], cases[i] })
		for _, flood := range cases {
			sid, err := seedSession(ctx, writer, users...)
			if err != nil {
				return res, err
			}
			junk := 0
			if flood {
				junk = res.Junk
				t0 := time.Now()
				if err := parallel(ctx, junk, 16, func(i int) error {
					id := fmt.Sprintf("j%06d", i)
					_, err := eventsOf(writer, sid).Doc(id).Create(ctx, junkEvent(id, users[i%2], int64(i)))
					return err
				}); err != nil {
					return res, fmt.Errorf("write junk: %w", err)
				}
				junkWrites = append(junkWrites, time.Since(t0))
			}
			seq := newSequencerBatch(seqFS, batch)
			d, err := timeValidBehind(ctx, writer, seq, sid, junk, users[0])
			if err != nil {
				return res, fmt.Errorf("round %d (flood %v): %w", r, flood, err)
			}
			tx := seq.Stats.Snapshot().Transactions
			if flood {
				flooded = append(flooded, d)
				floodTx += tx
			} else {
				clean = append(clean, d)
				cleanTx += tx
			}
			if flood {
				if err := countFlood(ctx, writer, sid, &res); err != nil {
					return res, err
				}
			}
			prog.add(1)
		}
		seqFS.Close()
		writer.Close()
	}
	res.Flooded, res.Clean = distribution(flooded), distribution(clean)
	res.RatioP50 = res.Flooded.P50 / res.Clean.P50
	res.RatioP95 = res.Flooded.P95 / res.Clean.P95
	res.FloodTransactions = float64(floodTx) / float64(rounds)
	res.CleanTransactions = float64(cleanTx) / float64(rounds)
	if extra := res.FloodTransactions - res.CleanTransactions; extra > 0 {
		res.JunkPerExtraRun = float64(res.Junk) / extra
	}
	res.JunkWriteMs = distribution(junkWrites).P50
	return res, nil
}

// timeValidBehind writes the valid event v000000 after junk events
// j000000.. (already written) and calls Sequence for every one of them at
// once, junk first; it returns the time from just before the valid write
// to its Sequence call's return, once every call has returned.
func timeValidBehind(ctx context.Context, writer *firestore.Client, seq *events.Sequencer, sid string, junk int, sender string) (time.Duration, error) {
	const id = "v000000"
	start := time.Now()
	ev := clientEvent(id, sender, int64(junk))
	ev["createdAt"] = firestore.ServerTimestamp
	if _, err := eventsOf(writer, sid).Doc(id).Create(ctx, ev); err != nil {
		return 0, fmt.Errorf("write the valid event: %w", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, junk+1)
	for i := range junk {
		wg.Go(func() {
			if _, err := seq.Sequence(ctx, sid, fmt.Sprintf("j%06d", i)); err != nil {
				errs <- err
			}
		})
	}
	var took time.Duration
	wg.Go(func() {
		out, err := seq.Sequence(ctx, sid, id)
		took = time.Since(start)
		switch {
		case err != nil:
			errs <- err
		case out.Status != model.EventAccepted:
			errs <- fmt.Errorf("valid event %s: %s (%s)", id, out.Status, out.Reason)
		}
	})
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return took, nil
}

// countFlood adds what one flooded session's documents say to res.
func countFlood(ctx context.Context, fs *firestore.Client, sid string, res *FloodResult) error {
	docs, err := eventsOf(fs, sid).Select("status", "rejectReason").Documents(ctx).GetAll()
	if err != nil {
		return fmt.Errorf("count outcomes of %s: %w", sid, err)
	}
	for _, d := range docs {
		m := d.Data()
		if d.Ref.ID[0] == 'v' {
			if m["status"] == model.EventAccepted {
				res.ValidAccepted++
			}
			continue
		}
		if m["status"] == model.EventRejected && m["rejectReason"] == string(events.ReasonMalformed) {
			res.JunkRejected++
		} else {
			res.JunkOther++
		}
	}
	return nil
}
