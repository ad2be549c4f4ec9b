package callable

import (
	"context"
	stdjson "encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultHeartbeat is how long a streaming call may stay silent before the
// server writes a heartbeat: the Node server's DEFAULT_HEARTBEAT_SECONDS
// (firebase-functions src/common/providers/https.ts).
const DefaultHeartbeat = 30 * time.Second

// heartbeat is the Node server's keep-alive: an SSE comment, which every
// client skips (the JS SDK reads only "data: " lines).
var heartbeat = []byte(": ping\n\n")

// acceptsStreaming reports whether the caller asked for server-sent events,
// as httpsCallable(...).stream() does. The Node server compares the header
// with "text/event-stream" exactly; case and surrounding space are forgiven
// here, nothing else (a list of types gets plain JSON, as there).
func acceptsStreaming(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("Accept")), "text/event-stream")
}

// eventStream is the answer to a streaming call: 200, then "data: {json}"
// events (each chunk as {"message": ...}, last the {"result": ...} or
// {"error": ...} a plain call would get) and heartbeats in between. Writes
// come from the function's goroutine and the heartbeat's, hence the lock.
type eventStream struct {
	mu        sync.Mutex
	w         http.ResponseWriter
	rc        *http.ResponseController
	now       func() time.Time
	call      context.Context
	hangUp    context.CancelFunc
	begun     bool
	done      bool // the final event is written, or a write failed
	failed    bool // a write failed: the client is gone
	lastWrite time.Time
}

func newEventStream(w http.ResponseWriter, call context.Context, hangUp context.CancelFunc, now func() time.Time) *eventStream {
	return &eventStream{w: w, rc: http.NewResponseController(w), call: call, hangUp: hangUp, now: now}
}

// begin sends the status and headers, so the client's fetch resolves and
// the proxies in between see an event stream, before the function runs.
func (s *eventStream) begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beginLocked()
}

func (s *eventStream) beginLocked() {
	if s.begun {
		return
	}
	s.begun = true
	// The Node server sends no Content-Type; the SSE one lets proxies (and
	// httputil.ReverseProxy in the local runner) flush each event at once.
	s.w.Header().Set("Content-Type", "text/event-stream")
	s.w.Header().Set("Cache-Control", "no-cache")
	s.w.WriteHeader(http.StatusOK)
	s.flushLocked()
	s.lastWrite = s.now()
}

// writeLocked writes and flushes p at the time at; a failed write means
// the client is gone, so the call's context is cancelled and nothing more
// is written.
func (s *eventStream) writeLocked(p []byte, at time.Time) bool {
	s.beginLocked()
	if s.done {
		return false
	}
	if _, err := s.w.Write(p); err != nil {
		s.done, s.failed = true, true
		s.hangUp()
		return false
	}
	s.flushLocked()
	s.lastWrite = at
	return !s.done
}

func (s *eventStream) flushLocked() {
	// A writer that cannot flush (a wrapper without Unwrap) still delivers
	// every event, at the end; only a real failure ends the stream.
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.done, s.failed = true, true
		s.hangUp()
	}
}

// broken reports whether a write failed.
func (s *eventStream) broken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// event writes v as one "data:" event.
func (s *eventStream) event(v any) (bool, error) {
	b, err := stdjson.Marshal(v)
	if err != nil {
		return false, err
	}
	b = append(append([]byte("data: "), b...), '\n', '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeLocked(b, s.now()), nil
}

// chunk writes one {"message": v} event while the call is live.
func (s *eventStream) chunk(v any) (bool, error) {
	if s.call.Err() != nil {
		return false, nil
	}
	return s.event(map[string]any{"message": v})
}

// final writes the last event and closes the stream to further writes.
func (s *eventStream) final(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLocked(append(append([]byte("data: "), body...), '\n', '\n'), s.now())
	s.done = true
}

// ticker makes the ticks of the heartbeat loop; tests inject their own.
type ticker func(time.Duration) (ticks <-chan time.Time, stop func())

func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// heartbeats writes a heartbeat whenever the stream has been silent for
// every, as the Node server does (its timer restarts on each chunk), until
// the returned stop is called; stop returns once the loop has ended, so no
// heartbeat can follow the final event. every <= 0 means none.
func (s *eventStream) heartbeats(every time.Duration, newTicker ticker) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	// Checking four times an interval keeps the longest silence within
	// 1.25 intervals without a timer reset on every write.
	ticks, stopTicker := newTicker(max(every/4, time.Millisecond))
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-quit:
				return
			case at := <-ticks:
				// The tick's own time decides, so the decision does not
				// depend on when this goroutine gets to run.
				s.mu.Lock()
				if !s.done && at.Sub(s.lastWrite) >= every {
					s.writeLocked(heartbeat, at)
				}
				s.mu.Unlock()
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
		stopTicker()
	}
}
