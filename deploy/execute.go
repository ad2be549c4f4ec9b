package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/pajama-app/sharedexperiences/deploy/standin"
)

// Runner runs processes for [Execute]; the command-line tool uses os/exec,
// tests use fakes.
type Runner struct {
	// Run runs args with its output streamed to the user and also returns
	// what it wrote to standard error, so an "already exists" failure can be
	// told from others.
	Run func(ctx context.Context, args []string) (stderr string, err error)
	// Output runs args and returns its standard output.
	Output func(ctx context.Context, args []string) (string, error)
	// Log receives one header line per step.
	Log io.Writer
	// Wait waits before the attempt-th retry of a command whose failure
	// [Command.Retry] calls transient; nil retries at once.
	Wait func(ctx context.Context, attempt int) error
}

// retries is how many times a transient failure is retried.
const retries = 6

// Execute runs cmds in order and stops at the first failure.
func Execute(ctx context.Context, cmds []Command, r Runner) error {
	if err := CheckNoEmulatorEnv(cmds); err != nil {
		return err
	}
	for i, c := range cmds {
		step := fmt.Sprintf("step %d/%d", i+1, len(cmds))
		resolved, err := c.resolve(ctx, r)
		if err != nil {
			return fmt.Errorf("%s (%s): %w", step, c.Why, err)
		}
		fmt.Fprintf(r.Log, "==> %s: %s\n    %s\n", step, c.Why, Line(resolved.Args))
		stderr, err := r.Run(ctx, resolved.Args)
		for attempt := 1; err != nil && c.transient(stderr) && attempt <= retries; attempt++ {
			fmt.Fprintf(r.Log, "    not visible yet (new accounts and grants take a while to propagate); retry %d/%d\n", attempt, retries)
			if r.Wait != nil {
				if werr := r.Wait(ctx, attempt); werr != nil {
					return fmt.Errorf("%s (%s): %w", step, c.Why, werr)
				}
			}
			stderr, err = r.Run(ctx, resolved.Args)
		}
		if err == nil {
			continue
		}
		if c.IfExists == FailIfExists || !alreadyExists(stderr) {
			return fmt.Errorf("%s (%s): %w", step, c.Why, err)
		}
		if c.IfExists == SkipIfExists {
			fmt.Fprintf(r.Log, "    already exists; kept\n")
			continue
		}
		fmt.Fprintf(r.Log, "    already exists; updating\n    %s\n", Line(resolved.Update))
		if _, err := r.Run(ctx, resolved.Update); err != nil {
			return fmt.Errorf("%s (%s), update: %w", step, c.Why, err)
		}
	}
	return nil
}

// resolve runs c's lookups and substitutes their values.
func (c Command) resolve(ctx context.Context, r Runner) (Command, error) {
	values := make(map[string]string, len(c.Lookups))
	for _, l := range c.Lookups {
		out, err := r.Output(ctx, l.Args)
		if err != nil {
			return Command{}, fmt.Errorf("looking up %s with %s: %w", l.Placeholder, Line(l.Args), err)
		}
		v := strings.TrimSpace(out)
		if v == "" {
			return Command{}, fmt.Errorf("looking up %s with %s: %w", l.Placeholder, Line(l.Args), errEmptyLookup)
		}
		values[l.Placeholder] = v
	}
	return c.Resolve(values)
}

var errEmptyLookup = errors.New("empty output")

// Resolve returns c with every placeholder of its lookups replaced by its
// value in values. A placeholder without a value is an error: running a
// command with one would deploy the placeholder text.
func (c Command) Resolve(values map[string]string) (Command, error) {
	subst := func(args []string) ([]string, error) {
		if args == nil {
			return nil, nil
		}
		out := make([]string, len(args))
		for i, a := range args {
			for _, l := range c.Lookups {
				if !strings.Contains(a, l.Placeholder) {
					continue
				}
				v, ok := values[l.Placeholder]
				if !ok {
					return nil, fmt.Errorf("no value for %s", l.Placeholder)
				}
				a = strings.ReplaceAll(a, l.Placeholder, v)
			}
			out[i] = a
		}
		return out, nil
	}
	var err error
	r := c
	if r.Args, err = subst(c.Args); err != nil {
		return Command{}, err
	}
	if r.Update, err = subst(c.Update); err != nil {
		return Command{}, err
	}
	r.Lookups = nil
	return r, nil
}

// transient reports a failure c.Retry names as one that goes away.
func (c Command) transient(stderr string) bool {
	return c.Retry != "" && strings.Contains(strings.ToLower(stderr), c.Retry)
}

// alreadyExists recognises gcloud's ALREADY_EXISTS failures ("Resource
// already exists in the project", "Job ... already exists").
func alreadyExists(stderr string) bool {
	s := strings.ToLower(stderr)
	return strings.Contains(s, "already exists") || strings.Contains(s, "already_exists")
}

// ExecRunner runs commands as processes in root with env, streaming their
// output to stdout and stderr. No stdin: every command is non-interactive,
// and one that still asked would otherwise wait for an answer.
func ExecRunner(root string, env []string, stdout, stderr io.Writer) Runner {
	command := func(ctx context.Context, args []string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = root
		cmd.Env = env
		return cmd
	}
	return Runner{
		Run: func(ctx context.Context, args []string) (string, error) {
			cmd := command(ctx, args)
			var errText strings.Builder
			cmd.Stdout = stdout
			cmd.Stderr = io.MultiWriter(stderr, &errText)
			err := cmd.Run()
			return errText.String(), err
		},
		Output: func(ctx context.Context, args []string) (string, error) {
			cmd := command(ctx, args)
			cmd.Stderr = stderr
			out, err := cmd.Output()
			return string(out), err
		},
		Log: stdout,
		// IAM is eventually consistent: a new account can be unknown to a
		// grant for some seconds, rarely a minute or two.
		Wait: func(ctx context.Context, attempt int) error {
			select {
			case <-time.After(time.Duration(attempt) * 5 * time.Second):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
}

// Offline runs cmds against srv, a local stand-in for the Google APIs
// (package standin), instead of Google Cloud: the same gcloud and firebase
// processes, with their endpoints, credentials and configuration replaced
// through the environment. environ is the base environment (emulator
// variables are dropped from it as for a real deploy); dir holds the
// configuration the stand-in gives the clients.
func Offline(ctx context.Context, srv *standin.Server, root, dir string, environ []string, cmds []Command, stdout, stderr io.Writer) error {
	env, err := srv.Env(dir)
	if err != nil {
		return err
	}
	base, _ := ProcessEnv(environ)
	return Execute(ctx, cmds, ExecRunner(root, slices.Concat(base, env), stdout, stderr))
}
