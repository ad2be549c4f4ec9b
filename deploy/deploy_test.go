package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/functions"
)

var update = flag.Bool("update", false, "rewrite testdata/plan.golden from the current declarations")

// moduleRootDir is the repository root, one level above this package.
const moduleRootDir = ".."

var testSize = functions.Size{Concurrency: 8, CPU: "1", Memory: "256Mi", Timeout: 30 * time.Second, MaxInstances: 3}

func testPlan() Plan {
	return Plan{
		Project:      "example-prod",
		Region:       "us-central1",
		Location:     "nam5",
		Runtime:      "go126",
		Accounts:     DefaultAccounts("example-prod"),
		Declarations: functions.Declarations(),
		Topics:       functions.Topics(),
	}
}

// TestCommandsGolden pins the whole deploy of the real declarations, so a
// change to a declaration or to the generator shows up as a reviewed diff.
func TestCommandsGolden(t *testing.T) {
	cmds, err := Commands(testPlan())
	require.NoError(t, err)
	got := Script(cmds)
	golden := filepath.Join("testdata", "plan.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test ./deploy -update to create it")
	require.Equal(t, string(want), got, "run go test ./deploy -update and review the diff")
}

func TestCommandsPerKind(t *testing.T) {
	tests := []struct {
		name string
		decl functions.Declaration
		want []string // flags of the functions deploy command
		not  []string
	}{
		{
			name: "callable is public and not retried",
			decl: functions.Declaration{Name: "doThing", Kind: functions.Callable},
			want: []string{"--trigger-http", "--allow-unauthenticated", "--entry-point=doThing", "--gen2", "--runtime=go126"},
			not:  []string{"--retry", "--no-allow-unauthenticated"},
		},
		{
			name: "firestore trigger filters type, database and path in the database location",
			decl: functions.Declaration{Name: "onX", Kind: functions.FirestoreTrigger, EventType: functions.EventCreated, Document: "a/{b}", Retry: true},
			want: []string{
				"--trigger-event-filters=type=google.cloud.firestore.document.v1.created",
				"--trigger-event-filters=database=(default)",
				"--trigger-event-filters-path-pattern=document=a/{b}",
				"--trigger-location=nam5",
				"--retry",
			},
			not: []string{"--trigger-http"},
		},
		{
			name: "firestore written trigger (create, update and delete) on a top-level document",
			decl: functions.Declaration{Name: "onW", Kind: functions.FirestoreTrigger, EventType: functions.EventWritten, Document: "calls/{callId}", Retry: true},
			want: []string{
				"--trigger-event-filters=type=google.cloud.firestore.document.v1.written",
				"--trigger-event-filters-path-pattern=document=calls/{callId}",
				"--retry",
			},
		},
		{
			name: "firestore trigger without Retry",
			decl: functions.Declaration{Name: "onY", Kind: functions.FirestoreTrigger, EventType: functions.EventCreated, Document: "a/{b}"},
			not:  []string{"--retry"},
		},
		{
			name: "pubsub",
			decl: functions.Declaration{Name: "onMsg", Kind: functions.PubSub, Topic: functions.TopicExperienceEvents, Retry: true},
			want: []string{"--trigger-topic=experience-events", "--retry"},
		},
		{
			name: "schedule is private",
			decl: functions.Declaration{Name: "tick", Kind: functions.Schedule, Cron: "0 * * * *", TimeZone: "Etc/UTC"},
			want: []string{"--trigger-http", "--no-allow-unauthenticated"},
			not:  []string{"--allow-unauthenticated"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan()
			tt.decl.Size = testSize
			p.Declarations = []functions.Declaration{tt.decl}
			cmds, err := Commands(p)
			require.NoError(t, err)
			i := slices.IndexFunc(cmds, func(c Command) bool {
				return slices.Contains(c.Args, "deploy") && slices.Contains(c.Args, tt.decl.Name)
			})
			require.GreaterOrEqual(t, i, 0)
			deployCmd := cmds[i]
			require.Equal(t, []string{"gcloud", "functions", "deploy", tt.decl.Name}, deployCmd.Args[:4])
			for _, f := range tt.want {
				require.Contains(t, deployCmd.Args, f)
			}
			for _, f := range tt.not {
				require.NotContains(t, deployCmd.Args, f)
			}
			require.Contains(t, deployCmd.Args, "--set-env-vars=FUNCTION_REGION=us-central1,GOOGLE_CLOUD_PROJECT=example-prod")
			require.Contains(t, deployCmd.Args, "--project=example-prod")
		})
	}
}

// TestCommandsOrder: APIs, the Pub/Sub agent, accounts, project roles and
// the agent's token grant first, then rules and indexes, then every topic
// with its publisher, then one deploy per declared function in declaration
// order, each followed by its invoker binding (not for callables: public
// through --allow-unauthenticated) and, for a scheduled one, its job.
func TestCommandsOrder(t *testing.T) {
	p := testPlan()
	cmds, err := Commands(p)
	require.NoError(t, err)
	var heads []string
	for _, c := range cmds {
		heads = append(heads, strings.Join(c.Args[:min(4, len(c.Args))], " "))
	}
	want := []string{"gcloud services enable " + APIs()[0], "gcloud beta services identity"}
	for range p.accountList() {
		want = append(want, "gcloud iam service-accounts create")
	}
	for range p.Roles() {
		want = append(want, "gcloud projects add-iam-policy-binding example-prod")
	}
	want = append(want, "gcloud iam service-accounts add-iam-policy-binding", "npx --prefix emulator firebase")
	for range functions.Topics() {
		want = append(want, "gcloud pubsub topics create", "gcloud pubsub topics add-iam-policy-binding")
	}
	for _, d := range functions.Declarations() {
		want = append(want, "gcloud functions deploy "+d.Name)
		if d.Kind != functions.Callable {
			want = append(want, "gcloud functions add-invoker-policy-binding "+d.Name)
		}
		if d.Kind == functions.Schedule {
			want = append(want, "gcloud scheduler jobs create")
		}
	}
	want = append(want, "gcloud artifacts repositories set-cleanup-policies")
	require.Equal(t, want, heads)
	require.Len(t, p.accountList(), 4)
	require.Equal(t, APIs(), cmds[0].Args[3:3+len(APIs())])
}

// schedulerJob finds the Cloud Scheduler job command of a function.
func schedulerJob(t *testing.T, cmds []Command, name string) Command {
	t.Helper()
	for _, c := range cmds {
		if slices.Equal(c.Args[:min(6, len(c.Args))], []string{"gcloud", "scheduler", "jobs", "create", "http", name}) {
			return c
		}
	}
	t.Fatalf("no scheduler job for %s", name)
	return Command{}
}

func lookups(cmds []Command) int {
	n := 0
	for _, c := range cmds {
		n += len(c.Lookups)
	}
	return n
}

func TestScheduleCommands(t *testing.T) {
	cmds, err := Commands(testPlan())
	require.NoError(t, err)
	job := schedulerJob(t, cmds, "closeStaleSessions")
	url := URLPlaceholder("closeStaleSessions")
	require.Contains(t, job.Args, "--uri="+url)
	require.Contains(t, job.Args, "--oidc-service-account-email=sx-scheduler@example-prod.iam.gserviceaccount.com")
	require.Contains(t, job.Args, "--schedule=*/5 * * * *")
	require.Contains(t, job.Args, "--time-zone=Etc/UTC")
	require.Contains(t, job.Args, "--http-method=POST")
	require.Equal(t, UpdateIfExists, job.IfExists)
	require.Equal(t, []string{"gcloud", "scheduler", "jobs", "update", "http", "closeStaleSessions"}, job.Update[:6])
	require.Len(t, job.Lookups, 1)
	require.Equal(t, url, job.Lookups[0].Placeholder)
	require.Contains(t, job.Lookups[0].Args, "--format=value(serviceConfig.uri)")
}

func TestPlanValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Plan)
		wantErr error
		msg     string
	}{
		{"valid", func(*Plan) {}, nil, ""},
		{"extra env", func(p *Plan) { p.Env = map[string]string{"STALE_SESSION_AFTER": "1h"} }, nil, ""},
		{"firestore emulator", func(p *Plan) { p.Env = map[string]string{"FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080"} }, ErrEmulatorEnv, "FIRESTORE_EMULATOR_HOST"},
		{"auth emulator", func(p *Plan) { p.Env = map[string]string{"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"} }, ErrEmulatorEnv, "FIREBASE_AUTH_EMULATOR_HOST"},
		{"pubsub emulator, lower case", func(p *Plan) { p.Env = map[string]string{"pubsub_emulator_host": "x"} }, ErrEmulatorEnv, "pubsub_emulator_host"},
		{"emulator hub", func(p *Plan) { p.Env = map[string]string{"FIREBASE_EMULATOR_HUB": "x"} }, ErrEmulatorEnv, ""},
		{"project from env", func(p *Plan) { p.Env = map[string]string{"GOOGLE_CLOUD_PROJECT": "other"} }, ErrInvalidPlan, "GOOGLE_CLOUD_PROJECT"},
		{"comma in value", func(p *Plan) { p.Env = map[string]string{"A": "1,2"} }, ErrInvalidPlan, "comma"},
		{"bad env name", func(p *Plan) { p.Env = map[string]string{"A-B": "1"} }, ErrInvalidPlan, "A-B"},
		{"reserved env name", func(p *Plan) { p.Env = map[string]string{"K_SERVICE": "x"} }, ErrInvalidPlan, "K_SERVICE"},
		{"no project", func(p *Plan) { p.Project = "" }, ErrInvalidPlan, "project"},
		{"upper-case project", func(p *Plan) { p.Project = "Example-Prod" }, ErrInvalidPlan, "project"},
		{"no region", func(p *Plan) { p.Region = "" }, ErrInvalidPlan, "region"},
		{"no location", func(p *Plan) { p.Location = "" }, ErrInvalidPlan, "location"},
		{"not go", func(p *Plan) { p.Runtime = "nodejs22" }, ErrInvalidPlan, "nodejs22"},
		{"no functions", func(p *Plan) { p.Declarations = nil }, ErrInvalidPlan, "no functions"},
		{"bad topic", func(p *Plan) { p.Topics = []string{"goog-x"} }, ErrInvalidPlan, "goog-x"},
		{"no scheduler account", func(p *Plan) { p.Accounts.Scheduler = "" }, ErrInvalidPlan, "service account"},
		{"account of another project", func(p *Plan) { p.Accounts.Runtime = "sx-runtime@other.iam.gserviceaccount.com" }, ErrInvalidPlan, "other"},
		{"account id too short", func(p *Plan) { p.Accounts.Build = "b@example-prod.iam.gserviceaccount.com" }, ErrInvalidPlan, "service account"},
		{"unknown kind", func(p *Plan) {
			p.Declarations = []functions.Declaration{{Name: "x", Kind: "cron"}}
		}, ErrInvalidPlan, "unknown kind"},
		{"retry on callable", func(p *Plan) {
			p.Declarations = []functions.Declaration{{Name: "x", Kind: functions.Callable, Retry: true}}
		}, ErrInvalidPlan, "retry"},
		{"pubsub on undeclared topic", func(p *Plan) {
			p.Declarations = []functions.Declaration{{Name: "x", Kind: functions.PubSub, Topic: "elsewhere"}}
		}, ErrInvalidPlan, "elsewhere"},
		{"firestore trigger without document", func(p *Plan) {
			p.Declarations = []functions.Declaration{{Name: "x", Kind: functions.FirestoreTrigger, EventType: functions.EventCreated}}
		}, ErrInvalidPlan, "Document"},
		{"schedule without time zone", func(p *Plan) {
			p.Declarations = []functions.Declaration{{Name: "x", Kind: functions.Schedule, Cron: "* * * * *"}}
		}, ErrInvalidPlan, "TimeZone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan()
			tt.edit(&p)
			cmds, err := Commands(p)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.NotEmpty(t, cmds)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorContains(t, err, tt.msg)
			require.Nil(t, cmds)
		})
	}
}

func TestCheckNoEmulatorEnv(t *testing.T) {
	tests := []struct {
		name string
		args []string
		bad  bool
	}{
		{"clean", []string{"gcloud", "functions", "deploy", "f", "--set-env-vars=A=1,B=2"}, false},
		{"set", []string{"gcloud", "functions", "deploy", "f", "--set-env-vars=A=1,FIRESTORE_EMULATOR_HOST=x"}, true},
		{"update", []string{"gcloud", "functions", "deploy", "f", "--update-env-vars=PUBSUB_EMULATOR_HOST=x"}, true},
		{"build env", []string{"gcloud", "functions", "deploy", "f", "--set-build-env-vars=FIREBASE_AUTH_EMULATOR_HOST=x"}, true},
		{"mentioned elsewhere is fine", []string{"echo", "FIRESTORE_EMULATOR_HOST=x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckNoEmulatorEnv([]Command{{Args: tt.args}})
			if tt.bad {
				require.ErrorIs(t, err, ErrEmulatorEnv)
			} else {
				require.NoError(t, err)
			}
		})
	}
	// Execute refuses such commands even if they did not come from Commands.
	r, calls := fakeRunner(nil)
	err := Execute(context.Background(), []Command{{Args: []string{"gcloud", "--set-env-vars=FIRESTORE_EMULATOR_HOST=x"}}}, r)
	require.ErrorIs(t, err, ErrEmulatorEnv)
	require.Empty(t, *calls)
}

func TestCheckLiveProject(t *testing.T) {
	require.ErrorIs(t, CheckLiveProject("demo-shared-experiences"), ErrDemoProject)
	require.ErrorIs(t, CheckLiveProject("demo-x"), ErrDemoProject)
	require.NoError(t, CheckLiveProject("example-prod"))
	require.NoError(t, CheckLiveProject("my-demo-project"))
}

func TestProcessEnv(t *testing.T) {
	kept, dropped := ProcessEnv([]string{"PATH=/bin", "FIRESTORE_EMULATOR_HOST=127.0.0.1:8080", "HOME=/root", "FIREBASE_AUTH_EMULATOR_HOST=x"})
	require.Equal(t, []string{"PATH=/bin", "HOME=/root"}, kept)
	require.Equal(t, []string{"FIRESTORE_EMULATOR_HOST", "FIREBASE_AUTH_EMULATOR_HOST"}, dropped)
}

func TestQuote(t *testing.T) {
	tests := map[string]string{
		"":                                  "''",
		"plain":                             "plain",
		"--region=us-central1":              "--region=us-central1",
		"a@b.iam.gserviceaccount.com":       "a@b.iam.gserviceaccount.com",
		"--schedule=*/5 * * * *":            "'--schedule=*/5 * * * *'",
		"database=(default)":                "'database=(default)'",
		"document=a/{b}":                    "'document=a/{b}'",
		"it's":                              `'it'\''s'`,
		"$HOME":                             "'$HOME'",
		"--format=value(serviceConfig.uri)": "'--format=value(serviceConfig.uri)'",
	}
	for in, want := range tests {
		require.Equal(t, want, Quote(in), in)
	}
}

type call struct {
	kind string // run or output
	args []string
}

// fakeRunner records calls; respond maps the joined args of a call to its
// stdout (Output) or stderr (Run) and an error.
func fakeRunner(respond func(args []string) (string, error)) (Runner, *[]call) {
	calls := &[]call{}
	do := func(kind string) func(context.Context, []string) (string, error) {
		return func(_ context.Context, args []string) (string, error) {
			*calls = append(*calls, call{kind, slices.Clone(args)})
			if respond == nil {
				return "", nil
			}
			return respond(args)
		}
	}
	return Runner{Run: do("run"), Output: do("output"), Log: &strings.Builder{}}, calls
}

func TestExecute(t *testing.T) {
	errExit := errors.New("exit status 1")
	const url = "https://closestalesessions-abc-uc.a.run.app"
	cmds, err := Commands(testPlan())
	require.NoError(t, err)
	job := schedulerJob(t, cmds, "closeStaleSessions")
	// lookup answers the commands whose output Execute reads.
	lookup := func(args []string) string {
		switch {
		case slices.Contains(args, "functions") && slices.Contains(args, "describe"):
			return url + "\n"
		case slices.Contains(args, "projects") && slices.Contains(args, "describe"):
			return "123456789012\n"
		}
		return ""
	}

	tests := []struct {
		name    string
		respond func(args []string) (string, error)
		wantErr string
		check   func(t *testing.T, calls []call)
	}{
		{
			name: "every step runs in order, the URL is looked up and substituted",
			respond: func(args []string) (string, error) {
				return lookup(args), nil
			},
			check: func(t *testing.T, calls []call) {
				// One URL lookup before each scheduler job.
				require.Len(t, calls, len(cmds)+lookups(cmds))
				i := slices.IndexFunc(calls, func(c call) bool {
					return c.kind == "run" && slices.Contains(c.args, "closeStaleSessions") && slices.Contains(c.args, "scheduler")
				})
				require.Positive(t, i)
				require.Contains(t, calls[i].args, "--uri="+url)
				require.Equal(t, "output", calls[i-1].kind)
				require.Equal(t, job.Lookups[0].Args, calls[i-1].args)
				for _, c := range calls {
					for _, a := range c.args {
						require.NotContains(t, a, "{{url:", "placeholder left in %v", c.args)
					}
				}
			},
		},
		{
			name: "existing topic is kept",
			respond: func(args []string) (string, error) {
				if slices.Contains(args, "topics") && slices.Contains(args, "create") {
					return "ERROR: Failed to create topic: Resource already exists in the project (resource=x).", errExit
				}
				return lookup(args), nil
			},
			check: func(t *testing.T, calls []call) { require.Len(t, calls, len(cmds)+lookups(cmds)) },
		},
		{
			name: "existing scheduler job is updated",
			respond: func(args []string) (string, error) {
				if slices.Contains(args, "create") && slices.Contains(args, "scheduler") {
					return "ERROR: (gcloud.scheduler.jobs.create.http) ALREADY_EXISTS: Job already exists.", errExit
				}
				return lookup(args), nil
			},
			check: func(t *testing.T, calls []call) {
				// Every failed create is followed by the update of that job.
				updates := 0
				for i, c := range calls {
					if slices.Equal(c.args[:min(5, len(c.args))], []string{"gcloud", "scheduler", "jobs", "create", "http"}) {
						next := calls[i+1]
						require.Equal(t, []string{"gcloud", "scheduler", "jobs", "update", "http", c.args[5]}, next.args[:6])
						require.Contains(t, next.args, "--uri="+url)
						updates++
					}
				}
				require.Positive(t, updates)
			},
		},
		{
			name: "a failure stops the deploy",
			respond: func(args []string) (string, error) {
				if slices.Contains(args, "discoverSessions") {
					return "ERROR: build failed", errExit
				}
				return lookup(args), nil
			},
			wantErr: "callable discoverSessions",
			check: func(t *testing.T, calls []call) {
				// Nothing after the failing command ran.
				last := calls[len(calls)-1]
				require.Contains(t, last.args, "discoverSessions")
				for _, c := range calls[:len(calls)-1] {
					require.NotContains(t, c.args, "discoverSessions")
				}
			},
		},
		{
			name: "an existing function is no excuse: functions deploy updates itself",
			respond: func(args []string) (string, error) {
				if slices.Contains(args, "onEventCreated") {
					return "already exists", errExit
				}
				return lookup(args), nil
			},
			wantErr: "onEventCreated",
		},
		{
			name: "an empty URL stops before the scheduler job",
			respond: func([]string) (string, error) {
				return "", nil
			},
			wantErr: "empty output",
			check: func(t *testing.T, calls []call) {
				require.Equal(t, "output", calls[len(calls)-1].kind)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, calls := fakeRunner(tt.respond)
			err := Execute(context.Background(), cmds, r)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, *calls)
			}
		})
	}
}

func TestResolveMissingValue(t *testing.T) {
	c := Command{Args: []string{"x", "--uri=" + URLPlaceholder("f")}, Lookups: []Lookup{{Placeholder: URLPlaceholder("f")}}}
	_, err := c.Resolve(nil)
	require.ErrorContains(t, err, "no value")
}

// writeTree creates files (path -> content) under a new temp dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func TestCheckFirebaseConfig(t *testing.T) {
	const rules = "rules_version = '2';\nservice cloud.firestore { match /databases/{d}/documents {} }\n"
	const fb = `{"firestore": {"rules": "firestore.rules", "indexes": "firestore.indexes.json"}}`
	tests := []struct {
		name  string
		files map[string]string
		msg   string
	}{
		{"valid", map[string]string{"firebase.json": fb, "firestore.rules": rules,
			"firestore.indexes.json": `{"indexes": [], "fieldOverrides": [{"collectionGroup": "s", "fieldPath": "expireAt", "ttl": true, "indexes": []}]}`}, ""},
		{"no firebase.json", map[string]string{"firestore.rules": rules, "firestore.indexes.json": `{}`}, "firebase.json"},
		{"firebase.json not JSON", map[string]string{"firebase.json": `{"firestore": `, "firestore.rules": rules, "firestore.indexes.json": `{}`}, "firebase.json"},
		{"no firestore section", map[string]string{"firebase.json": `{}`, "firestore.rules": rules, "firestore.indexes.json": `{}`}, `"firestore" object`},
		{"rules missing", map[string]string{"firebase.json": fb, "firestore.indexes.json": `{}`}, "firestore.rules"},
		{"rules without service", map[string]string{"firebase.json": fb, "firestore.rules": "rules_version = '2';", "firestore.indexes.json": `{}`}, "service cloud.firestore"},
		{"indexes missing", map[string]string{"firebase.json": fb, "firestore.rules": rules}, "firestore.indexes.json"},
		{"indexes not JSON", map[string]string{"firebase.json": fb, "firestore.rules": rules, "firestore.indexes.json": `{"indexes": [}`}, "firestore.indexes.json"},
		{"ttl as string", map[string]string{"firebase.json": fb, "firestore.rules": rules,
			"firestore.indexes.json": `{"fieldOverrides": [{"collectionGroup": "s", "fieldPath": "expireAt", "ttl": "true", "indexes": []}]}`}, `"ttl" must be`},
		{"override without indexes", map[string]string{"firebase.json": fb, "firestore.rules": rules,
			"firestore.indexes.json": `{"fieldOverrides": [{"collectionGroup": "s", "fieldPath": "expireAt", "ttl": true}]}`}, `"indexes" array`},
		{"two TTL fields", map[string]string{"firebase.json": fb, "firestore.rules": rules,
			"firestore.indexes.json": `{"fieldOverrides": [
				{"collectionGroup": "s", "fieldPath": "a", "ttl": true, "indexes": []},
				{"collectionGroup": "s", "fieldPath": "b", "ttl": true, "indexes": []}]}`}, "two TTL fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFirebaseConfig(writeTree(t, tt.files))
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrCheck)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

const rootGo = `package app

import _ "github.com/GoogleCloudPlatform/functions-framework-go/functions"
`

func TestCheckRootPackage(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		msg   string
	}{
		{"valid", map[string]string{"app.go": rootGo, "app_test.go": "package app\n", "sub/x.go": "package other\n"}, ""},
		{"external test package at the root", map[string]string{"app.go": rootGo, "app_test.go": "package app_test\n"}, "2 packages"},
		{"two packages", map[string]string{"app.go": rootGo, "other.go": "package other\n"}, "2 packages"},
		{"build tags do not hide a file", map[string]string{"app.go": rootGo, "tool.go": "//go:build ignore\n\npackage main\n"}, "2 packages"},
		{"no Go files", map[string]string{"sub/x.go": rootGo}, "no Go files"},
		{"main package", map[string]string{"main.go": "package main\n\nimport _ \"github.com/GoogleCloudPlatform/functions-framework-go/functions\"\n"}, "main"},
		{"no framework import", map[string]string{"app.go": "package app\n"}, "declarative"},
		{"framework imported by a test only", map[string]string{"app.go": "package app\n", "app_test.go": rootGo}, "declarative"},
		{"syntax error", map[string]string{"app.go": "package app\nimport (\n"}, "app.go"},
		{"directory named like the package", map[string]string{"app.go": rootGo, "app/x.go": "package x\n"}, "directory app/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRootPackage(writeTree(t, tt.files))
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrCheck)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

func TestCheckGoMod(t *testing.T) {
	tests := []struct {
		name    string
		gomod   string
		runtime string
		msg     string
	}{
		{"valid", "module example.com/app\n\ngo 1.26.0\n", "go126", ""},
		{"older go directive", "module example.com/app\n\ngo 1.24\n", "go126", ""},
		{"no dot in module path", "module app\n\ngo 1.26.0\n", "go126", "dot"},
		{"go directive newer than runtime", "module example.com/app\n\ngo 1.26.0\n", "go125", "Go 1.25"},
		{"bad runtime", "module example.com/app\n\ngo 1.26.0\n", "go", "runtime"},
		{"broken go.mod", "modul example.com/app\n", "go126", "go mod edit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"go.mod": tt.gomod})
			err := CheckGoMod(context.Background(), dir, tt.runtime)
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrCheck)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

// TestCheckBuildpackBuild compiles temp modules that reuse this module's
// requirements, so the build needs no download.
func TestCheckBuildpackBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the functions-framework dependency graph")
	}
	gomod, err := os.ReadFile(filepath.Join(moduleRootDir, "go.mod"))
	require.NoError(t, err)
	gosum, err := os.ReadFile(filepath.Join(moduleRootDir, "go.sum"))
	require.NoError(t, err)
	first, rest, _ := strings.Cut(string(gomod), "\n")
	require.True(t, strings.HasPrefix(first, "module "))
	mod := "module example.com/app\n" + rest

	tests := []struct {
		name string
		code string
		msg  string
	}{
		{"compiles", rootGo + "\nfunc init() {}\n", ""},
		{"compile error in the root package", rootGo + "\nfunc init() { undefinedFunction() }\n", "undefinedFunction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"go.mod": mod, "go.sum": string(gosum), "app.go": tt.code})
			err := CheckBuildpackBuild(context.Background(), dir)
			if tt.msg == "" {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrCheck)
				require.ErrorContains(t, err, tt.msg)
			}
			// The generated main went through an overlay, not into the tree.
			_, statErr := os.Stat(filepath.Join(dir, "functions.local"))
			require.ErrorIs(t, statErr, os.ErrNotExist)
		})
	}
}

func TestCheckSchedules(t *testing.T) {
	tests := []struct {
		name, cron, tz, msg string
	}{
		{"valid", "*/5 * * * *", "Etc/UTC", ""},
		{"named zone", "0 3 * * 1-5", "Europe/Paris", ""},
		{"six fields", "0 */5 * * * *", "Etc/UTC", "cron"},
		{"descriptor", "@every 5m", "Etc/UTC", "cron"},
		{"zone in cron", "CRON_TZ=Europe/Paris 0 3 * * *", "Etc/UTC", "TimeZone"},
		{"bad minute", "61 * * * *", "Etc/UTC", "cron"},
		{"unknown zone", "* * * * *", "Mars/Olympus", "time zone"},
		{"local zone", "* * * * *", "Local", "IANA"},
		{"empty zone", "* * * * *", "", "IANA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSchedules([]functions.Declaration{
				{Name: "other", Kind: functions.Callable, Cron: "not checked"},
				{Name: "tick", Kind: functions.Schedule, Cron: tt.cron, TimeZone: tt.tz},
			})
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrCheck)
			require.ErrorContains(t, err, tt.msg)
			require.ErrorContains(t, err, "tick")
		})
	}
}

func TestCheckDocumentPatterns(t *testing.T) {
	tests := []struct {
		pattern, msg string
	}{
		{"experience_sessions/{sessionId}/events/{eventId}", ""},
		{"rooms/{roomId}", ""},
		{"rooms/fixed", ""},
		{"{coll}/{doc}", ""},
		{"rooms/{rest=**}", ""},
		{"rooms/{roomId}/messages/{rest=**}", ""},
		{"", "empty"},
		{"rooms", "even number"},
		{"rooms/{roomId}/messages", "even number"},
		{"/rooms/{roomId}", "empty segment"},
		{"rooms/{roomId}/", "empty segment"},
		{"rooms//x", "empty segment"},
		{"rooms/{room-id}", "wildcard"},
		{"rooms/{}", "wildcard"},
		{"rooms/{1st}", "wildcard"},
		{"rooms/room{id}", "mixes"},
		{"rooms/*", "mixes"},
		{"rooms/{a}/b/{a}", "twice"},
		{"rooms/{rest=**}/x/{y}", "last segment"},
		{"rooms/..", "segment"},
		{"__rooms__/{x}", "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			err := CheckDocumentPatterns([]functions.Declaration{
				{Name: "c", Kind: functions.Callable, Document: "not/checked/x"},
				{Name: "onDoc", Kind: functions.FirestoreTrigger, Document: tt.pattern},
			})
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrCheck)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

func TestCheckNames(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		msg   string
	}{
		{"valid", []string{"onEventCreated", "discover-sessions", "close_stale_1"}, ""},
		{"63 characters", []string{"a" + strings.Repeat("b", 62)}, ""},
		{"64 characters", []string{"a" + strings.Repeat("b", 63)}, "function name"},
		{"empty", []string{""}, "function name"},
		{"starts with a digit", []string{"1fn"}, "function name"},
		{"starts with a hyphen", []string{"-fn"}, "function name"},
		{"ends with a hyphen", []string{"fn-"}, "function name"},
		{"dot", []string{"fn.x"}, "function name"},
		{"duplicate", []string{"fn", "fn"}, "collide"},
		{"duplicate up to case", []string{"closeStale", "closestale"}, "collide"},
		{"duplicate up to _ and -", []string{"close_stale", "close-stale"}, "collide"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var decls []functions.Declaration
			for _, n := range tt.names {
				decls = append(decls, functions.Declaration{Name: n, Kind: functions.Callable})
			}
			err := CheckNames(decls)
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrCheck)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

// TestChecksOnRepository runs every offline check on this repository, as
// `make deploy-dry-run` does.
func TestChecksOnRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the whole backend")
	}
	for _, c := range Checks(moduleRootDir, testPlan()) {
		require.NoError(t, c.Run(context.Background()), c.Name)
	}
}

// TestExecuteRetriesPropagation: a grant to an account IAM does not know yet
// is retried, with a wait before each retry, and gives up after a few; any
// other failure of the same command is not retried.
func TestExecuteRetriesPropagation(t *testing.T) {
	errExit := errors.New("exit status 1")
	grant := Command{Args: []string{"gcloud", "projects", "add-iam-policy-binding", "p"}, Why: "grant", Retry: notFoundYet}
	tests := []struct {
		name      string
		failures  int
		stderr    string
		wantErr   bool
		wantRuns  int
		wantWaits []int
	}{
		{"propagates after two tries", 2, "ERROR: INVALID_ARGUMENT: Service account sx@p.iam.gserviceaccount.com does not exist.", false, 3, []int{1, 2}},
		{"never propagates", 100, "ERROR: Service account x does not exist.", true, 1 + retries, []int{1, 2, 3, 4, 5, 6}},
		{"other failure", 1, "ERROR: PERMISSION_DENIED", true, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs := 0
			r, _ := fakeRunner(func([]string) (string, error) {
				runs++
				if runs <= tt.failures {
					return tt.stderr, errExit
				}
				return "", nil
			})
			var waits []int
			r.Wait = func(_ context.Context, attempt int) error {
				waits = append(waits, attempt)
				return nil
			}
			err := Execute(context.Background(), []Command{grant}, r)
			require.Equal(t, tt.wantErr, err != nil, "%v", err)
			require.Equal(t, tt.wantRuns, runs)
			require.Equal(t, tt.wantWaits, waits)
		})
	}
}

// TestNewTopicAndConsumerNeedNoToolChange: a topic added to the list and a
// function on it are deployed like the others (created, publishable by the
// runtime account, triggered as the trigger account), with no change here.
func TestNewTopicAndConsumerNeedNoToolChange(t *testing.T) {
	p := testPlan()
	p.Topics = append(slices.Clone(p.Topics), "session-work")
	p.Declarations = append(slices.Clone(p.Declarations), functions.Declaration{
		Name: "workOnSession", Kind: functions.PubSub, Topic: "session-work", Retry: true, Size: testSize,
	})
	cmds, err := Commands(p)
	require.NoError(t, err)
	lines := strings.Split(Script(cmds), "\n")
	for _, want := range []string{
		"gcloud pubsub topics create session-work --project=example-prod --quiet",
		"gcloud pubsub topics add-iam-policy-binding session-work --member=serviceAccount:sx-runtime@example-prod.iam.gserviceaccount.com --role=roles/pubsub.publisher --project=example-prod --quiet",
		"gcloud functions add-invoker-policy-binding workOnSession --region=us-central1 --member=serviceAccount:sx-trigger@example-prod.iam.gserviceaccount.com --project=example-prod --quiet",
	} {
		require.Contains(t, lines, want)
	}
	i := slices.IndexFunc(cmds, func(c Command) bool { return slices.Contains(c.Args, "workOnSession") })
	require.GreaterOrEqual(t, i, 0)
	for _, flag := range []string{"--trigger-topic=session-work", "--trigger-service-account=sx-trigger@example-prod.iam.gserviceaccount.com",
		"--retry", "--concurrency=8", "--max-instances=3", "--timeout=30s", "--service-account=sx-runtime@example-prod.iam.gserviceaccount.com"} {
		require.Contains(t, cmds[i].Args, flag)
	}
}

// TestSizeLimits: sizes the platform refuses are refused before any upload.
func TestSizeLimits(t *testing.T) {
	tests := []struct {
		name string
		kind functions.Kind
		edit func(*functions.Size)
		msg  string
	}{
		{"valid", functions.Callable, func(*functions.Size) {}, ""},
		{"concurrency needs a whole CPU", functions.Callable, func(s *functions.Size) { s.CPU = "0.5" }, "needs at least 1 CPU"},
		{"fractional CPU alone is fine", functions.Callable, func(s *functions.Size) { s.CPU, s.Concurrency = "0.5", 1 }, ""},
		{"no ceiling", functions.Callable, func(s *functions.Size) { s.MaxInstances = 0 }, "ceiling"},
		{"min above max", functions.Callable, func(s *functions.Size) { s.MinInstances = 4 }, "min instances"},
		{"event timeout above 540s", functions.PubSub, func(s *functions.Size) { s.Timeout = 600 * time.Second }, "timeout"},
		{"HTTP timeout of 600s", functions.Callable, func(s *functions.Size) { s.Timeout = 600 * time.Second }, ""},
		{"fractional seconds", functions.Callable, func(s *functions.Size) { s.Timeout = 1500 * time.Millisecond }, "timeout"},
		{"memory unit", functions.Callable, func(s *functions.Size) { s.Memory = "512MB" }, "memory"},
		{"too little memory", functions.Callable, func(s *functions.Size) { s.Memory = "64Mi" }, "128Mi"},
		{"too much memory for one CPU", functions.Callable, func(s *functions.Size) { s.Memory = "8Gi" }, "2 CPUs"},
		{"no concurrency", functions.Callable, func(s *functions.Size) { s.Concurrency = 0 }, "concurrency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := functions.Declaration{Name: "f", Kind: tt.kind, Size: testSize}
			if tt.kind == functions.PubSub {
				d.Topic = functions.TopicExperienceEvents
			}
			tt.edit(&d.Size)
			p := testPlan()
			p.Declarations = []functions.Declaration{d}
			_, err := Commands(p)
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidPlan)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

// TestScheduleTimeoutWithinInterval: a schedule whose runs could overlap is
// refused by the offline checks.
func TestScheduleTimeoutWithinInterval(t *testing.T) {
	tests := []struct {
		cron    string
		timeout time.Duration
		ok      bool
	}{
		{"*/5 * * * *", 5 * time.Minute, true},
		{"*/5 * * * *", 6 * time.Minute, false},
		{"* * * * *", time.Minute, true},
		{"0,10 * * * *", 11 * time.Minute, false}, // 10 minutes between :00 and :10
		{"17 * * * *", 9 * time.Minute, true},
	}
	for _, tt := range tests {
		err := CheckSchedules([]functions.Declaration{{Name: "tick", Kind: functions.Schedule, Cron: tt.cron, TimeZone: "Etc/UTC",
			Size: functions.Size{Timeout: tt.timeout}}})
		if tt.ok {
			require.NoError(t, err, tt.cron)
		} else {
			require.ErrorIs(t, err, ErrCheck, tt.cron)
			require.ErrorContains(t, err, "overlap")
		}
	}
}

// TestCheckUploads: the uploaded archive must hold exactly the files the
// functions build from.
func TestCheckUploads(t *testing.T) {
	ctx := context.Background()
	want, err := buildFiles(ctx, moduleRootDir)
	require.NoError(t, err)
	require.True(t, want["go.mod"] && want["sharedexperiences.go"] && want["functions/declarations.go"])
	archive := func(names []string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, n := range names {
			_, err := zw.Create(n)
			require.NoError(t, err)
		}
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}
	exact := slices.Sorted(maps.Keys(want))
	tests := []struct {
		name  string
		files []string
		msg   string
	}{
		{"exactly the build's files", exact, ""},
		{"directories are fine", append(slices.Clone(exact), "functions/"), ""},
		{"a benchmark too", append(slices.Clone(exact), "bench/main.go"), "bench/main.go"},
		{"a fuzz corpus too", append(slices.Clone(exact), "shared/events/testdata/fuzz/FuzzX/1"), "testdata"},
		{"no go.sum", slices.DeleteFunc(slices.Clone(exact), func(n string) bool { return n == "go.sum" }), "lacks 1 file(s) the build needs: go.sum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckUploads(ctx, moduleRootDir, [][]byte{archive(exact), archive(tt.files)})
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrCheck)
			require.ErrorContains(t, err, tt.msg)
		})
	}
	require.ErrorContains(t, CheckUploads(ctx, moduleRootDir, nil), "nothing uploaded")
}
