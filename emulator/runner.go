package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/internal/workspace"
)

// Options configures a local stack. Zero values choose free ports and the
// defaults documented on each field.
type Options struct {
	// ProjectID must start with "demo-" (default demo-shared-experiences).
	ProjectID string
	// Region is the callable URL's region segment (default us-central1).
	Region string
	// Host for every server (default 127.0.0.1); Hosts overrides it per
	// server, as firebase.json's emulators.{name}.host do.
	Host  string
	Hosts Hosts
	// FunctionsPort is the runner's front server: callables at
	// /{project}/{region}/{name}, trigger deliveries, on-demand schedules.
	FunctionsPort                       int
	AuthPort, FirestorePort, PubSubPort int
	// Root is the module root: firestore.rules, emulator/node_modules and
	// the functions host's source (default: found from the working
	// directory upwards).
	Root string
	// FunctionsBinary is a prebuilt emulator/cmd/functions; empty builds it.
	FunctionsBinary string
	// FunctionsEnv adds variables to the functions' environment (their
	// configuration, e.g. STALE_SESSION_AFTER=1s).
	FunctionsEnv []string
	// Faults shapes trigger delivery.
	Faults Faults
	// Schedules runs scheduled functions on their cron (default off: tests
	// run them on demand with RunSchedule).
	Schedules bool
	// PublishCounts counts the messages published on each topic
	// (Local.Published), through one more subscription per topic.
	PublishCounts bool
	// Logs receives the children's output; Logger the runner's JSON lines.
	Logs   io.Writer
	Logger *slog.Logger
}

// Local is a running local stack: the emulators, the functions host and the
// runner that connects them as Google Cloud would.
type Local struct {
	*Stack
	// FunctionsURL is the front server's base URL (connectFunctionsEmulator).
	FunctionsURL string
	Region       string

	opts       Options
	log        *slog.Logger
	decls      map[string]functions.Declaration
	sup        *supervisor
	server     *http.Server
	dispatcher *dispatcher
	cron       *cron.Cron
	feeders    []*feeder
	published  *publishCounter
	client     *http.Client
	buildDir   string
	functions  Listener
}

// Start brings the whole stack up. Stop it with Stop, which leaves no
// process behind.
func Start(ctx context.Context, o Options) (_ *Local, err error) {
	if o.ProjectID == "" {
		o.ProjectID = "demo-shared-experiences"
	}
	if !strings.HasPrefix(o.ProjectID, "demo-") {
		return nil, fmt.Errorf("emulator: project %q must start with demo- (an emulator-only project)", o.ProjectID)
	}
	if o.Region == "" {
		o.Region = "us-central1"
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Logs == nil {
		o.Logs = os.Stderr
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if o.Root == "" {
		if o.Root, err = ModuleRoot(); err != nil {
			return nil, err
		}
	}
	l := &Local{
		Region:     o.Region,
		opts:       o,
		log:        o.Logger,
		decls:      map[string]functions.Declaration{},
		dispatcher: newDispatcher(o.Faults),
		client:     &http.Client{Timeout: 5 * time.Minute},
	}
	for _, d := range functions.Declarations() {
		l.decls[d.Name] = d
	}
	defer func() {
		if err != nil {
			l.Stop()
		}
	}()

	// The front server listens first: the Firestore emulator is told its
	// address at start-up.
	functionsHost := o.Hosts.withDefault(o.Host).Functions
	lns, err := listenAll(ctx, functionsHost, o.FunctionsPort)
	if err != nil {
		return nil, fmt.Errorf("functions port: %w", err)
	}
	front := lns[0].Addr().(*net.TCPAddr)
	frontAddr := connectHostPort(front.IP.String(), front.Port)
	l.FunctionsURL = "http://" + frontAddr
	l.functions = Listener{Name: "functions", Host: functionsHost, Port: front.Port}
	l.server = &http.Server{Handler: l.routes(), ReadHeaderTimeout: 10 * time.Second}
	for _, ln := range lns {
		go func() { _ = l.server.Serve(ln) }()
	}

	binary := o.FunctionsBinary
	built := make(chan error, 1)
	if binary == "" {
		if l.buildDir, err = os.MkdirTemp("", "sharedexp-functions-"); err != nil {
			return nil, err
		}
		binary = filepath.Join(l.buildDir, "functions")
		go func() { built <- buildFunctionsHost(ctx, o.Root, binary) }()
	} else {
		built <- nil
	}

	l.Stack, err = StartStack(ctx, StackOptions{
		ProjectID: o.ProjectID, Host: o.Host, Hosts: o.Hosts,
		AuthPort: o.AuthPort, FirestorePort: o.FirestorePort, PubSubPort: o.PubSubPort,
		RulesPath:     filepath.Join(o.Root, "firestore.rules"),
		FunctionsAddr: frontAddr,
		NodeDir:       filepath.Join(o.Root, "emulator"),
		Logs:          o.Logs,
	})
	if err != nil {
		return nil, err
	}
	if err := <-built; err != nil {
		return nil, err
	}
	if err := l.startHost(ctx, binary); err != nil {
		return nil, err
	}
	if err := l.registerTriggers(ctx); err != nil {
		return nil, err
	}
	if err := l.startPubSub(ctx); err != nil {
		return nil, err
	}
	if o.Schedules {
		if err := l.startCron(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Stop stops the runner, the functions host and the emulators.
func (l *Local) Stop() {
	if l.cron != nil {
		<-l.cron.Stop().Done()
	}
	for _, f := range l.feeders {
		f.stop()
	}
	if l.published != nil {
		l.published.stop()
	}
	if l.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = l.server.Shutdown(ctx)
		cancel()
	}
	l.dispatcher.close()
	if l.sup != nil {
		l.sup.stop(3 * time.Second)
	}
	if l.Stack != nil {
		l.Stack.Stop()
	}
	if l.buildDir != "" {
		_ = os.RemoveAll(l.buildDir)
	}
}

// Env is the stack's client environment plus the functions URL.
func (l *Local) Env() []string {
	return append(l.Stack.Env(), "FUNCTIONS_EMULATOR_URL="+l.FunctionsURL)
}

// Listeners are every server a client uses and where it listens.
func (l *Local) Listeners() []Listener { return append(l.Stack.Listeners(), l.functions) }

// CallableURL is the URL the client SDKs' connectFunctionsEmulator calls.
func (l *Local) CallableURL(name string) string {
	return fmt.Sprintf("%s/%s/%s/%s", l.FunctionsURL, l.ProjectID, l.Region, name)
}

// SetFaults changes how triggers are delivered from now on.
func (l *Local) SetFaults(f Faults) { l.dispatcher.setFaults(f) }

// Deliveries returns the trigger delivery counters and the functions
// host's restarts.
func (l *Local) Deliveries() DeliveryStats {
	s := l.dispatcher.Stats()
	if l.sup != nil {
		s.HostRestarts = l.sup.Restarts()
	}
	return s
}

// WaitDeliveries blocks until every trigger received so far was delivered.
func (l *Local) WaitDeliveries(ctx context.Context) error { return l.dispatcher.wait(ctx) }

// KillFunctionsHost kills the functions host's process group with SIGKILL,
// as a crash or an out-of-memory kill would, and returns the group id. The
// runner replaces the host, as Cloud Run replaces a crashed instance;
// Deliveries().HostRestarts counts the replacements.
func (l *Local) KillFunctionsHost() (int, error) { return l.sup.kill() }

// RunSchedule invokes a scheduled function now, as Cloud Scheduler would,
// and returns its response body.
func (l *Local) RunSchedule(ctx context.Context, name string) ([]byte, error) {
	d, ok := l.decls[name]
	if !ok || d.Kind != functions.Schedule {
		return nil, fmt.Errorf("%w: scheduled function %q", errNotFound, name)
	}
	return l.invoke(ctx, d, 1, func(host *url.URL) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodPost, host.JoinPath(name).String(), http.NoBody)
	})
}

// ModuleRoot finds go.mod from the working directory upwards.
func ModuleRoot() (string, error) { return workspace.ModuleRoot() }

// buildFunctionsHost compiles the process that serves every function, the
// way the Go buildpack's generated main does.
func buildFunctionsHost(ctx context.Context, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./emulator/cmd/functions")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build functions host: %v\n%s", err, b)
	}
	return nil
}

// startHost runs every function in one process on a private port, with the
// emulators' environment, as functions-framework-go serves them locally,
// under a supervisor that replaces it when it crashes.
func (l *Local) startHost(ctx context.Context, binary string) error {
	l.sup = &supervisor{
		name: "functions", out: prefixWriter(l.opts.Logs, "functions"),
		env: hostEnv(l.Stack.Env(), l.Region, l.opts.FunctionsEnv),
		dir: l.opts.Root, binary: binary, host: loopbackHost, log: l.log,
	}
	return l.sup.start(ctx)
}

// registerTriggers tells the Firestore emulator which documents trigger
// which function, as the Firebase functions emulator does for Node.
func (l *Local) registerTriggers(ctx context.Context) error {
	for _, d := range l.decls {
		if d.Kind != functions.FirestoreTrigger {
			continue
		}
		body, _ := json.Marshal(map[string]any{
			"eventType": d.EventType,
			"database":  "(default)",
			"namespace": "(default)",
			"document":  map[string]string{"value": d.Document, "matchType": "PATH_PATTERN"},
		})
		u := fmt.Sprintf("http://%s/emulator/v1/projects/%s/eventarcTrigger?eventarcTriggerId=%s",
			l.FirestoreHost, l.ProjectID, url.QueryEscape(d.Name))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := l.client.Do(req)
		if err != nil {
			return fmt.Errorf("register trigger %s: %w", d.Name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("register trigger %s: %s: %s", d.Name, resp.Status, b)
		}
	}
	return nil
}

func (l *Local) startCron() error {
	l.cron = cron.New()
	for _, d := range l.decls {
		if d.Kind != functions.Schedule {
			continue
		}
		spec := d.Cron
		if d.TimeZone != "" {
			spec = "CRON_TZ=" + d.TimeZone + " " + spec
		}
		name := d.Name
		if _, err := l.cron.AddFunc(spec, func() {
			_, _ = l.RunSchedule(context.Background(), name)
		}); err != nil {
			return fmt.Errorf("schedule %s (%q): %w", name, d.Cron, err)
		}
	}
	l.cron.Start()
	return nil
}

// routes is the front server: what the client SDKs and the Firestore
// emulator see.
func (l *Local) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /functions/projects/{project}/triggers/{trigger}", l.serveTrigger)
	mux.HandleFunc("POST /emulator/v1/schedules/{name}", l.serveSchedule)
	mux.HandleFunc("GET /emulator/v1/deliveries", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(l.Deliveries())
	})
	mux.HandleFunc("/{project}/{region}/{name}", l.serveCallable)
	return mux
}

// serveCallable proxies /{project}/{region}/{name} to the function, as the
// Firebase functions emulator does for connectFunctionsEmulator.
func (l *Local) serveCallable(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	d, ok := l.decls[name]
	if !ok || d.Kind != functions.Callable || r.PathValue("project") != l.ProjectID {
		http.Error(w, fmt.Sprintf("no callable function %q in project %q", name, r.PathValue("project")), http.StatusNotFound)
		return
	}
	start := time.Now()
	waitCtx, cancel := context.WithTimeout(r.Context(), hostWaitTimeout)
	host, release, err := l.sup.wait(waitCtx)
	cancel()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		l.logInvocation(r.Context(), d, 1, http.StatusServiceUnavailable, time.Since(start), err)
		return
	}
	defer release()
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(host)
		pr.Out.URL.Path = "/" + name
		pr.Out.URL.RawPath = ""
	}}
	proxy.ServeHTTP(rec, r)
	l.logInvocation(r.Context(), d, 1, rec.code, time.Since(start), nil)
}

// serveTrigger takes a delivery from the Firestore emulator and acknowledges
// it at once: the dispatcher delivers it as Eventarc would.
func (l *Local) serveTrigger(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("trigger")
	d, ok := l.decls[name]
	if !ok || d.Kind != functions.FirestoreTrigger {
		http.Error(w, "unknown trigger "+name, http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	header := r.Header.Clone()
	// The emulator sends the DocumentEventData protobuf as base64 text;
	// Eventarc sends the raw bytes, and so does the runner. A body that is
	// not base64 goes as it came, and the function refuses it as malformed.
	if raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(body))); err == nil {
		body = raw
	}
	l.dispatcher.enqueue(delivery{function: name, retry: d.Retry, send: func(ctx context.Context, attempt int) error {
		_, err := l.invoke(ctx, d, attempt, func(host *url.URL) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, host.JoinPath(name).String(), bytes.NewReader(body))
			if err == nil {
				copyCloudEventHeaders(req.Header, header)
			}
			return req, err
		})
		return err
	}})
	w.WriteHeader(http.StatusOK)
}

func (l *Local) serveSchedule(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("name"), ":run")
	if !ok {
		http.Error(w, "use POST /emulator/v1/schedules/{name}:run", http.StatusNotFound)
		return
	}
	body, err := l.RunSchedule(r.Context(), name)
	switch {
	case errors.Is(err, errNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadGateway)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

// hostWaitTimeout bounds how long a request waits for the functions host
// to be replaced after a crash before it fails (and, for an event, is
// retried).
const hostWaitTimeout = 2 * hostStartTimeout

// invoke sends one request to the functions host and logs it as one line.
// A non-2xx answer is an error, so the caller may retry.
func (l *Local) invoke(ctx context.Context, d functions.Declaration, attempt int, newReq func(host *url.URL) (*http.Request, error)) ([]byte, error) {
	start := time.Now()
	waitCtx, cancel := context.WithTimeout(ctx, hostWaitTimeout)
	host, release, err := l.sup.wait(waitCtx)
	cancel()
	if err != nil {
		l.logInvocation(ctx, d, attempt, 0, time.Since(start), err)
		return nil, err
	}
	defer release()
	req, err := newReq(host)
	if err != nil {
		return nil, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		l.logInvocation(ctx, d, attempt, 0, time.Since(start), err)
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode/100 != 2 {
		err = fmt.Errorf("%s answered %s: %s", d.Name, resp.Status, bytes.TrimSpace(body))
	}
	l.logInvocation(ctx, d, attempt, resp.StatusCode, time.Since(start), err)
	return body, err
}

func (l *Local) logInvocation(ctx context.Context, d functions.Declaration, attempt, code int, took time.Duration, err error) {
	attrs := []any{"function", d.Name, "kind", string(d.Kind), "attempt", attempt,
		"httpStatus", code, "latencyMs", took.Milliseconds()}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
		l.log.WarnContext(ctx, "invocation", attrs...)
		return
	}
	l.log.InfoContext(ctx, "invocation", attrs...)
}

// copyCloudEventHeaders keeps what makes a binary-mode CloudEvent. The
// Firestore emulator also sends ce-datacontenttype, which the CloudEvents
// HTTP binding carries in Content-Type only; sdk-go refuses such a request
// (functions.App.ServeCloudEvent answers it 400) without calling the
// function, so it is dropped here, as Eventarc's requests do not have it.
func copyCloudEventHeaders(dst, src http.Header) {
	for k, v := range src {
		lk := strings.ToLower(k)
		if lk == "ce-datacontenttype" {
			continue
		}
		if strings.HasPrefix(lk, "ce-") || lk == "content-type" {
			dst[k] = v
		}
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

// Unwrap lets the proxy flush through the recorder (http.ResponseController
// finds the Flusher underneath): a callable answering .stream() sends its
// heartbeats and chunks as they come, not all at the end.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}
