package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Restart back-off of the functions host: Cloud Run replaces a crashed
// instance within seconds; a host that keeps crashing at start waits
// longer each time, up to maxRestartBackoff.
const (
	minRestartBackoff = 100 * time.Millisecond
	maxRestartBackoff = 5 * time.Second
	// A host that stayed up this long was healthy: its next crash restarts
	// it after minRestartBackoff again.
	healthyUptime    = 10 * time.Second
	hostStartTimeout = 30 * time.Second
)

// supervisor runs the functions host and replaces it when it exits without
// being told to, as Cloud Run replaces a crashed instance. Requests wait for
// a host to be up (ready) instead of failing while it is replaced, as Cloud
// Run queues requests during a cold start.
type supervisor struct {
	name   string
	out    io.Writer
	env    []string
	dir    string
	binary string
	host   string
	log    *slog.Logger
	// freePort chooses each host's port (default FreePort); tests hand
	// out a taken one.
	freePort func(host string) (int, error)

	mu       sync.Mutex
	proc     *proc
	url      *url.URL
	ready    chan struct{} // closed while a host is up
	restarts int64
	stopping bool
	// extra overrides env by key: settings changed at run time (setEnv),
	// applied to every host started from then on.
	extra map[string]string
	// calls counts the requests on the current host, so that a host
	// replaced on purpose (replace) finishes them before it stops.
	calls *sync.WaitGroup
	// replacing serialises replace calls.
	replacing sync.Mutex
	// replaced tells watch that the host it watches was swapped.
	replaced chan struct{}
	// retiring counts replaced hosts still finishing their requests.
	retiring sync.WaitGroup

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs the first host and waits until it answers; from then on the
// supervisor keeps one running until stop.
func (s *supervisor) start(ctx context.Context) error {
	s.ready = make(chan struct{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.done = make(chan struct{})
	s.replaced = make(chan struct{}, 1)
	s.calls = new(sync.WaitGroup)
	p, u, err := s.launch(ctx)
	// A host that exits before it answers most often lost its free port
	// to another process (see StartStack): each launch chooses another.
	for attempt := 1; attempt < startAttempts && errors.Is(err, errExitedEarly) && ctx.Err() == nil; attempt++ {
		s.log.Warn("functions host exited before it was ready; starting again on a fresh port", "error", err.Error(), "attempt", attempt)
		p, u, err = s.launch(ctx)
	}
	if err != nil {
		s.cancel()
		close(s.done)
		return err
	}
	s.mu.Lock()
	s.proc, s.url = p, u
	close(s.ready)
	s.mu.Unlock()
	go s.watch(p, time.Now())
	return nil
}

// launch starts one host on a free port and waits until it answers.
func (s *supervisor) launch(ctx context.Context) (*proc, *url.URL, error) {
	choose := s.freePort
	if choose == nil {
		choose = FreePort
	}
	port, err := choose(s.host)
	if err != nil {
		return nil, nil, err
	}
	u, _ := url.Parse("http://" + hostPort(s.host, port))
	env := append(s.environ(), fmt.Sprintf("PORT=%d", port))
	p, err := startProc(s.name, s.out, env, s.dir, s.binary, "--host="+s.host, fmt.Sprintf("--port=%d", port))
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, hostStartTimeout)
	defer cancel()
	// functions-framework serves only the functions: any answer means up.
	if err := waitHTTP(ctx, p, u.String(), true); err != nil {
		p.stop(time.Second)
		return nil, nil, err
	}
	return p, u, nil
}

// watch waits for the host to exit and, unless stop caused it, starts
// another one after a back-off, until one is up or the supervisor stops.
func (s *supervisor) watch(p *proc, started time.Time) {
	defer close(s.done)
	backoff := minRestartBackoff
	for {
		select {
		case <-p.done:
		case <-s.replaced:
			s.mu.Lock()
			p, started = s.proc, time.Now()
			s.mu.Unlock()
			continue
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			return
		}
		if s.proc != p { // replaced on purpose: watch the new one
			p = s.proc
			s.mu.Unlock()
			continue
		}
		s.ready = make(chan struct{})
		s.mu.Unlock()
		if time.Since(started) >= healthyUptime {
			backoff = minRestartBackoff
		}
		s.log.Warn("functions host exited; restarting", "error", fmt.Sprint(p.err), "backoffMs", backoff.Milliseconds())
		for {
			sleep(s.ctx, backoff)
			backoff = min(2*backoff, maxRestartBackoff)
			if s.ctx.Err() != nil {
				return
			}
			next, u, err := s.launch(s.ctx)
			if err != nil {
				s.log.Error("functions host restart failed", "error", err.Error())
				continue
			}
			s.mu.Lock()
			if s.stopping {
				s.mu.Unlock()
				next.stop(3 * time.Second)
				return
			}
			if s.proc != p { // a replace installed a host meanwhile
				p = s.proc
				s.mu.Unlock()
				next.stop(3 * time.Second)
				break
			}
			s.proc, s.url, p, started = next, u, next, time.Now()
			s.calls = new(sync.WaitGroup)
			s.restarts++
			close(s.ready)
			s.mu.Unlock()
			s.log.Info("functions host restarted", "url", u.String(), "restarts", s.Restarts())
			break
		}
	}
}

// replace starts a host with the current environment and, once it answers,
// sends every new request to it; the old host finishes the requests it has
// and stops. It is a new revision rolled out as Cloud Run does: no request
// fails for it.
func (s *supervisor) replace(ctx context.Context) error {
	s.replacing.Lock()
	defer s.replacing.Unlock()
	_, release, err := s.wait(ctx)
	if err != nil {
		return err
	}
	release()
	next, u, err := s.launch(ctx)
	if err != nil {
		return fmt.Errorf("start the new functions host: %w", err)
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		next.stop(3 * time.Second)
		return fmt.Errorf("functions host stopped")
	}
	// Whatever host is current goes, even one a crash restart installed
	// meanwhile; a restart still under way sees the swap and stands down.
	old, oldCalls := s.proc, s.calls
	s.proc, s.url, s.calls = next, u, new(sync.WaitGroup)
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
	s.mu.Unlock()
	select {
	case s.replaced <- struct{}{}:
	default:
	}
	s.retiring.Add(1)
	go func() {
		defer s.retiring.Done()
		oldCalls.Wait()
		old.stop(3 * time.Second)
	}()
	s.log.Info("functions host replaced", "url", u.String())
	return nil
}

// setEnv sets one variable for the hosts started from now on.
func (s *supervisor) setEnv(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.extra == nil {
		s.extra = map[string]string{}
	}
	s.extra[key] = value
}

// lookupEnv is a variable's value in the hosts' environment.
func (s *supervisor) lookupEnv(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.extra[key]; ok {
		return v, true
	}
	for i := len(s.env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(s.env[i], "="); k == key {
			return v, true
		}
	}
	return "", false
}

// environ is env with the run-time settings last, so they win.
func (s *supervisor) environ() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	env := append([]string(nil), s.env...)
	for k, v := range s.extra {
		env = append(env, k+"="+v)
	}
	return env
}

// wait returns the URL of a running host, waiting for one while the host
// is being replaced, until ctx ends. The caller calls release once its
// request to that host is over.
func (s *supervisor) wait(ctx context.Context) (_ *url.URL, release func(), _ error) {
	for {
		s.mu.Lock()
		ready, u, calls := s.ready, s.url, s.calls
		select {
		case <-ready:
			calls.Add(1)
			s.mu.Unlock()
			return u, calls.Done, nil
		default:
		}
		s.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("functions host not up: %w", context.Cause(ctx))
		case <-s.done:
			return nil, nil, fmt.Errorf("functions host stopped")
		}
	}
}

// kill sends SIGKILL to the current host's process group.
func (s *supervisor) kill() (int, error) {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return 0, fmt.Errorf("no functions host")
	}
	pgid := p.cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
		return 0, fmt.Errorf("kill functions host %d: %w", pgid, err)
	}
	return pgid, nil
}

// Restarts counts the hosts started to replace one that exited.
func (s *supervisor) Restarts() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// stop ends the supervision first, so that stopping the host is not taken
// for a crash, then the host.
func (s *supervisor) stop(grace time.Duration) {
	s.mu.Lock()
	s.stopping = true
	p := s.proc
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	if p != nil {
		p.stop(grace)
	}
	s.retiring.Wait()
}

// hostEnv is the functions host's environment, but for PORT.
func hostEnv(stack []string, region string, extra []string) []string {
	env := append(os.Environ(), stack...)
	env = append(env, "FUNCTION_REGION="+region, "FUNCTION_TARGET=")
	return append(env, extra...)
}
