package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// InstancesRow is scenario 9 at one instance count: one session, its
// triggers spread over k sequencer instances (function instances), each
// with its own Firestore client and lanes.
type InstancesRow struct {
	Instances int `json:"instances"`
	Writers   int `json:"writers"`
	Events    int `json:"events"`
	// Capped says the writers stopped at the time cap before all events
	// were written.
	Capped bool `json:"capped"`
	// AbortedWrites are client writes still ABORTED (the emulator's lock
	// timeout) after every retry: the writer gives up on that event, as an
	// app would show an error, and goes on. Not written, so not lost.
	AbortedWrites int64 `json:"abortedWrites"`
	// Triggers is the Sequence calls made first time (one per event plus
	// the duplicates sent to a second instance).
	Triggers   int64 `json:"triggers"`
	Duplicates int64 `json:"duplicates"`
	// Seconds runs from the first write to the last Sequence return.
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"eventsPerSecond"`
	// Transactions and Attempts are summed over the instances' counters.
	Transactions     int64   `json:"transactions"`
	Attempts         int64   `json:"transactionAttempts"`
	AttemptsPerEvent float64 `json:"attemptsPerEvent"`
	AttemptsPerTx    float64 `json:"attemptsPerTransaction"`
	// DecidingRuns are the transactions that decided something (they
	// wrote the session); the others found their event decided already.
	DecidingRuns int64 `json:"decidingRuns"`
	// SequenceErrors are Sequence calls that returned an error (a failed
	// delivery), each then called again as Eventarc redelivers;
	// FailedTriggers still failed after every retry.
	SequenceErrors int64  `json:"sequenceErrors"`
	FailedTriggers int64  `json:"failedTriggers"`
	ErrorSample    string `json:"errorSample,omitempty"`
	// Counted on the documents afterwards.
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Lost     int `json:"lost"`
	// Gapless says the accepted events' sequence numbers are exactly
	// 1..Accepted, no gap, no duplicate, and the session document's last
	// number is Accepted; Check says what is wrong otherwise.
	Gapless bool   `json:"gapless"`
	Check   string `json:"check,omitempty"`
	// Write is each event's create, retries included; Sequence each
	// trigger's Sequence call, first attempt (lane wait included).
	Write    Distribution `json:"writeMs"`
	Sequence Distribution `json:"sequenceMs"`
}

// InstancesResult is scenario 9 at every instance count.
type InstancesResult struct {
	DuplicateFraction float64        `json:"duplicateFraction"`
	Rows              []InstancesRow `json:"rows"`
	// Probe is scenario 6's two bare transactions on two parents of one
	// project, run here again: the emulator's lock wait on its own.
	Probe ProbeRun `json:"lockProbeOneProject"`
}

// runInstances writes n events from writers concurrent writers into one
// session; each write's trigger goes to one of k sequencers chosen at
// random and, with probability dup, a duplicate to another. The session
// is in a project of its own per k, so no earlier scenario's documents
// are in the emulator's way.
//
// Writers stop taking new events after maxWrite, so that a collapsed
// configuration still ends in bounded time: Events is what was written
// (Capped says the cap cut it short).
func runInstances(ctx context.Context, k, writers, n int, dup float64, maxWrite time.Duration, prog *progress) (InstancesRow, error) {
	row := InstancesRow{Instances: k, Writers: writers, Events: n}
	project := fmt.Sprintf("demo-bench-k%03d", k)
	writer, err := firestore.NewClient(ctx, project)
	if err != nil {
		return row, fmt.Errorf("firestore client: %w", err)
	}
	defer writer.Close()
	seqs := make([]*events.Sequencer, k)
	for i := range seqs {
		fs, err := firestore.NewClient(ctx, project)
		if err != nil {
			return row, fmt.Errorf("firestore client for instance %d: %w", i, err)
		}
		defer fs.Close()
		seqs[i] = newSequencer(fs)
	}
	users := make([]string, writers)
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
	}
	sid, err := seedSession(ctx, writer, users...)
	if err != nil {
		return row, err
	}
	prog.setTotal(int64(n))

	var (
		wg                      sync.WaitGroup
		errMu                   sync.Mutex
		firstErr                error
		writeRetries            atomic.Int64
		abortedWrites           atomic.Int64
		triggers, dups, seqErrs atomic.Int64
		failed                  atomic.Int64
		written                 atomic.Int64
		sample                  string
		latMu                   sync.Mutex
		writeLat, seqLat        []time.Duration
	)
	record := func(to *[]time.Duration, d time.Duration) {
		latMu.Lock()
		*to = append(*to, d)
		latMu.Unlock()
	}
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	deliver := func(inst int, id string) {
		triggers.Add(1)
		wg.Go(func() {
			created, err := triggerCopy(ctx, writer, sid, id)
			if err != nil {
				fail(err)
				return
			}
			firstCall := true
			err = retry(ctx, 5, &seqErrs, func() error {
				t0 := time.Now()
				_, err := seqs[inst].SequenceCreated(ctx, sid, created)
				if firstCall {
					record(&seqLat, time.Since(t0))
					firstCall = false
				}
				if err != nil {
					errMu.Lock()
					if sample == "" {
						sample = err.Error()
					}
					errMu.Unlock()
				}
				return err
			})
			if err != nil {
				// Counted, not fatal: whether the event is lost is
				// read on the documents.
				seqErrs.Add(1)
				failed.Add(1)
			}
		})
	}
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil || time.Since(start) > maxWrite {
					return
				}
				id := fmt.Sprintf("e%06d", i)
				ev := clientEvent(id, users[w], int64(i))
				ev["createdAt"] = firestore.ServerTimestamp
				t0 := time.Now()
				err := retry(ctx, 10, &writeRetries, func() error {
					_, err := eventsOf(writer, sid).Doc(id).Create(ctx, ev)
					if status.Code(err) != codes.Aborted {
						err = permanent{err}
					}
					return err
				})
				if err != nil && status.Code(err) == codes.Aborted {
					abortedWrites.Add(1)
					prog.add(1)
					continue
				}
				if err != nil {
					fail(fmt.Errorf("write %s: %w", id, err))
					return
				}
				record(&writeLat, time.Since(t0))
				written.Add(1)
				first := rand.IntN(k)
				deliver(first, id)
				if k > 1 && rand.Float64() < dup {
					dups.Add(1)
					deliver((first+1+rand.IntN(k-1))%k, id)
				}
				prog.add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return row, firstErr
	}
	// retry counts the calls it made again; a call that failed for good
	// is one more failed call, counted above.
	row.Events = int(written.Load())
	row.AbortedWrites = abortedWrites.Load()
	row.Capped = row.Events+int(row.AbortedWrites) < n
	row.Seconds = elapsed.Seconds()
	row.EventsPerSecond = float64(row.Events) / elapsed.Seconds()
	row.Triggers, row.Duplicates = triggers.Load(), dups.Load()
	row.SequenceErrors, row.FailedTriggers, row.ErrorSample = seqErrs.Load(), failed.Load(), sample
	for _, s := range seqs {
		c := s.Stats.Snapshot()
		row.Transactions += c.Transactions
		row.Attempts += c.TransactionAttempts
		row.DecidingRuns += c.SessionWrites
	}
	row.Write, row.Sequence = distribution(writeLat), distribution(seqLat)
	row.AttemptsPerEvent = float64(row.Attempts) / float64(max(row.Events, 1))
	row.AttemptsPerTx = float64(row.Attempts) / float64(max(row.Transactions, 1))
	if err := checkNumbers(ctx, writer, sid, &row); err != nil {
		return row, err
	}
	return row, nil
}

// checkNumbers reads every event and the session: outcomes, and whether
// the accepted numbers are exactly 1..accepted.
func checkNumbers(ctx context.Context, fs *firestore.Client, sid string, row *InstancesRow) error {
	docs, err := eventsOf(fs, sid).Select("status", "sequenceNumber").Documents(ctx).GetAll()
	if err != nil {
		return fmt.Errorf("read the events: %w", err)
	}
	var nums []int64
	for _, d := range docs {
		m := d.Data()
		switch m["status"] {
		case model.EventAccepted:
			row.Accepted++
			n, _ := m["sequenceNumber"].(int64)
			nums = append(nums, n)
		case model.EventRejected:
			row.Rejected++
		}
	}
	row.Lost = row.Events - row.Accepted - row.Rejected
	snap, err := fs.Collection(model.SessionsCollection).Doc(sid).Get(ctx)
	if err != nil {
		return fmt.Errorf("read the session: %w", err)
	}
	last, _ := snap.Data()[model.FieldLastEventSequenceNumber].(int64)
	row.Gapless = true
	if err := model.CheckNumbers(nums, last); err != nil {
		row.Gapless, row.Check = false, err.Error()
	}
	return nil
}
