package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// SequencingRow is one run of the in-process sequencer (scenarios 2, 3, 6).
type SequencingRow struct {
	Sessions int `json:"sessions"`
	Writers  int `json:"writersPerSession"`
	Events   int `json:"events"`
	// Isolated: each session in a project of its own (see seqSpec).
	Isolated bool `json:"isolated"`
	// ReadTriggers: the triggers carried no copy (seqSpec.reads).
	ReadTriggers bool `json:"readTriggers,omitempty"`
	// Seconds runs from the first write to the last trigger's return.
	Seconds               float64 `json:"seconds"`
	EventsPerSecond       float64 `json:"eventsPerSecond"`
	SessionWritesPerEvent float64 `json:"sessionWritesPerEvent"`
	Transactions          int64   `json:"transactions"`
	AttemptsPerTx         float64 `json:"attemptsPerTransaction"`
	// Retries are transaction attempts beyond the first (contention).
	Retries int64 `json:"transactionRetries"`
	// Accepted, Rejected and Lost are counted on the documents afterwards:
	// Lost is an event written but left without a status.
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Lost     int `json:"lost"`
	// Reads and Writes are the sequencer's own counters (Stats), fan-out
	// cursor included; OpsPer1000 is (reads + writes) per 1,000 accepted.
	Reads          int64   `json:"reads"`
	Writes         int64   `json:"writes"`
	OpsPer1000     float64 `json:"opsPer1000Events"`
	ReadsPer1000   float64 `json:"readsPer1000Events"`
	WritesPer1000  float64 `json:"writesPer1000Events"`
	Published      int64   `json:"published"`
	CachedTriggers int64   `json:"cachedTriggers"`
	// ReadRoundTripsPerTx is the reads a run waited for one after another
	// (see events.Counters), per transaction; StaleViews counts runs whose
	// instance did not move the cursor last after all.
	ReadRoundTripsPerTx float64 `json:"readRoundTripsPerTransaction"`
	StaleViews          int64   `json:"staleViews"`
	// CarriedRuns decided the triggers' copies of their events without
	// reading them; CarriedMisses are counts that found more pending than
	// carried, so the run read the window after all (events.Counters).
	CarriedRuns   int64 `json:"carriedRuns"`
	CarriedMisses int64 `json:"carriedMisses"`
	// OutOfOrder counts accepted events, read back afterwards, that sort
	// (createdAt, clientSequenceNumber, id) before the event numbered just
	// before them, or whose numbers are not exactly 1..accepted;
	// LateEvents is the sequencer's own count of events decided behind
	// its cursor.
	OutOfOrder     int64   `json:"outOfOrder"`
	LateEvents     int64   `json:"lateEvents"`
	RatioToCeiling float64 `json:"ratioToCeiling,omitempty"`
	// WritesAlonePerSecond is the rate the same writers create the same
	// events with nothing sequencing them, in the same run: the writers'
	// own ceiling.
	WritesAlonePerSecond float64 `json:"writesAlonePerSecond,omitempty"`
	// WriteRetries are aborted client writes tried again; TriggerRetries
	// failed Sequence calls made again (Eventarc's retry).
	WriteRetries   int64 `json:"writeRetries"`
	TriggerRetries int64 `json:"triggerRetries"`
}

// noopPublisher stands for the Pub/Sub fan-out: the sequencer's publish
// path still runs (its cursor read and write are counted in Stats, with
// the messages), but nothing is sent, so the bench measures sequencing,
// not the Pub/Sub emulator.
type noopPublisher struct{}

func (noopPublisher) Publish(context.Context, string, []events.Accepted) error { return nil }

// newSequencer is what onEventCreated runs, in this process, on the
// direct project, with limits no bench load reaches.
func newSequencer(fs *firestore.Client) *events.Sequencer {
	return newSequencerBatch(fs, 0)
}

// newSequencerBatch is newSequencer with a BatchSize (0: the default).
func newSequencerBatch(fs *firestore.Client, batchSize int) *events.Sequencer {
	opts := events.DefaultOptions()
	opts.SenderLimit.PerSecond, opts.SenderLimit.Burst = 1e6, 1e6
	opts.SessionLimit.PerSecond, opts.SessionLimit.Burst = 1e6, 1e6
	if batchSize > 0 {
		opts.BatchSize = batchSize
	}
	opts.Publisher = noopPublisher{}
	return events.NewSequencer(fs, experiences.Default(), &opts)
}

// seqSpec is one load on the in-process sequencer.
type seqSpec struct {
	sessions, writers, perSession int
	// isolate puts each session in a project of its own on the same
	// emulator. The Firestore emulator's lock manager does not tell one
	// session's events collection from another's: a transaction that
	// queried one session's events and writes there blocks writes to every
	// session's events, and two such transactions wait for each other until
	// its lock timeout (see RESULTS.md, scenario 6). In production the index
	// range a collection query locks lies under its parent document, so
	// sessions should not contend; separate projects (separate databases)
	// give the emulator that independence.
	isolate bool
	// reads: each trigger calls Sequence, which reads its event, instead
	// of SequenceCreated with the copy (the way before copies, measured
	// side by side). The copy is still read back first, so both ways wait
	// the same lag and load the emulator alike.
	reads bool
}

// target is one session under load: where it lives and what sequences it.
type target struct {
	id  string
	fs  *firestore.Client // writes and reads of this session
	seq *events.Sequencer
}

// runSequencing writes perSession events into each session from writers
// concurrent writers per session, each write followed by a concurrent
// Sequence call for it, as Eventarc delivers a trigger per write,
// concurrently. Without isolation one Sequencer (one function instance,
// a lane per session) serves every session.
//
// A write the emulator aborts is retried, as the client SDKs retry an
// aborted commit, and a failed Sequence call is called again, as Eventarc
// redelivers a failed trigger (onEventCreated has retry on); both are
// counted. They happen only with several sessions in one project.
func runSequencing(ctx context.Context, st *stack, spec seqSpec, prog *progress) (SequencingRow, error) {
	row := SequencingRow{Sessions: spec.sessions, Writers: spec.writers, Events: spec.sessions * spec.perSession, Isolated: spec.isolate, ReadTriggers: spec.reads}
	users := make([]string, spec.writers)
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
	}
	targets := make([]target, spec.sessions)
	shared := newSequencer(st.direct)
	for i := range targets {
		targets[i] = target{fs: st.directWriter, seq: shared}
		if spec.isolate {
			fs, err := firestore.NewClient(ctx, fmt.Sprintf("demo-bench-m%04d", i))
			if err != nil {
				return row, fmt.Errorf("firestore client for session %d: %w", i, err)
			}
			defer fs.Close()
			targets[i] = target{fs: fs, seq: newSequencer(fs)}
		}
	}
	if err := parallel(ctx, spec.sessions, 16, func(i int) (err error) {
		targets[i].id, err = seedSession(ctx, targets[i].fs, users...)
		return err
	}); err != nil {
		return row, err
	}
	prog.setTotal(int64(row.Events))
	triggers := st.local.Deliveries().Received

	var (
		wg                           sync.WaitGroup
		errMu                        sync.Mutex
		firstErr                     error
		writeRetries, triggerRetries atomic.Int64
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	start := time.Now()
	for s, t := range targets {
		next := make(chan int, spec.perSession)
		for i := range spec.perSession {
			next <- i
		}
		close(next)
		for w := range spec.writers {
			wg.Go(func() {
				for i := range next {
					if ctx.Err() != nil {
						return
					}
					id := fmt.Sprintf("e%06d", i)
					ev := clientEvent(id, users[w], int64(i))
					ev["createdAt"] = firestore.ServerTimestamp
					err := retry(ctx, 10, &writeRetries, func() error {
						_, err := eventsOf(t.fs, t.id).Doc(id).Create(ctx, ev)
						if status.Code(err) != codes.Aborted {
							err = permanent{err}
						}
						return err
					})
					if err != nil {
						fail(fmt.Errorf("session %d, write %s: %w", s, id, err))
						return
					}
					wg.Go(func() {
						created, err := triggerCopy(ctx, t.fs, t.id, id)
						if err == nil {
							err = retry(ctx, 5, &triggerRetries, func() error {
								if spec.reads {
									_, err := t.seq.Sequence(ctx, t.id, id)
									return err
								}
								_, err := t.seq.SequenceCreated(ctx, t.id, created)
								return err
							})
						}
						if err != nil {
							fail(fmt.Errorf("session %d, sequence %s: %w", s, id, err))
						}
						prog.add(1)
					})
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return row, firstErr
	}
	if d := st.local.Deliveries().Received - triggers; d > 0 {
		// The numbers would mix this process's sequencer with the
		// functions host's.
		return row, fmt.Errorf("%d triggers fired for the in-process sessions, which should have none", d)
	}
	var c events.Counters
	seen := map[*events.Sequencer]bool{}
	for _, t := range targets {
		if seen[t.seq] {
			continue
		}
		seen[t.seq] = true
		x := t.seq.Stats.Snapshot()
		c.Reads += x.Reads
		c.Writes += x.Writes
		c.SessionWrites += x.SessionWrites
		c.Transactions += x.Transactions
		c.TransactionAttempts += x.TransactionAttempts
		c.Published += x.Published
		c.CachedTriggers += x.CachedTriggers
		c.ReadRoundTrips += x.ReadRoundTrips
		c.StaleViews += x.StaleViews
		c.CarriedRuns += x.CarriedRuns
		c.CarriedMisses += x.CarriedMisses
		c.LateEvents += x.LateEvents
	}
	row.Seconds = elapsed.Seconds()
	row.EventsPerSecond = float64(row.Events) / elapsed.Seconds()
	row.Transactions = c.Transactions
	row.Retries = c.TransactionAttempts - c.Transactions
	row.AttemptsPerTx = float64(c.TransactionAttempts) / float64(max(c.Transactions, 1))
	row.Reads, row.Writes = c.Reads, c.Writes
	row.Published, row.CachedTriggers = c.Published, c.CachedTriggers
	row.ReadRoundTripsPerTx = float64(c.ReadRoundTrips) / float64(max(c.Transactions, 1))
	row.StaleViews = c.StaleViews
	row.CarriedRuns, row.CarriedMisses, row.LateEvents = c.CarriedRuns, c.CarriedMisses, c.LateEvents
	row.WriteRetries, row.TriggerRetries = writeRetries.Load(), triggerRetries.Load()

	for _, t := range targets {
		acc, rej, _, err := countOutcomes(ctx, t.fs, t.id)
		if err != nil {
			return row, err
		}
		row.Accepted += acc
		row.Rejected += rej
		bad, err := outOfOrder(ctx, t.fs, t.id)
		if err != nil {
			return row, err
		}
		row.OutOfOrder += bad
	}
	// Every write succeeded (or the run failed above): whatever has no
	// status now that every Sequence call returned is lost.
	row.Lost = row.Events - row.Accepted - row.Rejected
	per := float64(max(row.Accepted, 1))
	row.SessionWritesPerEvent = float64(c.SessionWrites) / per
	row.ReadsPer1000 = float64(c.Reads) * 1000 / per
	row.WritesPer1000 = float64(c.Writes) * 1000 / per
	row.OpsPer1000 = row.ReadsPer1000 + row.WritesPer1000
	return row, nil
}

// permanent marks an error retry must not retry.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// retry calls f up to attempts times while it fails with a retryable
// error, counting the retries.
func retry(ctx context.Context, attempts int, retries *atomic.Int64, f func() error) error {
	var err error
	for a := range attempts {
		if err = f(); err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return p.error
		}
		if a == attempts-1 {
			break
		}
		retries.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(a+1) * 50 * time.Millisecond):
		}
	}
	return err
}

// runWritesAlone creates n events in a new session from writers
// concurrent writers, as runSequencing's writers do, with no sequencing:
// how fast the emulator takes the writes alone.
func runWritesAlone(ctx context.Context, st *stack, writers, n int, prog *progress) (float64, error) {
	users := make([]string, writers)
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
	}
	sid, err := seedSession(ctx, st.directWriter, users...)
	if err != nil {
		return 0, err
	}
	prog.setTotal(int64(n))
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for i := range next {
				id := fmt.Sprintf("e%06d", i)
				ev := clientEvent(id, users[w], int64(i))
				ev["createdAt"] = firestore.ServerTimestamp
				if _, err := eventsOf(st.directWriter, sid).Doc(id).Create(ctx, ev); err != nil {
					errs <- fmt.Errorf("write %s: %w", id, err)
					return
				}
				prog.add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}

// countOutcomes reads every event of a session: accepted, rejected, and
// pending (no status: lost, once every trigger has returned).
func countOutcomes(ctx context.Context, fs *firestore.Client, sessionID string) (accepted, rejected, pending int, err error) {
	docs, err := eventsOf(fs, sessionID).Select("status").Documents(ctx).GetAll()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("count outcomes of %s: %w", sessionID, err)
	}
	for _, d := range docs {
		switch d.Data()["status"] {
		case model.EventAccepted:
			accepted++
		case model.EventRejected:
			rejected++
		default:
			pending++
		}
	}
	return accepted, rejected, pending, nil
}

// outOfOrder reads a session's accepted events back and counts those that
// break the order: numbered other than 1..n, or sorting before the event
// numbered just before them.
func outOfOrder(ctx context.Context, fs *firestore.Client, sessionID string) (int64, error) {
	docs, err := eventsOf(fs, sessionID).Where(model.FieldStatus, "==", model.EventAccepted).
		OrderBy(model.FieldSequenceNumber, firestore.Asc).Documents(ctx).GetAll()
	if err != nil {
		return 0, fmt.Errorf("read accepted events of %s: %w", sessionID, err)
	}
	var bad int64
	var prev model.Event
	for i, d := range docs {
		e := model.DecodeEvent(d)
		if e.SequenceNumber != int64(i+1) {
			bad++
		} else if i > 0 && orderedBefore(e, prev) {
			bad++
		}
		prev = e
	}
	return bad, nil
}

// orderedBefore reports whether a sorts before b in the order events are
// numbered in, for the integer clientSequenceNumbers the bench writes.
func orderedBefore(a, b model.Event) bool {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c < 0
	}
	if a.ClientSequenceNumber != b.ClientSequenceNumber {
		return a.ClientSequenceNumber < b.ClientSequenceNumber
	}
	return a.DocID < b.DocID
}

// CeilingResult is the bare batched transaction loop: what the emulator
// allows one session's sequencing at best.
type CeilingResult struct {
	Transactions    int     `json:"transactions"`
	Batch           int     `json:"batch"`
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"eventsPerSecond"`
}

// runCeiling runs transactions one after another, uncontended, each
// reading a counter document and writing batch new documents shaped like
// decided events plus the counter: the sequencer's transaction without its
// queries, validation or concurrency.
func runCeiling(ctx context.Context, st *stack, txs, batch int, prog *progress) (CeilingResult, error) {
	res := CeilingResult{Transactions: txs, Batch: batch}
	counter := st.direct.Collection("bench_ceiling").Doc(newID("c"))
	docs := counter.Collection("docs")
	prog.setTotal(int64(txs * batch))
	start := time.Now()
	for range txs {
		err := st.direct.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
			var n int64
			snap, err := tx.Get(counter)
			switch {
			case status.Code(err) == codes.NotFound:
			case err != nil:
				return err
			default:
				n, _ = snap.Data()["n"].(int64)
			}
			for j := range int64(batch) {
				if err := tx.Create(docs.Doc(fmt.Sprintf("d%08d", n+j)), map[string]any{
					"status": model.EventAccepted, "sequenceNumber": n + j + 1, "sequencedAt": firestore.ServerTimestamp,
				}); err != nil {
					return err
				}
			}
			return tx.Set(counter, map[string]any{"n": n + int64(batch), "lastActivityAt": firestore.ServerTimestamp})
		})
		if err != nil {
			return res, fmt.Errorf("ceiling transaction: %w", err)
		}
		prog.add(int64(batch))
	}
	res.Seconds = time.Since(start).Seconds()
	res.EventsPerSecond = float64(txs*batch) / res.Seconds
	return res, nil
}

// EndToEndResult is one session's throughput through the Firestore
// emulator's own trigger delivery and the functions host.
type EndToEndResult struct {
	Writers         int     `json:"writers"`
	Events          int     `json:"events"`
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"eventsPerSecond"`
	Deliveries      int64   `json:"deliveries"`
	Accepted        int     `json:"accepted"`
	Rejected        int     `json:"rejected"`
	Lost            int     `json:"lost"`
}

// runEndToEnd writes n events from writers concurrent admin writers into
// one session of the functions' project and times until the session
// document says all are numbered: Firestore emulator -> trigger (one at a
// time) -> runner (concurrent deliveries) -> onEventCreated.
func runEndToEnd(ctx context.Context, st *stack, writers, n int, prog *progress) (EndToEndResult, error) {
	res := EndToEndResult{Writers: writers, Events: n}
	users := make([]string, writers)
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
	}
	sid, err := seedSession(ctx, st.writer, users...)
	if err != nil {
		return res, err
	}
	sessRef := st.listener.Collection(model.SessionsCollection).Doc(sid)
	before := st.local.Deliveries().Received
	prog.setTotal(int64(n))

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	it := sessRef.Snapshots(lctx)
	defer it.Stop()
	go func() {
		for {
			snap, err := it.Next()
			if err != nil {
				done <- err
				return
			}
			last, _ := snap.Data()["lastEventSequenceNumber"].(int64)
			prog.set(last)
			if last >= int64(n) {
				done <- nil
				return
			}
		}
	}()

	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for i := range next {
				id := fmt.Sprintf("e%06d", i)
				ev := clientEvent(id, users[w], int64(i))
				ev["createdAt"] = firestore.ServerTimestamp
				if _, err := eventsOf(st.writer, sid).Doc(id).Create(ctx, ev); err != nil {
					errs <- fmt.Errorf("write %s: %w", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	select {
	case err := <-done:
		if err != nil {
			return res, fmt.Errorf("session listener: %w", err)
		}
	case <-time.After(3 * time.Minute):
		return res, errors.New("end to end: not every event numbered within 3 minutes")
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.Seconds = time.Since(start).Seconds()
	res.EventsPerSecond = float64(n) / res.Seconds
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := st.local.WaitDeliveries(wctx); err != nil {
		return res, fmt.Errorf("wait for deliveries: %w", err)
	}
	res.Deliveries = st.local.Deliveries().Received - before
	if res.Accepted, res.Rejected, res.Lost, err = countOutcomes(ctx, st.writer, sid); err != nil {
		return res, err
	}
	return res, nil
}

// parallel runs f(0..n-1) with at most width at once and returns the first
// error.
func parallel(ctx context.Context, n, width int, f func(i int) error) error {
	sem := make(chan struct{}, width)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// LockProbe is the emulator's cross-session locking, shown with two bare
// transactions and none of the backend's code: each reads its own parent
// document and queries its own events subcollection, then updates those
// events and the parent, the shape of a sequencing run.
type LockProbe struct {
	SameProject ProbeRun `json:"sameProject"`
	TwoProjects ProbeRun `json:"twoProjects"`
}

// ProbeRun is the two transactions run at once: attempts in all (2 when
// neither waited for the other) and the time until both committed.
type ProbeRun struct {
	Attempts int     `json:"attempts"`
	Ms       float64 `json:"ms"`
}

func runLockProbe(ctx context.Context, st *stack) (LockProbe, error) {
	var res LockProbe
	other, err := firestore.NewClient(ctx, "demo-bench-lock")
	if err != nil {
		return res, fmt.Errorf("firestore client: %w", err)
	}
	defer other.Close()
	if res.SameProject, err = probeOnce(ctx, st.direct, st.direct); err != nil {
		return res, err
	}
	if res.TwoProjects, err = probeOnce(ctx, st.direct, other); err != nil {
		return res, err
	}
	return res, nil
}

func probeOnce(ctx context.Context, a, b *firestore.Client) (ProbeRun, error) {
	var parents []*firestore.DocumentRef
	for _, fs := range []*firestore.Client{a, b} {
		p := fs.Collection("bench_lock").Doc(newID("p"))
		if _, err := p.Set(ctx, map[string]any{"n": int64(0)}); err != nil {
			return ProbeRun{}, fmt.Errorf("lock probe: %w", err)
		}
		for i := range 20 {
			if _, err := p.Collection("events").Doc(fmt.Sprintf("e%03d", i)).Create(ctx, map[string]any{"createdAt": firestore.ServerTimestamp}); err != nil {
				return ProbeRun{}, fmt.Errorf("lock probe: %w", err)
			}
		}
		parents = append(parents, p)
	}
	var attempts atomic.Int64
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	start := time.Now()
	for i, fs := range []*firestore.Client{a, b} {
		p := parents[i]
		wg.Go(func() {
			errs <- fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
				attempts.Add(1)
				if _, err := tx.Get(p); err != nil {
					return err
				}
				docs, err := tx.Documents(p.Collection("events").OrderBy("createdAt", firestore.Asc).Limit(201)).GetAll()
				if err != nil {
					return err
				}
				// Both hold their reads before either writes, as two
				// sequencing runs on two busy sessions do.
				time.Sleep(50 * time.Millisecond)
				for _, d := range docs {
					if err := tx.Update(d.Ref, []firestore.Update{{Path: "status", Value: model.EventAccepted}}); err != nil {
						return err
					}
				}
				return tx.Update(p, []firestore.Update{{Path: "n", Value: int64(len(docs))}})
			}, firestore.MaxAttempts(5))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return ProbeRun{}, fmt.Errorf("lock probe transaction: %w", err)
		}
	}
	return ProbeRun{Attempts: int(attempts.Load()), Ms: ms(time.Since(start))}, nil
}
