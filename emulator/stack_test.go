package emulator

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStackStopLeavesNothing starts the real emulators and checks that Stop
// ends every process group, java children included.
func TestStackStopLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators")
	}
	s := startTestStack(t, StackOptions{ProjectID: "demo-stack-test"})

	for _, host := range []string{s.FirestoreHost, s.PubSubHost} {
		resp, err := http.Get("http://" + host + "/")
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, host)
	}
	var groups []int
	for _, p := range s.procs {
		groups = append(groups, p.cmd.Process.Pid)
		require.NoError(t, syscall.Kill(-p.cmd.Process.Pid, 0), "%s should be running", p.name)
	}

	s.Stop()
	for _, pgid := range groups {
		require.ErrorIs(t, syscall.Kill(-pgid, 0), syscall.ESRCH, "process group %d still has members", pgid)
	}
	_, err := http.Get("http://" + s.FirestoreHost + "/")
	require.Error(t, err, "Firestore emulator still answering after Stop")
}

// startTestStack starts the emulators with the project's rules, and skips
// the test when they are not installed (unless EMULATORS_REQUIRED=1). The
// caller stops the stack.
func startTestStack(t *testing.T, o StackOptions) *Stack {
	t.Helper()
	root, err := ModuleRoot()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o.RulesPath, o.NodeDir = filepath.Join(root, "firestore.rules"), filepath.Join(root, "emulator")
	s, err := StartStack(ctx, o)
	if errors.Is(err, ErrToolMissing) && os.Getenv("EMULATORS_REQUIRED") != "1" {
		t.Skipf("emulators not installed: %v (run `make test`)", err)
	}
	require.NoError(t, err)
	return s
}

// TestStackRetriesATakenPort starts the emulators with the Auth port it
// chooses already taken, as happens when another process binds a port in
// the seconds between FreePort and firebase-tools' own check (seen once in
// a bench run: "Port 46375 is not open on 127.0.0.1"). The stack must start
// on fresh ports instead of failing.
func TestStackRetriesATakenPort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	calls := 0
	s := startTestStack(t, StackOptions{ProjectID: "demo-stack-taken", freePort: func(host string) (int, error) {
		calls++
		if calls == 1 { // the Auth port, chosen first
			return takenPort, nil
		}
		return FreePort(host)
	}})
	defer s.Stop()
	require.NotEqual(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(takenPort)), s.AuthHost)
	resp, err := http.Get("http://" + s.AuthHost + "/emulator/v1/projects/demo-stack-taken/config")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
