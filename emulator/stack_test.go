package emulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
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
