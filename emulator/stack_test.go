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
	root, err := ModuleRoot()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := StartStack(ctx, StackOptions{
		ProjectID: "demo-stack-test",
		RulesPath: filepath.Join(root, "firestore.rules"),
		NodeDir:   filepath.Join(root, "emulator"),
	})
	if errors.Is(err, ErrToolMissing) && os.Getenv("EMULATORS_REQUIRED") != "1" {
		t.Skipf("emulators not installed: %v (run `make test`)", err)
	}
	require.NoError(t, err)

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
	_, err = http.Get("http://" + s.FirestoreHost + "/")
	require.Error(t, err, "Firestore emulator still answering after Stop")
}
