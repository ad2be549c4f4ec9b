package emulator

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Faults recreates production's delivery conditions on the local stack. The
// Firestore emulator delivers one trigger at a time, in no set order, and
// never retries; Eventarc delivers concurrently, at least once, and retries
// a failed delivery when the function has retry on. The zero value delivers
// each trigger once, one at a time, as it arrives.
type Faults struct {
	// Concurrency is how many deliveries run at once (default 1).
	Concurrency int
	// Copies delivers every trigger this many times (default 1).
	Copies int
	// DuplicateRate is the probability (0..1) that a delivery is sent once
	// more than Copies.
	DuplicateRate float64
	// ReorderWindow holds deliveries this long and releases them shuffled.
	ReorderWindow time.Duration
	// MinLatency and MaxLatency add a uniformly random delay before each
	// delivery (the seed's pubSubLatency, server side).
	MinLatency, MaxLatency time.Duration
	// MaxAttempts retries a failed delivery (non-2xx or no answer) up to this
	// many attempts in all, with exponential back-off (default 1: no retry).
	MaxAttempts int
	// Seed makes the random choices repeatable (0: seeded from the clock).
	Seed int64
}

// FaultsFromEnv reads EMULATOR_* variables, for `make run`.
func FaultsFromEnv() (Faults, error) {
	var f Faults
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
	get("EMULATOR_REORDER_WINDOW", func(v string) (e error) { f.ReorderWindow, e = time.ParseDuration(v); return })
	get("EMULATOR_MIN_LATENCY", func(v string) (e error) { f.MinLatency, e = time.ParseDuration(v); return })
	get("EMULATOR_MAX_LATENCY", func(v string) (e error) { f.MaxLatency, e = time.ParseDuration(v); return })
	get("EMULATOR_MAX_ATTEMPTS", func(v string) (e error) { f.MaxAttempts, e = strconv.Atoi(v); return })
	get("EMULATOR_FAULT_SEED", func(v string) (e error) { f.Seed, e = strconv.ParseInt(v, 10, 64); return })
	return f, err
}

func (f Faults) withDefaults() Faults {
	if f.Concurrency <= 0 {
		f.Concurrency = 1
	}
	if f.Copies <= 0 {
		f.Copies = 1
	}
	if f.MaxAttempts <= 0 {
		f.MaxAttempts = 1
	}
	if f.MaxLatency < f.MinLatency {
		f.MaxLatency = f.MinLatency
	}
	if f.Seed == 0 {
		f.Seed = time.Now().UnixNano()
	}
	return f
}
