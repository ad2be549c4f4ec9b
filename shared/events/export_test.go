package events

// HoldLane takes sessionID's lane as a run would, so that the triggers
// called meanwhile queue behind it with their copies; release lets them
// go. For tests that need a burst decided by one run.
func (s *Sequencer) HoldLane(sessionID string) (release func()) {
	ln := s.lanes.acquire(sessionID, nil)
	ln.mu.Lock()
	return func() {
		ln.mu.Unlock()
		s.lanes.release(sessionID, ln, nil)
	}
}

// Carried is how many events the waiting triggers of sessionID carry.
func (s *Sequencer) Carried(sessionID string) int {
	s.lanes.mu.Lock()
	defer s.lanes.mu.Unlock()
	if ln, ok := s.lanes.m[sessionID]; ok {
		return len(ln.carried)
	}
	return 0
}

// Waiting is how many triggers wait on sessionID's lane, beside a
// HoldLane holder.
func (s *Sequencer) Waiting(sessionID string) int {
	s.lanes.mu.Lock()
	defer s.lanes.mu.Unlock()
	if ln, ok := s.lanes.m[sessionID]; ok {
		return ln.refs - 1
	}
	return 0
}
