// Command deploy deploys the backend to a Google Cloud / Firebase project:
// it enables the APIs, creates the service accounts and grants their roles,
// deploys Firestore rules, indexes and TTL policies with the firebase CLI,
// then Pub/Sub topics, functions (with their sizes and identities) and
// scheduler jobs with gcloud, all derived from functions.Declarations.
// Every step creates or updates, so running it again converges.
//
// Usage (from the module root, as `make deploy` and `make deploy-dry-run` do):
//
//	go run ./deploy/cmd/deploy [-project P] [-region R] [-location L]
//	    [-runtime go126] [-runtime-sa SA] [-build-sa SA] [-trigger-sa SA]
//	    [-scheduler-sa SA] [-env KEY=VALUE]... [-dry-run]
//
// -dry-run changes no project: it prints the plan, runs the offline checks,
// then runs every gcloud and firebase command against a local stand-in for
// the Google APIs and checks what they sent. Without it the offline checks
// run first and a failure stops the deploy before anything changes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
	_ "time/tzdata" // the schedule check must not depend on this machine's zoneinfo

	"github.com/pajama-app/sharedexperiences/deploy"
	"github.com/pajama-app/sharedexperiences/deploy/standin"
	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/internal/workspace"
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
	runtimeSA := fs.String("runtime-sa", "", "service account the functions run as (default: sx-runtime@PROJECT.iam.gserviceaccount.com)")
	buildSA := fs.String("build-sa", "", "service account Cloud Build builds the functions as (default: sx-build@PROJECT.iam.gserviceaccount.com)")
	triggerSA := fs.String("trigger-sa", "", "service account event deliveries to the functions carry (default: sx-trigger@PROJECT.iam.gserviceaccount.com)")
	schedulerSA := fs.String("scheduler-sa", "", "service account Cloud Scheduler calls as (default: sx-scheduler@PROJECT.iam.gserviceaccount.com)")
	dryRun := fs.Bool("dry-run", false, "print the plan, check it offline and run it against a local stand-in; change nothing")
	fs.Var(env, "env", "extra KEY=VALUE for every function's environment (repeatable)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	root, err := workspace.ModuleRoot()
	if err != nil {
		return err
	}
	if *project == "" {
		if *project, err = workspace.DefaultProject(root); err != nil {
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
	accounts := deploy.DefaultAccounts(*project)
	for _, o := range []struct{ flag, dst *string }{
		{runtimeSA, &accounts.Runtime}, {buildSA, &accounts.Build}, {triggerSA, &accounts.Trigger}, {schedulerSA, &accounts.Scheduler},
	} {
		if *o.flag != "" {
			*o.dst = *o.flag
		}
	}
	plan := deploy.Plan{
		Project:      *project,
		Region:       *region,
		Location:     *location,
		Runtime:      *runtime,
		Accounts:     accounts,
		Env:          env,
		Declarations: functions.Declarations(),
		Topics:       functions.Topics(),
	}
	cmds, planErr := deploy.Commands(plan)

	if *dryRun {
		return dryRunReport(ctx, stdout, stderr, root, plan, cmds, planErr)
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
	if err := deploy.Execute(ctx, cmds, deploy.ExecRunner(root, procEnv, stdout, stderr)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deployed %d functions to %s in %s\n", len(plan.Declarations), plan.Project, time.Since(start).Round(time.Second))
	return nil
}

func dryRunReport(ctx context.Context, w, stderr io.Writer, root string, plan deploy.Plan, cmds []deploy.Command, planErr error) error {
	fmt.Fprintf(w, "# deploy plan: project=%s region=%s location=%s runtime=%s\n", plan.Project, plan.Region, plan.Location, plan.Runtime)
	fmt.Fprintf(w, "# accounts: runtime=%s build=%s trigger=%s scheduler=%s\n",
		plan.Accounts.Runtime, plan.Accounts.Build, plan.Accounts.Trigger, plan.Accounts.Scheduler)
	if err := deploy.CheckLiveProject(plan.Project); err != nil {
		fmt.Fprintf(w, "# note: %v (fine for a dry run)\n", err)
	}
	if planErr != nil {
		fmt.Fprintf(w, "FAIL plan: %v\n", planErr)
		return planErr
	}
	fmt.Fprint(w, deploy.Script(cmds))
	fmt.Fprintln(w)
	checksErr := runChecks(ctx, w, root, plan)

	// The stand-in's commands print what a deploy prints; only a failure's
	// output matters here.
	dir, err := os.MkdirTemp("", "deploy-dry-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var log strings.Builder
	start := time.Now()
	srv, err := standin.Start()
	if err != nil {
		return err
	}
	defer srv.Close()
	if runErr := deploy.Offline(ctx, srv, root, dir, os.Environ(), cmds, &log, &log); runErr != nil {
		fmt.Fprintf(w, "%s\nFAIL every command against the local stand-in: %v\n", log.String(), runErr)
		return errors.Join(checksErr, runErr)
	}
	fmt.Fprintf(w, "PASS %d commands ran against the local stand-in for the Google APIs (%d requests, %s)\n",
		len(cmds), len(srv.Requests()), time.Since(start).Round(time.Second))
	verifyErr := errors.Join(deploy.Verify(plan, root, srv)...)
	if verifyErr != nil {
		fmt.Fprintf(w, "FAIL what the stand-in received:\n%v\n", verifyErr)
	} else {
		fmt.Fprintln(w, "PASS what the stand-in received: APIs, accounts, roles, topics, functions (triggers, retry, sizes, identities, environment), invokers, jobs (OIDC), rules and indexes")
	}
	uploadErr := deploy.CheckUploads(ctx, root, srv.Uploads())
	if uploadErr != nil {
		fmt.Fprintf(w, "FAIL uploaded source: %v\n", uploadErr)
	} else {
		fmt.Fprintln(w, "PASS uploaded source: exactly the files the functions build from (.gcloudignore)")
	}
	return errors.Join(checksErr, verifyErr, uploadErr)
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
