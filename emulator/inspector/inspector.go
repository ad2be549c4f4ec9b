// Package inspector is the local stack's inspector: a web page, served by
// the runner on 127.0.0.1 only and never deployed, that shows what the
// backend is doing and changes the local runner's delivery while it runs
// (the seed's DebugConfig, live).
//
// # What it shows
//
// Calls and their sessions; for a session its status, owner, participants
// with the age of their last heartbeat and who would be removed next, and
// lastEventSequenceNumber; its events in sequence order (pending and
// rejected ones apart, system events marked); the snapshot, the current
// state (snapshot + events folded with the experience's own reducer) and
// the state at any earlier number; the runner's delivery counters and the
// messages published per topic. The page is updated by server-sent events.
//
// # What it changes
//
// It reads Firestore and the runner's counters. Its controls act on the
// runner only (the delivery faults, the functions' PUBLISH_EVENTS) or call
// a scheduled function as Cloud Scheduler would: it writes nothing to the
// data but through the functions.
//
// # Security
//
// The page has controls and no sign-in, so it listens on the loopback
// address only (Listen), answers only requests addressed to a loopback
// host name (against DNS rebinding), and takes its controls as JSON POSTs
// (a cross-site form cannot send one without a CORS preflight, which it
// never grants).
package inspector

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/shared/config"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
)

// Runner is what the inspector needs of the local runner (*emulator.Local).
type Runner interface {
	// Deliveries and Published are the counters.
	Deliveries() emulator.DeliveryStats
	Published() map[string]int64
	// Faults and SetFaults read and change trigger delivery.
	Faults() emulator.Faults
	SetFaults(emulator.Faults)
	// Schedules and RunSchedule run a scheduled function now.
	Schedules() []string
	RunSchedule(ctx context.Context, name string) ([]byte, error)
	// FunctionsEnv and SetFunctionsEnv read and change a setting of the
	// functions (the host is rolled over to read it).
	FunctionsEnv(key string) (string, bool)
	SetFunctionsEnv(ctx context.Context, key, value string) error
}

// Options are the inspector's optional settings; nil means defaults.
type Options struct {
	// ProjectID is shown in the page's title.
	ProjectID string
	// Registry folds the events (default experiences.Default()).
	Registry *experiences.Registry
	// Poll is how often a page's data is read again (default 500 ms).
	Poll   time.Duration
	Logger *slog.Logger
}

// Server serves the inspector.
type Server struct {
	fs     *firestore.Client
	runner Runner
	opts   Options
	mux    *http.ServeMux
}

// fanOutVar is the functions' setting of the Pub/Sub fan-out.
const fanOutVar = "PUBLISH_EVENTS"

//go:embed static
var static embed.FS

// New returns an inspector that reads Firestore through client (an admin
// client on the emulator) and shows and controls runner.
func New(client *firestore.Client, runner Runner, opts *Options) *Server {
	s := &Server{fs: client, runner: runner}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Registry == nil {
		s.opts.Registry = experiences.Default()
	}
	if s.opts.Poll <= 0 {
		s.opts.Poll = 500 * time.Millisecond
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.Default()
	}
	s.mux = http.NewServeMux()
	files, _ := fs.Sub(static, "static")
	s.mux.Handle("GET /", http.FileServerFS(files))
	s.mux.Handle("GET /api/overview", s.api(s.overview))
	s.mux.Handle("GET /api/sessions/{id}", s.api(s.sessionView))
	s.mux.Handle("GET /api/sessions/{id}/state", s.api(s.stateView))
	s.mux.HandleFunc("GET /api/stream", s.stream)
	s.mux.Handle("POST /api/faults", s.api(s.setFaults))
	s.mux.Handle("POST /api/fanout", s.api(s.setFanOut))
	s.mux.Handle("POST /api/schedules/{name}", s.api(s.runSchedule))
	return s
}

// Listen opens the inspector's port on the loopback address: whatever the
// emulators bind to, the inspector's controls stay on this machine.
func Listen(port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("inspector port %d: %w", port, err)
	}
	return ln, nil
}

// ServeHTTP answers only requests addressed to a loopback name.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		http.Error(w, "the inspector answers on 127.0.0.1 or localhost only", http.StatusMisdirectedRequest)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// httpError carries the status a handler chose.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// api turns a handler's value or error into one JSON answer.
func (s *Server) api(h func(*http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				http.Error(w, "controls take application/json", http.StatusUnsupportedMediaType)
				return
			}
		}
		v, err := h(r)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			code, msg := http.StatusInternalServerError, err.Error()
			var he *httpError
			switch {
			case errors.As(err, &he):
				code = he.code
			case errors.Is(err, errNoSession):
				code = http.StatusNotFound
			default:
				s.opts.Logger.WarnContext(r.Context(), "inspector", "path", r.URL.Path, "error", msg)
			}
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	})
}

// Overview is the page's header and list.
type Overview struct {
	ProjectID  string                 `json:"projectId"`
	Faults     FaultsJSON             `json:"faults"`
	FaultsText string                 `json:"faultsText"`
	FanOut     bool                   `json:"fanOut"`
	Deliveries emulator.DeliveryStats `json:"deliveries"`
	Published  map[string]int64       `json:"published"`
	Schedules  []string               `json:"schedules"`
	Calls      []Call                 `json:"calls"`
}

func (s *Server) overview(r *http.Request) (any, error) { return s.readOverview(r.Context()) }

func (s *Server) readOverview(ctx context.Context) (Overview, error) {
	calls, err := readCalls(ctx, s.fs)
	if err != nil {
		return Overview{}, err
	}
	f := s.runner.Faults()
	return Overview{
		ProjectID: s.opts.ProjectID, Faults: toJSON(f), FaultsText: f.String(), FanOut: s.fanOut(),
		Deliveries: s.runner.Deliveries(), Published: s.runner.Published(), Schedules: s.runner.Schedules(),
		Calls: calls,
	}, nil
}

func (s *Server) fanOut() bool {
	v, ok := s.runner.FunctionsEnv(fanOutVar)
	if !ok || v == "" {
		return config.Default().PublishEvents
	}
	on, err := strconv.ParseBool(v)
	return err == nil && on
}

// presenceGrace is the functions' PRESENCE_GRACE, to say who would be
// removed next.
func (s *Server) presenceGrace() time.Duration {
	if v, ok := s.runner.FunctionsEnv("PRESENCE_GRACE"); ok {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return config.Default().PresenceGrace
}

// SessionView is one session's page.
type SessionView struct {
	Session      SessionSummary `json:"session"`
	Participants []Participant  `json:"participants"`
	GraceMs      int64          `json:"graceMs"`
	Stream       Stream         `json:"stream"`
	// Snapshot is the snapshot's state, nil before the first compaction.
	Snapshot *StateView `json:"snapshot"`
	// Current is snapshot + the accepted events after it.
	Current      *StateView `json:"current"`
	CurrentError string     `json:"currentError,omitempty"`
	// Earliest is the lowest number whose state can be shown.
	Earliest int64 `json:"earliest"`
}

func (s *Server) sessionView(r *http.Request) (any, error) {
	return s.readSessionView(r.Context(), r.PathValue("id"))
}

func (s *Server) readSessionView(ctx context.Context, id string) (SessionView, error) {
	d, err := readSession(ctx, s.fs, id)
	if err != nil {
		return SessionView{}, err
	}
	v := SessionView{
		Session:      d.session,
		Participants: Presence(d.session.Participants, d.session.OwnerID, d.lastSeen, s.presenceGrace()),
		GraceMs:      s.presenceGrace().Milliseconds(),
		Stream:       NewStream(d.events),
	}
	x, ok := s.opts.Registry.Lookup(d.session.ExperienceID)
	if !ok {
		v.CurrentError = fmt.Sprintf("unknown experience %q", d.session.ExperienceID)
		return v, nil
	}
	if d.snapshot != nil {
		if snap, err := StateAt(x, d.snapshot, nil, d.snapshot.LastEventSequenceNumber); err == nil {
			v.Snapshot = &snap
		}
	}
	v.Earliest = earliest(d.snapshot, v.Stream.Accepted)
	last := int64(0)
	if n := len(v.Stream.Accepted); n > 0 {
		last = v.Stream.Accepted[n-1].SequenceNumber
	}
	last = max(last, d.session.LastEventSequenceNumber)
	cur, err := StateAt(x, d.snapshot, v.Stream.Accepted, last)
	if err != nil {
		v.CurrentError = err.Error()
	} else {
		v.Current = &cur
	}
	return v, nil
}

// earliest is the lowest number StateAt can rebuild: 0 while every event
// from #1 is kept, else the snapshot's.
func earliest(snap *Snapshot, accepted []Event) int64 {
	if len(accepted) == 0 || accepted[0].SequenceNumber == 1 || snap == nil {
		return 0
	}
	return snap.LastEventSequenceNumber
}

func (s *Server) stateView(r *http.Request) (any, error) {
	at, err := strconv.ParseInt(r.URL.Query().Get("at"), 10, 64)
	if err != nil || at < 0 {
		return nil, badRequest("at: want a sequence number, got %q", r.URL.Query().Get("at"))
	}
	d, err := readSession(r.Context(), s.fs, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	x, ok := s.opts.Registry.Lookup(d.session.ExperienceID)
	if !ok {
		return nil, badRequest("unknown experience %q", d.session.ExperienceID)
	}
	v, err := StateAt(x, d.snapshot, NewStream(d.events).Accepted, at)
	if errors.Is(err, ErrPruned) {
		return nil, &httpError{http.StatusConflict, err.Error()}
	}
	return v, err
}

// stream sends the overview and, with ?session=, that session's view,
// each time either changes.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	session := r.URL.Query().Get("session")
	var lastOverview, lastSession []byte
	send := func(name string, v any, last *[]byte) bool {
		b, err := json.Marshal(v)
		if err != nil || bytes.Equal(b, *last) {
			return err == nil
		}
		*last = b
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	tick := time.NewTicker(s.opts.Poll)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		ov, err := s.readOverview(ctx)
		if err != nil {
			send("problem", map[string]string{"error": err.Error()}, new([]byte))
		} else if !send("overview", ov, &lastOverview) {
			cancel()
			return
		}
		if session != "" {
			sv, err := s.readSessionView(ctx, session)
			if err != nil {
				send("problem", map[string]string{"error": err.Error()}, new([]byte))
			} else if !send("session", sv, &lastSession) {
				cancel()
				return
			}
		}
		cancel()
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// FaultsJSON is emulator.Faults for the page, durations in milliseconds.
type FaultsJSON struct {
	Concurrency     int     `json:"concurrency"`
	Copies          int     `json:"copies"`
	DuplicateRate   float64 `json:"duplicateRate"`
	DropRate        float64 `json:"dropRate"`
	ReorderWindowMs int64   `json:"reorderWindowMs"`
	MinLatencyMs    int64   `json:"minLatencyMs"`
	MaxLatencyMs    int64   `json:"maxLatencyMs"`
	MaxAttempts     int     `json:"maxAttempts"`
	MinBackoffMs    int64   `json:"minBackoffMs"`
	MaxBackoffMs    int64   `json:"maxBackoffMs"`
}

func toJSON(f emulator.Faults) FaultsJSON {
	return FaultsJSON{
		Concurrency: f.Concurrency, Copies: f.Copies, DuplicateRate: f.DuplicateRate, DropRate: f.DropRate,
		ReorderWindowMs: f.ReorderWindow.Milliseconds(), MinLatencyMs: f.MinLatency.Milliseconds(),
		MaxLatencyMs: f.MaxLatency.Milliseconds(), MaxAttempts: f.MaxAttempts,
		MinBackoffMs: f.MinBackoff.Milliseconds(), MaxBackoffMs: f.MaxBackoff.Milliseconds(),
	}
}

// maxConcurrency is the dispatcher's bound on Faults.Concurrency.
const maxConcurrency = 128

func (j FaultsJSON) faults(seed int64) (emulator.Faults, error) {
	ms := func(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
	switch {
	case j.Concurrency < 1 || j.Concurrency > maxConcurrency:
		return emulator.Faults{}, badRequest("concurrency: 1 to %d", maxConcurrency)
	case j.Copies < 1, j.MaxAttempts < 1:
		return emulator.Faults{}, badRequest("copies and attempts: at least 1")
	case j.DuplicateRate < 0 || j.DuplicateRate > 1, j.DropRate < 0 || j.DropRate > 1:
		return emulator.Faults{}, badRequest("rates: 0 to 1")
	case j.ReorderWindowMs < 0, j.MinLatencyMs < 0, j.MaxLatencyMs < j.MinLatencyMs, j.MinBackoffMs < 0, j.MaxBackoffMs < j.MinBackoffMs:
		return emulator.Faults{}, badRequest("durations: not negative, min <= max")
	}
	return emulator.Faults{
		Concurrency: j.Concurrency, Copies: j.Copies, DuplicateRate: j.DuplicateRate, DropRate: j.DropRate,
		ReorderWindow: ms(j.ReorderWindowMs), MinLatency: ms(j.MinLatencyMs), MaxLatency: ms(j.MaxLatencyMs),
		MaxAttempts: j.MaxAttempts, MinBackoff: ms(j.MinBackoffMs), MaxBackoff: ms(j.MaxBackoffMs), Seed: seed,
	}, nil
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("body: %v", err)
	}
	return nil
}

func (s *Server) setFaults(r *http.Request) (any, error) {
	var j FaultsJSON
	if err := decodeBody(r, &j); err != nil {
		return nil, err
	}
	f, err := j.faults(s.runner.Faults().Seed)
	if err != nil {
		return nil, err
	}
	s.runner.SetFaults(f)
	s.opts.Logger.InfoContext(r.Context(), "inspector: delivery faults changed", "faults", f.String())
	got := s.runner.Faults()
	return map[string]any{"faults": toJSON(got), "faultsText": got.String()}, nil
}

func (s *Server) setFanOut(r *http.Request) (any, error) {
	var body struct {
		On *bool `json:"on"`
	}
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if body.On == nil {
		return nil, badRequest(`want {"on": true|false}`)
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	if err := s.runner.SetFunctionsEnv(ctx, fanOutVar, strconv.FormatBool(*body.On)); err != nil {
		return nil, fmt.Errorf("roll the functions host over: %w", err)
	}
	s.opts.Logger.InfoContext(r.Context(), "inspector: fan-out changed", fanOutVar, *body.On)
	return map[string]bool{"fanOut": s.fanOut()}, nil
}

func (s *Server) runSchedule(r *http.Request) (any, error) {
	name := r.PathValue("name")
	known := false
	for _, n := range s.runner.Schedules() {
		known = known || n == name
	}
	if !known {
		return nil, &httpError{http.StatusNotFound, fmt.Sprintf("no scheduled function %q", name)}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	body, err := s.runner.RunSchedule(ctx, name)
	if err != nil {
		return nil, &httpError{http.StatusBadGateway, err.Error()}
	}
	var result any = string(body)
	if json.Valid(body) {
		result = json.RawMessage(body)
	}
	return map[string]any{"function": name, "result": result}, nil
}
