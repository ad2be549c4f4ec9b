// Command deploy deploys the backend: Firestore rules, indexes and TTL
// policies with the firebase CLI, then Pub/Sub topics, functions and
// scheduler jobs with gcloud, all derived from functions.Declarations.
//
// Usage (from the module root, as `make deploy` and `make deploy-dry-run` do):
//
//	go run ./functions/cmd/deploy [-project P] [-region R] [-location L]
//	    [-runtime go126] [-scheduler-sa SA] [-env KEY=VALUE]... [-dry-run]
//
// -dry-run prints every command and runs the offline checks without touching
// any project; without it the same checks run first and a failure stops the
// deploy before anything changes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // the schedule check must not depend on this machine's zoneinfo

	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/functions/deploy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, errUsage):
		// The flag package has already printed the problem and the usage.
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// envFlags collects repeated -env KEY=VALUE flags.
type envFlags map[string]string

func (e envFlags) String() string { return fmt.Sprint(map[string]string(e)) }

func (e envFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	e[k] = v
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	env := envFlags{}
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	project := fs.String("project", "", "Google Cloud project id (default: projects.default in .firebaserc)")
	region := fs.String("region", "us-central1", "region of the functions and scheduler jobs")
	location := fs.String("location", "nam5", "Firestore database location, where Eventarc Firestore triggers live")
	runtime := fs.String("runtime", "go126", "Cloud Functions Go runtime")
	schedulerSA := fs.String("scheduler-sa", "", "service account Cloud Scheduler calls as (default: scheduler@PROJECT.iam.gserviceaccount.com)")
	dryRun := fs.Bool("dry-run", false, "print the commands and run the offline checks; change nothing")
	fs.Var(env, "env", "extra KEY=VALUE for every function's environment (repeatable)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if *project == "" {
		if *project, err = deploy.DefaultProject(root); err != nil {
			return err
		}
	}
	// Refused before anything else so not even the checks suggest a deploy
	// to an emulator-only project is about to happen.
	if !*dryRun {
		if err := deploy.CheckLiveProject(*project); err != nil {
			return err
		}
	}
	if *schedulerSA == "" {
		*schedulerSA = "scheduler@" + *project + ".iam.gserviceaccount.com"
	}
	plan := deploy.Plan{
		Project:      *project,
		Region:       *region,
		Location:     *location,
		Runtime:      *runtime,
		SchedulerSA:  *schedulerSA,
		Env:          env,
		Declarations: functions.Declarations(),
		Topics:       functions.Topics(),
	}
	cmds, planErr := deploy.Commands(plan)

	if *dryRun {
		return dryRunReport(ctx, stdout, root, plan, cmds, planErr)
	}
	if planErr != nil {
		return planErr
	}
	if err := runChecks(ctx, stdout, root, plan); err != nil {
		return fmt.Errorf("nothing deployed: %w", err)
	}
	procEnv, dropped := deploy.ProcessEnv(os.Environ())
	if len(dropped) > 0 {
		fmt.Fprintf(stdout, "ignoring %s from this shell: the deploy talks to Google Cloud, not the emulators\n", strings.Join(dropped, ", "))
	}
	start := time.Now()
	if err := deploy.Execute(ctx, cmds, execRunner(root, procEnv, stdout, stderr)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deployed %d functions to %s in %s\n", len(plan.Declarations), plan.Project, time.Since(start).Round(time.Second))
	return nil
}

func dryRunReport(ctx context.Context, w io.Writer, root string, plan deploy.Plan, cmds []deploy.Command, planErr error) error {
	fmt.Fprintf(w, "# deploy plan: project=%s region=%s location=%s runtime=%s\n", plan.Project, plan.Region, plan.Location, plan.Runtime)
	if err := deploy.CheckLiveProject(plan.Project); err != nil {
		fmt.Fprintf(w, "# note: %v (fine for a dry run)\n", err)
	}
	if planErr != nil {
		fmt.Fprintf(w, "FAIL plan: %v\n", planErr)
	} else {
		fmt.Fprint(w, deploy.Script(cmds))
	}
	fmt.Fprintln(w)
	checksErr := runChecks(ctx, w, root, plan)
	return errors.Join(planErr, checksErr)
}

// runChecks prints PASS or FAIL for every check, running them all so one
// report shows every problem.
func runChecks(ctx context.Context, w io.Writer, root string, plan deploy.Plan) error {
	failed := 0
	for _, c := range deploy.Checks(root, plan) {
		if err := c.Run(ctx); err != nil {
			failed++
			fmt.Fprintf(w, "FAIL %s: %v\n", c.Name, err)
			continue
		}
		fmt.Fprintf(w, "PASS %s\n", c.Name)
	}
	if failed > 0 {
		return fmt.Errorf("%d offline check(s) failed", failed)
	}
	return nil
}

// moduleRoot finds the directory of the nearest go.mod: commands use
// --source=. and paths relative to it, wherever the tool is started.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod in this directory or above")
		}
		dir = parent
	}
}

func execRunner(root string, env []string, stdout, stderr io.Writer) deploy.Runner {
	command := func(ctx context.Context, args []string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = root
		cmd.Env = env
		// No stdin: every command is non-interactive, and one that still
		// asked would otherwise wait for an answer.
		return cmd
	}
	return deploy.Runner{
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
	}
}
