package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// proc is a child started in its own process group, so that stopping it
// also stops what it spawned (the emulator launchers start java as a child).
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(name string, out io.Writer, env []string, dir string, argv ...string) (*proc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	// Setpgid: one signal to -pgid reaches the launcher and its java.
	// Pdeathsig: if this process dies without cleaning up, the kernel kills
	// the direct child instead of leaving it orphaned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the whole group, then SIGKILL after grace, and waits
// until every member is gone.
func (p *proc) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	// The leader may be gone while its children live on: kill the group
	// regardless, until no member is left.
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(-pgid, 0) == nil && time.Now().Before(deadline) {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		time.Sleep(50 * time.Millisecond)
	}
	<-p.done
}

// FreePort asks the kernel for a free TCP port on host. Another process may
// take it before it is used; callers start servers right away.
func FreePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers (2xx, or any status when anyStatus),
// the process exits, or ctx ends.
func waitHTTP(ctx context.Context, p *proc, url string, anyStatus bool) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if gone, err := p.exited(); gone {
			return fmt.Errorf("%s %w: %v", p.name, errExitedEarly, err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if anyStatus || resp.StatusCode/100 == 2 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %w", p.name, url, context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

var errNotFound = errors.New("not found")

// errExitedEarly reports a server that exited before it answered: on a port
// chosen free, most often because another process bound it first.
var errExitedEarly = errors.New("exited before it was ready")
