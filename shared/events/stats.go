package events

import "sync"

// Counters are what the sequencer did, counted by the code itself, so cost
// per event is measured rather than estimated.
type Counters struct {
	Reads               int64 `json:"reads"`
	Writes              int64 `json:"writes"`
	SessionWrites       int64 `json:"sessionWrites"`
	Transactions        int64 `json:"transactions"`
	TransactionAttempts int64 `json:"transactionAttempts"`
	Decided             int64 `json:"decided"`
	Accepted            int64 `json:"accepted"`
	Published           int64 `json:"published"`
	CachedTriggers      int64 `json:"cachedTriggers"`
	// ReadRoundTrips counts the reads a run waited for one after another
	// (reads made at the same time count once): with the transaction's
	// begin and commit, they are its latency.
	ReadRoundTrips int64 `json:"readRoundTrips"`
	// StaleViews counts runs that trusted this process's view of the
	// cursor (see cursorView) and found it moved by another instance.
	StaleViews int64 `json:"staleViews"`
	// HeldRuns counts runs that left events younger than Options.Settle
	// pending.
	HeldRuns int64 `json:"heldRuns"`
	// CarriedRuns counts committed runs that took the events their
	// triggers carried for the window without reading them (one count
	// aggregation instead), and CarriedMisses the counts that found other
	// than as many events as carried, after which the run read the window.
	CarriedRuns   int64 `json:"carriedRuns"`
	CarriedMisses int64 `json:"carriedMisses"`
	// LateEvents counts events decided behind the cursor, out of createdAt
	// order: none in production; on the emulator, writes held up for longer
	// than Options.Settle.
	LateEvents int64 `json:"lateEvents"`
}

// Stats accumulates Counters safely across goroutines.
type Stats struct {
	mu sync.Mutex
	c  Counters
}

func (s *Stats) add(f func(*Counters)) {
	s.mu.Lock()
	f(&s.c)
	s.mu.Unlock()
}

// Snapshot returns the counters so far.
func (s *Stats) Snapshot() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}
