package emulator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSupervisorRetriesATakenPort starts a host whose first free port is
// already taken: the supervisor must start it again on another port rather
// than fail (see StartStack). The host is this test binary, serving HTTP
// in TestHelperHost.
func TestSupervisorRetriesATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	self, err := os.Executable()
	require.NoError(t, err)
	script := filepath.Join(t.TempDir(), "host")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nexec \"$HELPER_BIN\" -test.run='^TestHelperHost$' -- \"$@\"\n"), 0o755))
	calls := 0
	s := &supervisor{
		name: "helper", out: io.Discard, dir: t.TempDir(), binary: script, host: loopbackHost,
		env: append(os.Environ(), "HELPER_BIN="+self, "EMULATOR_HELPER_HOST=1"),
		log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		freePort: func(host string) (int, error) {
			calls++
			if calls == 1 {
				return takenPort, nil
			}
			return FreePort(host)
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, s.start(ctx))
	defer s.stop(time.Second)
	u, release, err := s.wait(ctx)
	require.NoError(t, err)
	defer release()
	require.NotEqual(t, fmt.Sprint(takenPort), u.Port())
	resp, err := http.Get(u.String())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestHelperHost is the host TestSupervisorRetriesATakenPort runs: an HTTP
// server on the --host and --port it is given, which exits at once when
// the port is taken, as functions-framework does.
func TestHelperHost(t *testing.T) {
	if os.Getenv("EMULATOR_HELPER_HOST") != "1" {
		t.Skip("the helper process of TestSupervisorRetriesATakenPort")
	}
	var host, port string
	for _, a := range os.Args {
		if v, ok := strings.CutPrefix(a, "--host="); ok {
			host = v
		}
		if v, ok := strings.CutPrefix(a, "--port="); ok {
			port = v
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		os.Exit(3)
	}
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	os.Exit(0)
}
