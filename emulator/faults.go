package emulator

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Faults recreates production's delivery conditions on the local stack. The
// Firestore emulator delivers one trigger at a time, in no set order, and
// never retries; Eventarc delivers concurrently, at least once, and retries
// a failed delivery when the function has retry on. The zero value delivers
// each trigger once, one at a time, as it arrives, and retries a failed
// delivery to a function declared with Retry as Eventarc does, on a faster
// clock (DefaultRetryAttempts, DefaultMinBackoff, DefaultMaxBackoff): what
// tests start from. `make run` starts from ProductionFaults.
type Faults struct {
	// Concurrency is how many deliveries run at once (default 1).
	Concurrency int
	// Copies delivers every trigger this many times (default 1).
	Copies int
	// DuplicateRate is the probability (0..1) that a delivery is sent once
	// more than Copies.
	DuplicateRate float64
	// DropRate is the probability (0..1) that a trigger is acknowledged
	// and never delivered: a trigger lost for good, as production can lose
	// one when retries run out. Only the pending-events sweep decides such
	// an event.
	DropRate float64
	// ReorderWindow holds deliveries this long and releases them shuffled.
	ReorderWindow time.Duration
	// MinLatency and MaxLatency add a uniformly random delay before each
	// delivery (the seed's pubSubLatency, server side).
	MinLatency, MaxLatency time.Duration
	// MaxAttempts bounds the attempts in all at delivering a trigger to a
	// function declared with Retry when it fails (non-2xx or no answer),
	// with exponential back-off from MinBackoff to MaxBackoff (default
	// DefaultRetryAttempts; 1 turns retries off). A function without Retry
	// gets one attempt, as on Eventarc.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait before each retry, doubled
	// after every failure (defaults DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Seed makes the random choices repeatable (0: seeded from the clock).
	Seed int64
}

// Eventarc retries a function deployed with --retry through its Pub/Sub
// subscription: exponential back-off from 10 s to 600 s, for as long as the
// message is retained (24 h). The local defaults keep the shape on a clock
// a hundred times faster and bounded, so a test waiting for its deliveries
// ends: 20 attempts span about 75 s, time enough for a crashed functions
// host to be replaced (a request waits for the replacement, besides).
const (
	DefaultRetryAttempts = 20
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 5 * time.Second
)

// ProductionFaults is `make run`'s delivery: production's conditions, so
// that the bugs only concurrency, duplicates or retries reveal show on a
// developer's machine. Eventarc delivers concurrently (Cloud Run scales
// out), at least once, and retries a function deployed with retry; the
// local stack does the same with ProductionConcurrency deliveries at once,
// one trigger in ProductionDuplicateRate delivered twice, and the retry
// defaults of Faults. Tests choose their own Faults (the zero value is the
// deterministic one-at-a-time delivery).
func ProductionFaults() Faults {
	return Faults{Concurrency: ProductionConcurrency, DuplicateRate: ProductionDuplicateRate}
}

// The concurrency and duplicate rate of ProductionFaults: enough in flight
// at once to interleave one session's triggers on two cores, and a
// duplicate every few dozen events, so one shows in the first minutes of
// use.
const (
	ProductionConcurrency   = 16
	ProductionDuplicateRate = 0.02
)

// FaultsFromEnv is ProductionFaults with the EMULATOR_* variables applied,
// for `make run`.
func FaultsFromEnv() (Faults, error) {
	f := ProductionFaults()
	var err error
	get := func(key string, parse func(string) error) {
		if v := os.Getenv(key); v != "" && err == nil {
			if perr := parse(v); perr != nil {
				err = fmt.Errorf("%s=%q: %v", key, v, perr)
			}
		}
	}
	get("EMULATOR_DELIVERY_CONCURRENCY", func(v string) (e error) { f.Concurrency, e = strconv.Atoi(v); return })
	get("EMULATOR_COPIES", func(v string) (e error) { f.Copies, e = strconv.Atoi(v); return })
	get("EMULATOR_DUPLICATE_RATE", func(v string) (e error) { f.DuplicateRate, e = strconv.ParseFloat(v, 64); return })
	get("EMULATOR_DROP_RATE", func(v string) (e error) { f.DropRate, e = strconv.ParseFloat(v, 64); return })
	get("EMULATOR_REORDER_WINDOW", func(v string) (e error) { f.ReorderWindow, e = time.ParseDuration(v); return })
	get("EMULATOR_MIN_LATENCY", func(v string) (e error) { f.MinLatency, e = time.ParseDuration(v); return })
	get("EMULATOR_MAX_LATENCY", func(v string) (e error) { f.MaxLatency, e = time.ParseDuration(v); return })
	get("EMULATOR_MAX_ATTEMPTS", func(v string) (e error) { f.MaxAttempts, e = strconv.Atoi(v); return })
	get("EMULATOR_MIN_BACKOFF", func(v string) (e error) { f.MinBackoff, e = time.ParseDuration(v); return })
	get("EMULATOR_MAX_BACKOFF", func(v string) (e error) { f.MaxBackoff, e = time.ParseDuration(v); return })
	get("EMULATOR_FAULT_SEED", func(v string) (e error) { f.Seed, e = strconv.ParseInt(v, 10, 64); return })
	return f, err
}

// String says in one line which delivery conditions are in force, for
// `make run`'s banner and the inspector.
func (f Faults) String() string {
	f = f.withDefaults()
	var b strings.Builder
	fmt.Fprintf(&b, "concurrency %d", f.Concurrency)
	switch {
	case f.Copies > 1:
		fmt.Fprintf(&b, ", every trigger %d times", f.Copies)
	case f.DuplicateRate > 0:
		fmt.Fprintf(&b, ", duplicates %g%%", 100*f.DuplicateRate)
	default:
		b.WriteString(", no duplicates")
	}
	if f.Copies > 1 && f.DuplicateRate > 0 {
		fmt.Fprintf(&b, " (+%g%% once more)", 100*f.DuplicateRate)
	}
	if f.MaxAttempts > 1 {
		fmt.Fprintf(&b, ", retries up to %d attempts (back-off %s to %s) for functions declared with retry",
			f.MaxAttempts, f.MinBackoff, f.MaxBackoff)
	} else {
		b.WriteString(", no retries")
	}
	if f.MaxLatency > 0 {
		fmt.Fprintf(&b, ", latency %s to %s", f.MinLatency, f.MaxLatency)
	}
	if f.ReorderWindow > 0 {
		fmt.Fprintf(&b, ", reorder window %s", f.ReorderWindow)
	}
	if f.DropRate > 0 {
		fmt.Fprintf(&b, ", drops %g%%", 100*f.DropRate)
	}
	return b.String()
}

func (f Faults) withDefaults() Faults {
	if f.Concurrency <= 0 {
		f.Concurrency = 1
	}
	if f.Copies <= 0 {
		f.Copies = 1
	}
	if f.MaxAttempts <= 0 {
		f.MaxAttempts = DefaultRetryAttempts
	}
	if f.MinBackoff <= 0 {
		f.MinBackoff = DefaultMinBackoff
	}
	if f.MaxBackoff <= 0 {
		f.MaxBackoff = DefaultMaxBackoff
	}
	if f.MaxBackoff < f.MinBackoff {
		f.MaxBackoff = f.MinBackoff
	}
	if f.MaxLatency < f.MinLatency {
		f.MaxLatency = f.MinLatency
	}
	if f.Seed == 0 {
		f.Seed = time.Now().UnixNano()
	}
	return f
}
