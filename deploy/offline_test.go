package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/deploy/standin"
	"github.com/pajama-app/sharedexperiences/functions"
)

// requireTools skips without gcloud or the firebase CLI, unless
// EMULATORS_REQUIRED (set by `make test`) makes their absence a failure.
func requireTools(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("gcloud"); err != nil {
		missing = append(missing, "gcloud")
	}
	if _, err := os.Stat(filepath.Join(moduleRootDir, "emulator", "node_modules", "firebase-tools")); err != nil {
		missing = append(missing, "firebase-tools (cd emulator && npm ci)")
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("EMULATORS_REQUIRED") == "1" {
		t.Fatalf("missing %s", strings.Join(missing, ", "))
	}
	t.Skipf("missing %s; make test requires them", strings.Join(missing, ", "))
}

// TestDeployOffline runs the whole deploy of the real declarations twice,
// every gcloud and firebase command for real, against the local stand-in,
// and checks what the APIs received: first as named literals below (so the
// check does not share the generator's derivations), then field by field
// against the plan with Verify, then the uploaded source, then that the
// second deploy converged on the same end state.
func TestDeployOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gcloud and firebase about 90 times")
	}
	requireTools(t)
	ctx := context.Background()
	p := testPlan()
	cmds, err := Commands(p)
	require.NoError(t, err)
	srv, err := standin.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })

	deploy := func() {
		var log bytes.Buffer
		err := Offline(ctx, srv, moduleRootDir, t.TempDir(), os.Environ(), cmds, &log, &log)
		require.NoError(t, err, "%s", log.String())
	}
	deploy()

	const (
		project   = "projects/example-prod"
		location  = project + "/locations/us-central1"
		runtime   = "sx-runtime@example-prod.iam.gserviceaccount.com"
		trigger   = "sx-trigger@example-prod.iam.gserviceaccount.com"
		scheduler = "sx-scheduler@example-prod.iam.gserviceaccount.com"
		build     = "sx-build@example-prod.iam.gserviceaccount.com"
		agent     = "serviceAccount:service-" + standin.ProjectNumber + "@gcp-sa-pubsub.iam.gserviceaccount.com"
	)
	fn := func(name string) map[string]any {
		f := srv.Resource("cloudfunctions", location+"/functions/"+name)
		require.NotNil(t, f, name)
		return f
	}
	invokers := func(name string) []string {
		return srv.Members("run", field(fn(name), "serviceConfig.service").(string), "roles/run.invoker")
	}

	t.Run("APIs", func(t *testing.T) {
		for _, api := range []string{"cloudfunctions", "run", "cloudbuild", "artifactregistry", "eventarc", "pubsub",
			"cloudscheduler", "firestore", "firebaserules", "firebase", "identitytoolkit", "iam"} {
			require.Equal(t, "ENABLED", srv.Resource("serviceusage", project+"/services/"+api+".googleapis.com")["state"], api)
		}
	})
	t.Run("accounts and roles", func(t *testing.T) {
		for _, a := range []string{runtime, trigger, scheduler, build} {
			require.NotNil(t, srv.Resource("iam", project+"/serviceAccounts/"+a), a)
		}
		roles := map[string][]string{
			"roles/datastore.user":          {"serviceAccount:" + runtime},
			"roles/firebaseauth.viewer":     {"serviceAccount:" + runtime},
			"roles/eventarc.eventReceiver":  {"serviceAccount:" + trigger},
			"roles/logging.logWriter":       {"serviceAccount:" + build},
			"roles/artifactregistry.writer": {"serviceAccount:" + build},
			"roles/storage.objectAdmin":     {"serviceAccount:" + build},
		}
		for role, members := range roles {
			require.Equal(t, members, srv.Members("cloudresourcemanager", project, role), role)
		}
		// Nothing on the project for the scheduler account: it may only invoke.
		require.NotContains(t, srv.State(), `"serviceAccount:`+scheduler+`"],"role":"roles/`, "")
		require.Equal(t, []string{agent}, srv.Members("iam", project+"/serviceAccounts/"+trigger, "roles/iam.serviceAccountTokenCreator"))
		for _, topic := range []string{"experience-events", "session-lifecycle"} {
			require.Equal(t, []string{"serviceAccount:" + runtime}, srv.Members("pubsub", project+"/topics/"+topic, "roles/pubsub.publisher"), topic)
		}
	})
	t.Run("onEventCreated: trigger, retry, size, identities, environment", func(t *testing.T) {
		f := fn("onEventCreated")
		require.Equal(t, "google.cloud.firestore.document.v1.created", field(f, "eventTrigger.eventType"))
		require.Equal(t, []any{
			map[string]any{"attribute": "database", "value": "(default)"},
			map[string]any{"attribute": "document", "operator": "match-path-pattern", "value": "experience_sessions/{sessionId}/events/{eventId}"},
		}, field(f, "eventTrigger.eventFilters"))
		require.Equal(t, "nam5", field(f, "eventTrigger.triggerRegion"))
		require.Equal(t, "RETRY_POLICY_RETRY", field(f, "eventTrigger.retryPolicy"))
		require.Equal(t, trigger, field(f, "eventTrigger.serviceAccountEmail"))
		require.Equal(t, runtime, field(f, "serviceConfig.serviceAccountEmail"))
		require.Equal(t, "projects/example-prod/serviceAccounts/"+build, field(f, "buildConfig.serviceAccount"))
		require.Equal(t, "go126", field(f, "buildConfig.runtime"))
		require.Equal(t, "onEventCreated", field(f, "buildConfig.entryPoint"))
		require.EqualValues(t, 80, field(f, "serviceConfig.maxInstanceRequestConcurrency"))
		require.Equal(t, "1", field(f, "serviceConfig.availableCpu"))
		require.Equal(t, "512Mi", field(f, "serviceConfig.availableMemory"))
		require.EqualValues(t, 120, field(f, "serviceConfig.timeoutSeconds"))
		require.EqualValues(t, 4, field(f, "serviceConfig.maxInstanceCount"))
		require.Equal(t, map[string]any{"FUNCTION_REGION": "us-central1", "GOOGLE_CLOUD_PROJECT": "example-prod"}, field(f, "serviceConfig.environmentVariables"))
		require.Equal(t, []string{"serviceAccount:" + trigger}, invokers("onEventCreated"))
	})
	t.Run("onCallWritten and compactOnEvents", func(t *testing.T) {
		f := fn("onCallWritten")
		require.Equal(t, "google.cloud.firestore.document.v1.written", field(f, "eventTrigger.eventType"))
		require.Contains(t, field(f, "eventTrigger.eventFilters"),
			map[string]any{"attribute": "document", "operator": "match-path-pattern", "value": "calls/{callId}"})
		require.Equal(t, "RETRY_POLICY_RETRY", field(f, "eventTrigger.retryPolicy"))
		c := fn("compactOnEvents")
		require.Equal(t, "google.cloud.pubsub.topic.v1.messagePublished", field(c, "eventTrigger.eventType"))
		require.Equal(t, project+"/topics/experience-events", field(c, "eventTrigger.pubsubTopic"))
		require.Equal(t, "RETRY_POLICY_RETRY", field(c, "eventTrigger.retryPolicy"))
		require.Equal(t, trigger, field(c, "eventTrigger.serviceAccountEmail"))
		require.Equal(t, []string{"serviceAccount:" + trigger}, invokers("compactOnEvents"))
	})
	t.Run("callables are public, schedules private with an OIDC token", func(t *testing.T) {
		for _, d := range functions.Declarations() {
			switch d.Kind {
			case functions.Callable:
				require.Equal(t, []string{"allUsers"}, invokers(d.Name), d.Name)
				require.Nil(t, field(fn(d.Name), "eventTrigger"), d.Name)
			case functions.Schedule:
				require.Equal(t, []string{"serviceAccount:" + scheduler}, invokers(d.Name), d.Name)
			}
		}
		job := srv.Resource("cloudscheduler", location+"/jobs/closeStaleSessions")
		require.NotNil(t, job)
		uri := field(fn("closeStaleSessions"), "serviceConfig.uri")
		require.Equal(t, uri, field(job, "httpTarget.uri"))
		require.Equal(t, "POST", field(job, "httpTarget.httpMethod"))
		require.Equal(t, map[string]any{"serviceAccountEmail": scheduler, "audience": uri}, field(job, "httpTarget.oidcToken"))
		require.Equal(t, "*/5 * * * *", field(job, "schedule"))
		require.Equal(t, "Etc/UTC", field(job, "timeZone"))
		require.Equal(t, "300s", field(job, "attemptDeadline"))
		c := fn("closeStaleSessions")
		require.EqualValues(t, 1, field(c, "serviceConfig.maxInstanceRequestConcurrency"))
		require.EqualValues(t, 1, field(c, "serviceConfig.maxInstanceCount"))
		require.EqualValues(t, 300, field(c, "serviceConfig.timeoutSeconds"))
	})
	t.Run("Firestore: rules, indexes, TTL, exempt large fields", func(t *testing.T) {
		db := project + "/databases/(default)/collectionGroups/"
		for _, f := range []string{"state_snapshots/fields/experienceState", "events/fields/data"} {
			o := srv.Resource("firestore", db+f)
			require.NotNil(t, o, f)
			require.Equal(t, []any{}, field(o, "indexConfig.indexes"), f)
		}
		for _, g := range []string{"experience_sessions", "events", "state_snapshots", "server"} {
			require.NotNil(t, field(srv.Resource("firestore", db+g+"/fields/expireAt"), "ttlConfig"), g)
		}
		require.NotNil(t, srv.Resource("firebaserules", project+"/releases/cloud.firestore/(default)"))
	})
	t.Run("image cleanup policy", func(t *testing.T) {
		repo := srv.Resource("artifactregistry", location+"/repositories/gcf-artifacts")
		require.Equal(t, false, repo["cleanupPolicyDryRun"])
		require.Equal(t, "Keep", field(repo, "cleanupPolicies.keep-two-most-recent.action"))
		require.EqualValues(t, 2, field(repo, "cleanupPolicies.keep-two-most-recent.mostRecentVersions.keepCount"))
		require.Equal(t, "Delete", field(repo, "cleanupPolicies.delete-older-than-a-week.action"))
	})
	t.Run("Verify", func(t *testing.T) {
		require.Empty(t, Verify(p, moduleRootDir, srv))
		// Verify reads what was deployed: a plan the deploy did not carry
		// out is reported, field by field.
		other := testPlan()
		other.Declarations = slices.Clone(other.Declarations)
		other.Declarations[0].Size.MaxInstances++
		other.Declarations[0].Retry = false
		errs := Verify(other, moduleRootDir, srv)
		require.Len(t, errs, 2)
		require.ErrorIs(t, errs[0], ErrVerify)
		require.ErrorContains(t, errs[0], "onEventCreated serviceConfig.maxInstanceCount: got 4, want 5")
		require.ErrorContains(t, errs[1], "onEventCreated eventTrigger.retryPolicy")
	})
	t.Run("uploaded source", func(t *testing.T) {
		uploads := srv.Uploads()
		require.Len(t, uploads, len(p.Declarations))
		require.NoError(t, CheckUploads(ctx, moduleRootDir, uploads))
		names := zipNames(t, uploads[0])
		require.Contains(t, names, "sharedexperiences.go")
		require.Contains(t, names, "functions/declarations.go")
		for _, n := range names {
			for _, out := range []string{"bench/", "emulator/", "deploy/", "internal/", "testdata/", "_test.go", ".git"} {
				require.NotContains(t, n, out)
			}
		}
	})

	// A second deploy updates what the first created and converges. Each
	// kind of command is generated the same way for every resource, so
	// rerunning one command of each kind proves each kind converges at a
	// third of the cost; DEPLOY_OFFLINE_FULL=1 reruns them all.
	first := srv.State()
	if os.Getenv("DEPLOY_OFFLINE_FULL") != "1" {
		cmds = oneOfEachKind(cmds)
		require.Less(t, len(cmds), 20)
	}
	deploy()
	require.Equal(t, first, srv.State())
	require.Empty(t, Verify(p, moduleRootDir, srv))
}

// oneOfEachKind keeps the first command of each kind: the same gcloud
// command, and for functions deploy the same kind of trigger.
func oneOfEachKind(cmds []Command) []Command {
	seen := map[string]bool{}
	var out []Command
	for _, c := range cmds {
		key := strings.Join(c.Args[:min(3, len(c.Args))], " ")
		for _, a := range c.Args {
			for _, flag := range []string{"--allow-unauthenticated", "--no-allow-unauthenticated", "--trigger-topic", "--trigger-event-filters"} {
				if strings.HasPrefix(a, flag) {
					key += " " + flag
				}
			}
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, c)
		}
	}
	return out
}

func zipNames(t *testing.T, archive []byte) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	require.NoError(t, err)
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}
