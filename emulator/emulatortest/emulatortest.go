// Package emulatortest starts the local stack once per test package and
// gives tests what a client would have: users signed in through the Auth
// emulator, writes checked by firestore.rules, callable calls, and an admin
// Firestore client.
//
// # Use
//
//	var env *emulatortest.Env
//
//	func TestMain(m *testing.M) { os.Exit(emulatortest.Main(m, emulator.Options{}, &env)) }
//
//	func TestX(t *testing.T) { env.Require(t); ... }
//
// When the emulators cannot start, tests skip with a pointer to `make test`,
// unless EMULATORS_REQUIRED=1 (set by `make test` and CI), where that is a
// failure. Tests isolate themselves by unique ids (see ID), not by restarts.
package emulatortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/shared/callable"
)

// Env is a running stack seen from a test.
type Env struct {
	*emulator.Local
	// Admin is a Firestore client with admin rights (rules do not apply).
	Admin *firestore.Client
	// Callables calls the functions through the runner's front server.
	Callables *callable.Client
}

// Main starts the stack, points this process's Google Cloud clients at it
// (FIRESTORE_EMULATOR_HOST...), runs the tests and stops everything. It
// returns the exit code for os.Exit. opts.Faults is used as given (its
// zero value delivers one trigger at a time, once): tests choose their
// delivery, and never get `make run`'s emulator.ProductionFaults or the
// EMULATOR_* variables by default. opts.Logs, when set, gets a copy of the
// stack's output, besides the usual sink (see EMULATOR_LOGS).
func Main(m *testing.M, opts emulator.Options, env **Env) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("emulatortest: -short: emulator tests skipped")
		return m.Run()
	}
	if opts.ProjectID == "" {
		opts.ProjectID = "demo-test-" + ID("")[:8]
	}
	sink, kept := logSink()
	if opts.Logs != nil {
		// The caller's writer gets the stack's output too (to count some
		// lines, say), besides the usual sink.
		sink = io.MultiWriter(sink, opts.Logs)
	}
	opts.Logs = sink
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(opts.Logs, nil))
	}
	start := time.Now()
	local, err := startWithRetry(func(ctx context.Context) (*emulator.Local, error) { return emulator.Start(ctx, opts) })
	if err != nil {
		if errors.Is(err, emulator.ErrToolMissing) && os.Getenv("EMULATORS_REQUIRED") != "1" {
			fmt.Printf("emulatortest: emulator tests skipped: %v\n(run `make test`, which installs and starts what they need)\n", err)
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "emulatortest: cannot start the local stack: %v\n", err)
		return failed(kept)
	}
	defer local.Stop()
	fmt.Printf("emulatortest: stack up in %s (%s)\n", time.Since(start).Round(time.Millisecond), opts.ProjectID)
	exportEnv(local.Env())
	admin, err := firestore.NewClient(context.Background(), local.ProjectID)
	if err != nil {
		fmt.Fprintf(os.Stderr, "emulatortest: firestore client: %v\n", err)
		return failed(kept)
	}
	defer admin.Close()
	*env = &Env{
		Local:     local,
		Admin:     admin,
		Callables: &callable.Client{BaseURL: local.CallableURL("")},
	}
	return run(m, kept)
}

// run runs the tests and, when they fail, prints the end of the stack's
// log that was kept (nil: none was). A test that panics or passes
// -timeout ends the process inside m.Run, before anything is printed.
func run(m *testing.M, kept *tail) int {
	if code := m.Run(); code != 0 {
		return failed(kept)
	}
	return 0
}

// failed prints the end of the stack's log that was kept, and returns the
// exit code of a failure.
func failed(kept *tail) int {
	if kept != nil {
		kept.dump(os.Stderr)
	}
	return 1
}

// startWithRetry starts the stack, trying again with fresh ports when a
// start fails for another reason than a missing tool: free ports are picked
// before the emulators bind them, and a stack starting at the same moment
// in another test package can take one in between.
func startWithRetry[T any](start func(context.Context) (T, error)) (T, error) {
	var v T
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		v, err = start(ctx)
		cancel()
		if err == nil || errors.Is(err, emulator.ErrToolMissing) {
			return v, err
		}
		fmt.Fprintf(os.Stderr, "emulatortest: start attempt %d failed: %v\n", attempt, err)
	}
	return v, err
}

// exportEnv points this process's Google Cloud clients at the emulators.
func exportEnv(env []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
}

// MainStack is Main for packages that need the emulators but not the
// functions: no triggers are registered, so the tests drive the domain code
// themselves. *stack is nil when the emulators are not installed and
// EMULATORS_REQUIRED is not 1 (tests then skip).
func MainStack(m *testing.M, stack **emulator.Stack) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	root, err := emulator.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "emulatortest:", err)
		return 1
	}
	logs, kept := logSink()
	s, err := startWithRetry(func(ctx context.Context) (*emulator.Stack, error) {
		return emulator.StartStack(ctx, emulator.StackOptions{
			ProjectID: "demo-test-" + ID("")[:8],
			RulesPath: root + "/firestore.rules",
			NodeDir:   root + "/emulator",
			Logs:      logs,
		})
	})
	if err != nil {
		if errors.Is(err, emulator.ErrToolMissing) && os.Getenv("EMULATORS_REQUIRED") != "1" {
			fmt.Printf("emulatortest: emulator tests skipped: %v\n", err)
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "emulatortest: cannot start the emulators: %v\n", err)
		return failed(kept)
	}
	defer s.Stop()
	exportEnv(s.Env())
	*stack = s
	return run(m, kept)
}

// Firestore returns an admin Firestore client on stack, closed when the
// test ends; the test skips when stack is nil (emulators not running).
func Firestore(tb testing.TB, stack *emulator.Stack) *firestore.Client {
	tb.Helper()
	if stack == nil {
		tb.Skip("emulators not running: run `make test`")
	}
	fs, err := firestore.NewClient(context.Background(), stack.ProjectID)
	if err != nil {
		tb.Fatalf("firestore client: %v", err)
	}
	tb.Cleanup(func() { fs.Close() })
	return fs
}

// logSink keeps the children's output out of test output unless
// EMULATOR_LOGS names a file ("-" for stderr); unset, the end of it is
// kept for a failure to print (see tail).
func logSink() (io.Writer, *tail) {
	switch path := os.Getenv("EMULATOR_LOGS"); path {
	case "":
		t := newTail()
		return t, t
	case "-":
		return os.Stderr, nil
	default:
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return os.Stderr, nil
		}
		return f, nil
	}
}

// Require skips the test when the stack is not running.
func (e *Env) Require(t testing.TB) {
	t.Helper()
	if e == nil {
		t.Skip("emulators not running: run `make test`")
	}
}

// ID returns a unique id with the given prefix, to isolate tests sharing a
// stack.
func ID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
