package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
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
}

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

// alreadyExists recognises gcloud's ALREADY_EXISTS failures ("Resource
// already exists in the project", "Job ... already exists").
func alreadyExists(stderr string) bool {
	s := strings.ToLower(stderr)
	return strings.Contains(s, "already exists") || strings.Contains(s, "already_exists")
}
