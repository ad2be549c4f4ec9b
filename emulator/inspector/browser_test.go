package inspector_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	"github.com/pajama-app/sharedexperiences/emulator/inspector"
)

// env is the stack the browser test drives. Its delivery is the test's
// own: one at a time, once, no added latency, so the latency the page sets
// is the only delay measured.
var env *emulatortest.Env

func TestMain(m *testing.M) {
	os.Exit(emulatortest.Main(m, emulator.Options{Faults: emulator.Faults{Concurrency: 1}, PublishCounts: true}, &env))
}

var screenshot = flag.String("screenshot", "", "also write the page's screenshot to this file (the README's: ../../docs/inspector.png)")

// chromium is Debian's package, which `make test` installs.
const chromium = "/usr/bin/chromium"

// TestInspectorInBrowser runs browser_test.mjs: the Firebase JS SDK writes
// a session's events, and headless Chromium checks what the inspector
// shows of them and changes the delivery latency from the page.
func TestInspectorInBrowser(t *testing.T) {
	env.Require(t)
	root, err := emulator.ModuleRoot()
	require.NoError(t, err)
	node := requireTools(t, root)
	ctx := context.Background()
	local, admin := env.Local, env.Admin

	ln, err := inspector.Listen(0)
	require.NoError(t, err)
	srvCtx, stopSrv := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- inspector.New(admin, local, &inspector.Options{ProjectID: local.ProjectID, Poll: 200 * time.Millisecond}).Serve(srvCtx, ln)
	}()
	defer func() {
		stopSrv()
		require.NoError(t, <-served)
	}()

	shot := filepath.Join(t.TempDir(), "inspector.png")
	if *screenshot != "" {
		shot, err = filepath.Abs(*screenshot)
		require.NoError(t, err)
	}
	runCtx, cancelRun := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelRun()
	cmd := exec.CommandContext(runCtx, node, filepath.Join("emulator", "inspector", "browser_test.mjs"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"PROJECT_ID="+local.ProjectID,
		"AUTH_EMULATOR_HOST="+local.AuthHost,
		"FIRESTORE_EMULATOR_HOST="+local.FirestoreHost,
		"FUNCTIONS_EMULATOR_URL="+local.FunctionsURL,
		"REGION="+local.Region,
		"INSPECTOR_URL=http://"+ln.Addr().String(),
		"SCREENSHOT="+shot,
	)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	require.NoError(t, runCtx.Err(), "browser test timed out:\n%s", out)
	require.NoError(t, err, "browser test failed (want exit 0):\n%s", out)
	t.Logf("browser test (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	info, err := os.Stat(shot)
	require.NoError(t, err, "no screenshot")
	require.Positive(t, info.Size())

	t.Run("fan-out off rolls the host over, no call fails", func(t *testing.T) {
		u := env.NewUser(t)
		callID := emulatortest.ID("call")
		_, err := admin.Collection("calls").Doc(callID).Set(ctx, map[string]any{"members": []string{u.UID}})
		require.NoError(t, err)
		// Callables run while the host is replaced: the old host finishes
		// what it has, the new one takes the rest.
		stop := make(chan struct{})
		results := make(chan error, 1)
		go func() {
			calls := 0
			for {
				select {
				case <-stop:
					if calls == 0 {
						results <- errors.New("no call made during the roll-over")
						return
					}
					results <- nil
					return
				default:
				}
				var out struct{ Sessions []any }
				if err := env.Callables.Call(ctx, "discoverSessions", u.IDToken, map[string]any{"callId": callID}, &out); err != nil {
					results <- err
					return
				}
				calls++
			}
		}()
		body := strings.NewReader(`{"on": false}`)
		resp, err := http.Post("http://"+ln.Addr().String()+"/api/fanout", "application/json", body)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		close(stop)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
		require.JSONEq(t, `{"fanOut": false}`, string(b))
		require.NoError(t, <-results)
		v, _ := local.FunctionsEnv("PUBLISH_EVENTS")
		require.Equal(t, "false", v)
		require.Zero(t, local.Deliveries().HostRestarts, "a roll-over is not a crash")
	})
}

// requireTools returns node's path, skipping (or, with
// EMULATORS_REQUIRED=1, failing) when node, the npm packages or Chromium
// are missing.
func requireTools(t *testing.T, root string) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("EMULATORS_REQUIRED") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (run `make test`, which installs it)", args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found: %v", err)
	}
	for _, pkg := range []string{"firebase", "playwright-core"} {
		if _, err := os.Stat(filepath.Join(root, "emulator", "node_modules", pkg, "package.json")); err != nil {
			missing("npm package %s not installed: %v", pkg, err)
		}
	}
	if _, err := os.Stat(chromium); err != nil {
		missing("chromium not installed: %v", err)
	}
	return node
}
