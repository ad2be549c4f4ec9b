package emulator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
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

	mu       sync.Mutex
	proc     *proc
	url      *url.URL
	ready    chan struct{} // closed while a host is up
	restarts int64
	stopping bool

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
	p, u, err := s.launch(ctx)
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
	port, err := FreePort(s.host)
	if err != nil {
		return nil, nil, err
	}
	u, _ := url.Parse("http://" + hostPort(s.host, port))
	env := append(append([]string(nil), s.env...), fmt.Sprintf("PORT=%d", port))
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
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			return
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
			s.proc, s.url, p, started = next, u, next, time.Now()
			s.restarts++
			close(s.ready)
			s.mu.Unlock()
			s.log.Info("functions host restarted", "url", u.String(), "restarts", s.Restarts())
			break
		}
	}
}

// wait returns the URL of a running host, waiting for one while the host
// is being replaced, until ctx ends.
func (s *supervisor) wait(ctx context.Context) (*url.URL, error) {
	for {
		s.mu.Lock()
		ready, u := s.ready, s.url
		s.mu.Unlock()
		select {
		case <-ready:
			return u, nil
		default:
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("functions host not up: %w", context.Cause(ctx))
		case <-s.done:
			return nil, fmt.Errorf("functions host stopped")
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
}

// hostEnv is the functions host's environment, but for PORT.
func hostEnv(stack []string, region string, extra []string) []string {
	env := append(os.Environ(), stack...)
	env = append(env, "FUNCTION_REGION="+region, "FUNCTION_TARGET=")
	return append(env, extra...)
}
