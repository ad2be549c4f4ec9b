package emulator

import (
	"context"
	"math/rand"
	"sync"
	"time"
)

// delivery is one trigger to hand to a function.
type delivery struct {
	function string
	// retry: the function is declared with Retry, so a failed delivery is
	// attempted again (Faults.MaxAttempts).
	retry bool
	send  func(ctx context.Context, attempt int) error
}

// DeliveryStats counts what the dispatcher did.
type DeliveryStats struct {
	// Received counts triggers handed to the dispatcher.
	Received int64 `json:"received"`
	// Duplicated counts extra copies the fault injection added.
	Duplicated int64 `json:"duplicated"`
	// Dropped counts triggers the fault injection lost (DropRate).
	Dropped int64 `json:"dropped"`
	// Attempts counts HTTP deliveries, retries included.
	Attempts int64 `json:"attempts"`
	// Succeeded and Failed count deliveries by their final result.
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	// InFlight counts the deliveries being attempted now (retries and
	// their back-off included); Pending those received and not yet
	// finished: held for reordering, queued, or in flight.
	InFlight int64 `json:"inFlight"`
	Pending  int64 `json:"pending"`
	// HostRestarts counts the functions hosts started to replace one that
	// crashed (filled in by Local.Deliveries).
	HostRestarts int64 `json:"hostRestarts"`
}

// dispatcher delivers triggers asynchronously with the configured faults,
// like Eventarc: the sender gets an acknowledgement at once, and the
// function sees the deliveries concurrently, late, twice or reordered.
type dispatcher struct {
	queue chan delivery

	// active counts deliveries in flight, bounded by faults.Concurrency;
	// the worker pool is as large as the largest concurrency allowed, so
	// faults can change while running.
	active int
	slot   *sync.Cond

	mu      sync.Mutex
	faults  Faults
	rng     *rand.Rand
	stats   DeliveryStats
	pending int // received but not finished
	idle    *sync.Cond
	held    []delivery

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// maxConcurrency bounds Faults.Concurrency.
const maxConcurrency = 128

func newDispatcher(f Faults) *dispatcher {
	f = f.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	d := &dispatcher{
		faults: f,
		queue:  make(chan delivery, 1<<16),
		rng:    rand.New(rand.NewSource(f.Seed)),
		ctx:    ctx,
		cancel: cancel,
	}
	d.idle = sync.NewCond(&d.mu)
	d.slot = sync.NewCond(&d.mu)
	for range maxConcurrency {
		d.wg.Add(1)
		go d.worker()
	}
	return d
}

// setFaults changes the faults for deliveries not yet started.
func (d *dispatcher) setFaults(f Faults) {
	f = f.withDefaults()
	f.Concurrency = min(f.Concurrency, maxConcurrency)
	d.mu.Lock()
	d.faults = f
	d.rng = rand.New(rand.NewSource(f.Seed))
	d.slot.Broadcast()
	d.mu.Unlock()
}

// enqueue accepts a trigger; copies and reordering are decided here.
func (d *dispatcher) enqueue(dl delivery) {
	d.mu.Lock()
	d.stats.Received++
	if d.faults.DropRate > 0 && d.rng.Float64() < d.faults.DropRate {
		d.stats.Dropped++
		d.mu.Unlock()
		return
	}
	copies := d.faults.Copies
	if d.faults.DuplicateRate > 0 && d.rng.Float64() < d.faults.DuplicateRate {
		copies++
	}
	d.stats.Duplicated += int64(copies - 1)
	d.pending += copies
	if window := d.faults.ReorderWindow; window > 0 {
		startTimer := len(d.held) == 0
		for range copies {
			d.held = append(d.held, dl)
		}
		d.mu.Unlock()
		if startTimer {
			time.AfterFunc(window, d.release)
		}
		return
	}
	d.mu.Unlock()
	for range copies {
		d.queue <- dl
	}
}

// release sends the held deliveries in a shuffled order.
func (d *dispatcher) release() {
	d.mu.Lock()
	held := d.held
	d.held = nil
	d.rng.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
	d.mu.Unlock()
	for _, dl := range held {
		d.queue <- dl
	}
}

// worker takes a slot before taking a delivery, so that at concurrency 1
// deliveries leave in arrival order.
func (d *dispatcher) worker() {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		for d.active >= d.faults.Concurrency && d.ctx.Err() == nil {
			d.slot.Wait()
		}
		d.active++
		d.mu.Unlock()
		select {
		case <-d.ctx.Done():
			return
		case dl := <-d.queue:
			d.deliver(dl)
		}
		d.mu.Lock()
		d.active--
		d.slot.Signal()
		d.mu.Unlock()
	}
}

func (d *dispatcher) deliver(dl delivery) {
	ok := false
	d.mu.Lock()
	d.stats.InFlight++
	maxAttempts, backoff, maxBackoff := d.faults.MaxAttempts, d.faults.MinBackoff, d.faults.MaxBackoff
	d.mu.Unlock()
	if !dl.retry {
		maxAttempts = 1
	}
	for attempt := 1; attempt <= maxAttempts && d.ctx.Err() == nil; attempt++ {
		if lat := d.latency(); lat > 0 {
			sleep(d.ctx, lat)
		}
		d.mu.Lock()
		d.stats.Attempts++
		d.mu.Unlock()
		if err := dl.send(d.ctx, attempt); err == nil {
			ok = true
			break
		}
		if attempt < maxAttempts {
			sleep(d.ctx, backoff)
			backoff = min(2*backoff, maxBackoff)
		}
	}
	d.mu.Lock()
	if ok {
		d.stats.Succeeded++
	} else {
		d.stats.Failed++
	}
	d.stats.InFlight--
	d.pending--
	if d.pending == 0 {
		d.idle.Broadcast()
	}
	d.mu.Unlock()
}

func (d *dispatcher) latency() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.faults
	if f.MaxLatency <= 0 {
		return 0
	}
	return f.MinLatency + time.Duration(d.rng.Int63n(int64(f.MaxLatency-f.MinLatency)+1))
}

// Stats returns a copy of the counters.
func (d *dispatcher) Stats() DeliveryStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.Pending = int64(d.pending)
	return s
}

// currentFaults returns the faults in force, defaults filled in.
func (d *dispatcher) currentFaults() Faults {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.faults
}

// wait blocks until every received trigger was delivered or given up, or
// ctx ends.
func (d *dispatcher) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		d.mu.Lock()
		for d.pending > 0 && ctx.Err() == nil {
			d.idle.Wait()
		}
		d.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return ctx.Err()
	case <-ctx.Done():
		d.mu.Lock()
		d.idle.Broadcast()
		d.mu.Unlock()
		return ctx.Err()
	}
}

func (d *dispatcher) close() {
	d.cancel()
	d.mu.Lock()
	d.slot.Broadcast()
	d.mu.Unlock()
	d.wg.Wait()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
