package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// Distribution is a latency distribution in milliseconds.
type Distribution struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50Ms"`
	P95 float64 `json:"p95Ms"`
	P99 float64 `json:"p99Ms"`
	Min float64 `json:"minMs"`
	Max float64 `json:"maxMs"`
}

func distribution(samples []time.Duration) Distribution {
	if len(samples) == 0 {
		return Distribution{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	// Nearest rank: the smallest sample with at least p% at or below it.
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return ms(s[max(i, 0)])
	}
	return Distribution{N: len(s), P50: rank(50), P95: rank(95), P99: rank(99), Min: ms(s[0]), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// LatencyRow is one write -> listener path and its ratios to the floor.
type LatencyRow struct {
	Name string `json:"name"`
	How  string `json:"how"`
	Distribution
	RatioP50 float64 `json:"ratioP50"`
	RatioP95 float64 `json:"ratioP95"`
	RatioP99 float64 `json:"ratioP99"`
}

// LatencyResult is the floor and scenario 1.
type LatencyResult struct {
	Floor  LatencyRow   `json:"floor"`
	Rows   []LatencyRow `json:"rows"`
	Warmup int          `json:"warmup"`
	// Function is onEventCreated's own run time during these samples, from
	// the runner's invocation log (whole milliseconds): the sequencing
	// transaction, then the Pub/Sub publish. The event is visible to
	// listeners once the transaction commits, before the publish.
	Function Distribution `json:"onEventCreatedRun"`
}

// watcher tells when documents change in a query listener: the peer's
// side of every latency sample. The listener runs on its own client, so a
// write and its observation travel separate connections, as between two
// phones.
type watcher struct {
	mu      sync.Mutex
	waiting map[string]chan time.Time
	err     error
	stop    context.CancelFunc
	done    chan struct{}
}

// watch starts listening to q and returns once the listener has its first
// snapshot, so no later change can be missed.
func watch(ctx context.Context, q firestore.Query) (*watcher, error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &watcher{waiting: map[string]chan time.Time{}, stop: cancel, done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(w.done)
		it := q.Snapshots(ctx)
		defer it.Stop()
		first := true
		for {
			snap, err := it.Next()
			// The time is taken before anything else: this is when the
			// peer's SDK would hand the change to the app.
			at := time.Now()
			if err != nil {
				if first {
					ready <- err
				}
				w.mu.Lock()
				w.err = err
				for _, ch := range w.waiting {
					close(ch)
				}
				w.waiting = map[string]chan time.Time{}
				w.mu.Unlock()
				return
			}
			if first {
				first = false
				ready <- nil
			}
			w.mu.Lock()
			for _, ch := range snap.Changes {
				if ch.Kind == firestore.DocumentRemoved {
					continue
				}
				if c, ok := w.waiting[ch.Doc.Ref.ID]; ok {
					c <- at
					delete(w.waiting, ch.Doc.Ref.ID)
				}
			}
			w.mu.Unlock()
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			cancel()
			return nil, fmt.Errorf("listen: %w", err)
		}
		return w, nil
	case <-time.After(30 * time.Second):
		cancel()
		return nil, errors.New("listen: no first snapshot within 30 s")
	}
}

// expect registers interest in the next change of document id; call it
// before the write.
func (w *watcher) expect(id string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		close(ch)
		return ch
	}
	w.waiting[id] = ch
	return ch
}

func (w *watcher) forget(id string) {
	w.mu.Lock()
	delete(w.waiting, id)
	w.mu.Unlock()
}

func (w *watcher) close() {
	w.stop()
	<-w.done
}

// timeWrite runs write and returns how long until the watcher saw id.
func timeWrite(ctx context.Context, w *watcher, id string, write func() error) (time.Duration, error) {
	seen := w.expect(id)
	start := time.Now()
	if err := write(); err != nil {
		w.forget(id)
		return 0, err
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	select {
	case at, ok := <-seen:
		if !ok {
			return 0, fmt.Errorf("listener stopped: %w", w.err)
		}
		return at.Sub(start), nil
	case <-timeout.C:
		w.forget(id)
		return 0, fmt.Errorf("%s not seen by the listener within 30 s", id)
	case <-ctx.Done():
		w.forget(id)
		return 0, ctx.Err()
	}
}

// latencyPath is one kind of sample: a write and what the peer listens to.
type latencyPath struct {
	name, how string
	watcher   *watcher
	write     func(ctx context.Context, i int) (id string, do func() error)
	samples   []time.Duration
}

// runLatency measures the floor and scenario 1. The paths are sampled in
// rounds, one write at a time, in a new random order each round, so drift
// in the machine's load and the after-effects of one path on the next hit
// them all alike, and the ratios stay meaningful on a noisy machine.
func runLatency(ctx context.Context, st *stack, n, warmup int, prog *progress) (LatencyResult, error) {
	res := LatencyResult{Warmup: warmup}
	writer, err := st.signUp(ctx)
	if err != nil {
		return res, err
	}
	peer, err := st.signUp(ctx)
	if err != nil {
		return res, err
	}
	sid, err := seedSession(ctx, st.writer, writer.UID, peer.UID)
	if err != nil {
		return res, err
	}
	floorCol := st.writer.Collection("bench_floor").Doc(newID("run")).Collection("docs")
	events := eventsOf(st.writer, sid)
	presence := st.writer.Collection(model.SessionsCollection).Doc(sid).Collection(model.PresenceCollection)

	// The peer's queries: the floor's documents in order, and the events a
	// joiner listens to after joinSession (README, "Catching up"): only
	// accepted events have a sequenceNumber, so each appears there the
	// moment the server accepts it.
	floorW, err := watch(ctx, st.listener.Collection("bench_floor").Doc(floorCol.Parent.ID).Collection("docs").
		Where("n", ">", 0).OrderBy("n", firestore.Asc))
	if err != nil {
		return res, fmt.Errorf("floor listener: %w", err)
	}
	defer floorW.close()
	eventsW, err := watch(ctx, eventsOf(st.listener, sid).Where("sequenceNumber", ">", 0).OrderBy("sequenceNumber", firestore.Asc))
	if err != nil {
		return res, fmt.Errorf("events listener: %w", err)
	}
	defer eventsW.close()
	presenceW, err := watch(ctx, st.listener.Collection(model.SessionsCollection).Doc(sid).Collection(model.PresenceCollection).Query)
	if err != nil {
		return res, fmt.Errorf("presence listener: %w", err)
	}
	defer presenceW.close()

	paths := []*latencyPath{
		{
			name: "floor", how: "bare create (Go client, admin) seen by another Go client's query listener",
			watcher: floorW,
			write: func(ctx context.Context, i int) (string, func() error) {
				id := fmt.Sprintf("f%06d", i)
				return id, func() error {
					_, err := floorCol.Doc(id).Create(ctx, map[string]any{"n": int64(i + 1), "at": firestore.ServerTimestamp})
					return err
				}
			},
		},
		{
			name: "scenario 1: client event -> accepted",
			how: "signed-in user creates the event through the Firestore REST API (rules apply); trigger -> runner -> " +
				"onEventCreated sequences it; the peer's listener on events where sequenceNumber > 0 sees it",
			watcher: eventsW,
			write: func(ctx context.Context, i int) (string, func() error) {
				id := fmt.Sprintf("c%06d", i)
				return id, func() error {
					return st.clientWrite(ctx, writer.IDToken, relPath(events.Doc(id)), true,
						clientEvent(id, writer.UID, int64(i)), "createdAt")
				}
			},
		},
		{
			name: "scenario 1 (admin write) -> accepted",
			how:  "the same event created by the Go client (admin, no rules) as the floor writes: isolates the pipeline",
			write: func(ctx context.Context, i int) (string, func() error) {
				id := fmt.Sprintf("a%06d", i)
				return id, func() error {
					ev := clientEvent(id, writer.UID, int64(i))
					ev["createdAt"] = firestore.ServerTimestamp
					_, err := events.Doc(id).Create(ctx, ev)
					return err
				}
			},
			watcher: eventsW,
		},
		{
			name: "client write through the rules, no trigger",
			how:  "the signed-in user's presence heartbeat (REST, rules with one get()), seen by the listener: the client-write floor",
			write: func(ctx context.Context, _ int) (string, func() error) {
				return writer.UID, func() error {
					return st.clientWrite(ctx, writer.IDToken, relPath(presence.Doc(writer.UID)), false, map[string]any{}, "lastSeenAt")
				}
			},
			watcher: presenceW,
		},
	}
	logStart := st.logSize()
	prog.setTotal(int64((n + warmup) * len(paths)))
	for i := range n + warmup {
		// A new order every round: no path always follows the same one.
		for _, k := range rand.Perm(len(paths)) {
			p := paths[k]
			id, do := p.write(ctx, i)
			d, err := timeWrite(ctx, p.watcher, id, do)
			if err != nil {
				return res, fmt.Errorf("%s, sample %d: %w", p.name, i, err)
			}
			if i >= warmup {
				p.samples = append(p.samples, d)
			}
			prog.add(1)
		}
	}
	// Only the timed samples' invocations: the warm-up ones come first.
	runs := st.invocations(logStart, "onEventCreated")
	res.Function = distribution(runs[min(len(runs), 2*warmup):])
	floor := distribution(paths[0].samples)
	for i, p := range paths {
		d := distribution(p.samples)
		row := LatencyRow{Name: p.name, How: p.how, Distribution: d,
			RatioP50: d.P50 / floor.P50, RatioP95: d.P95 / floor.P95, RatioP99: d.P99 / floor.P99}
		if i == 0 {
			res.Floor = row
			continue
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

// relPath is ref's path inside the database, as the REST API names it.
func relPath(ref *firestore.DocumentRef) string {
	_, path, _ := strings.Cut(ref.Path, "/documents/")
	return path
}
