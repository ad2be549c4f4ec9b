package events

import "sync"

// Stats counts what the sequencer did, from the code itself, so cost per
// event is measured rather than estimated.
type Stats struct {
	mu                  sync.Mutex
	Reads               int64 `json:"reads"`
	Writes              int64 `json:"writes"`
	SessionWrites       int64 `json:"sessionWrites"`
	Transactions        int64 `json:"transactions"`
	TransactionAttempts int64 `json:"transactionAttempts"`
	Decided             int64 `json:"decided"`
	Accepted            int64 `json:"accepted"`
	Published           int64 `json:"published"`
	CachedTriggers      int64 `json:"cachedTriggers"`
}

func (s *Stats) add(f func(*Stats)) {
	s.mu.Lock()
	f(s)
	s.mu.Unlock()
}

// Snapshot returns a copy of the counters.
func (s *Stats) Snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Reads: s.Reads, Writes: s.Writes, SessionWrites: s.SessionWrites,
		Transactions: s.Transactions, TransactionAttempts: s.TransactionAttempts,
		Decided: s.Decided, Accepted: s.Accepted, Published: s.Published, CachedTriggers: s.CachedTriggers,
	}
}
