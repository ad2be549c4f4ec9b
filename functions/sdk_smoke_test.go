package functions_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator"
)

// TestSDKSmoke runs emulator/smoke/client.mjs, the official Firebase JS SDK
// unchanged, against this package's stack: what the Go tests reach through
// REST, an app reaches through connect*Emulator, and both must agree.
func TestSDKSmoke(t *testing.T) {
	env.Require(t)
	runSDKScript(t, "client.mjs", "smoke client")
}

// runSDKScript runs a Firebase JS SDK script of emulator/smoke against this
// package's stack and requires it to exit 0 within a minute.
func runSDKScript(t *testing.T, script, what string) {
	t.Helper()
	root, err := emulator.ModuleRoot()
	require.NoError(t, err)
	node := requireSmokeTools(t, root)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("emulator", "smoke", script))
	cmd.Dir = root
	// The test process's own FIRESTORE_EMULATOR_HOST etc. already point here,
	// but the script's variables are set explicitly so it cannot fall back
	// to `make run`'s ports, where another developer's stack may be up.
	cmd.Env = append(os.Environ(),
		"PROJECT_ID="+env.ProjectID,
		"AUTH_EMULATOR_HOST="+env.AuthHost,
		"FIRESTORE_EMULATOR_HOST="+env.FirestoreHost,
		"FUNCTIONS_EMULATOR_URL="+env.FunctionsURL,
		"REGION="+env.Region,
	)
	// Should the deadline kill node, Wait must not then block on its pipes.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "%s timed out:\n%s", what, out)
	require.NoError(t, err, "%s failed (want exit 0):\n%s", what, out)
	t.Logf("%s:\n%s", what, out)
}

// requireSmokeTools returns node's path, skipping (or, with
// EMULATORS_REQUIRED=1, failing) when node or the SDK is not installed.
func requireSmokeTools(t *testing.T, root string) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("EMULATORS_REQUIRED") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (run `make test`)", args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found: %v", err)
	}
	sdk := filepath.Join(root, "emulator", "node_modules", "firebase", "package.json")
	if _, err := os.Stat(sdk); err != nil {
		missing("Firebase JS SDK not installed: %v", err)
	}
	return node
}
