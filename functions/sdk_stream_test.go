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

// TestSDKStream runs emulator/smoke/stream.mjs: the Firebase JS SDK's
// httpsCallable(...).stream() against this package's stack must settle
// with the result on success and with the error's code on failure (a
// domain error and a decoding error), both in its data promise and in its
// stream. Before the callables answered server-sent events, neither
// settled.
func TestSDKStream(t *testing.T) {
	env.Require(t)
	root, err := emulator.ModuleRoot()
	require.NoError(t, err)
	node := requireSmokeTools(t, root)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("emulator", "smoke", "stream.mjs"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"PROJECT_ID="+env.ProjectID,
		"AUTH_EMULATOR_HOST="+env.AuthHost,
		"FIRESTORE_EMULATOR_HOST="+env.FirestoreHost,
		"FUNCTIONS_EMULATOR_URL="+env.FunctionsURL,
		"REGION="+env.Region,
	)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "stream client timed out:\n%s", out)
	require.NoError(t, err, "stream client failed (want exit 0):\n%s", out)
	t.Logf("stream client:\n%s", out)
}
