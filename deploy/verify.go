package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pajama-app/sharedexperiences/deploy/standin"
	"github.com/pajama-app/sharedexperiences/functions"
)

// ErrVerify reports an end state on the stand-in that is not what the plan
// asked for.
var ErrVerify = errors.New("deployed state differs from the plan")

// Verify compares what a deploy of p left on the stand-in s with what p
// asks for, resource by resource, from the fields the APIs received (not
// from the command lines): the APIs enabled, every account and its roles,
// the topics and who may publish, each function's build and service
// configuration (identities, sizes, environment), its trigger (event
// filters, path pattern, location, retry policy, identity), who may invoke
// it, each scheduler job's target and OIDC token, and what firebase-tools
// sent for the rules and indexes. It returns every difference found.
// The module at root supplies firebase.json and the indexes file it names.
func Verify(p Plan, root string, s *standin.Server) []error {
	v := verifier{p: p, root: root, s: s}
	v.apis()
	v.accounts()
	v.topics()
	for _, d := range p.Declarations {
		v.function(d)
	}
	v.firestore()
	v.artifacts()
	return v.errs
}

// artifacts checks the images' cleanup policy against CleanupPolicyFile.
func (v *verifier) artifacts() {
	var want []struct {
		Name   string `json:"name"`
		Action struct {
			Type string `json:"type"`
		} `json:"action"`
	}
	if err := readJSON(filepath.Join(v.root, CleanupPolicyFile), &want); err != nil {
		v.failf("%v", err)
		return
	}
	repo := v.s.Resource("artifactregistry", "projects/"+v.p.Project+"/locations/"+v.p.Region+"/repositories/"+ArtifactsRepository)
	got, _ := repo["cleanupPolicies"].(map[string]any)
	if len(got) != len(want) || repo["cleanupPolicyDryRun"] != false {
		v.failf("cleanup policies of %s: got %v (dry run %v), want %d in force", ArtifactsRepository, got, repo["cleanupPolicyDryRun"], len(want))
		return
	}
	for _, w := range want {
		v.want("cleanup policy "+w.Name, field(got, w.Name+".action"), w.Action.Type)
	}
}

type verifier struct {
	p    Plan
	root string
	s    *standin.Server
	errs []error
}

func (v *verifier) failf(format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%w: "+format, append([]any{ErrVerify}, args...)...))
}

// want records a difference when got (a JSON value) is not want.
func (v *verifier) want(what string, got, want any) {
	if fmt.Sprint(got) != fmt.Sprint(want) {
		v.failf("%s: got %v, want %v", what, got, want)
	}
}

func (v *verifier) apis() {
	project := "projects/" + v.p.Project
	for _, api := range APIs() {
		if v.s.Resource("serviceusage", project+"/services/"+api)["state"] != "ENABLED" {
			v.failf("API %s not enabled", api)
		}
	}
}

func (v *verifier) accounts() {
	project := "projects/" + v.p.Project
	for _, a := range v.p.accountList() {
		if v.s.Resource("iam", project+"/serviceAccounts/"+a.email) == nil {
			v.failf("service account %s not created", a.email)
		}
	}
	for _, g := range v.p.Roles() {
		if !slices.Contains(v.s.Members("cloudresourcemanager", project, g.Role), g.Member) {
			v.failf("project role %s not granted to %s", g.Role, g.Member)
		}
	}
	agent := "serviceAccount:service-" + standin.ProjectNumber + "@gcp-sa-pubsub.iam.gserviceaccount.com"
	if !slices.Contains(v.s.Members("iam", project+"/serviceAccounts/"+v.p.Accounts.Trigger, "roles/iam.serviceAccountTokenCreator"), agent) {
		v.failf("Pub/Sub service agent cannot mint tokens for %s", v.p.Accounts.Trigger)
	}
}

func (v *verifier) topics() {
	for _, t := range v.p.Topics {
		name := "projects/" + v.p.Project + "/topics/" + t
		if v.s.Resource("pubsub", name) == nil {
			v.failf("topic %s not created", t)
		}
		v.want("publishers of "+t, v.s.Members("pubsub", name, "roles/pubsub.publisher"), []string{"serviceAccount:" + v.p.Accounts.Runtime})
	}
}

func (v *verifier) function(d functions.Declaration) {
	p := v.p
	location := "projects/" + p.Project + "/locations/" + p.Region
	f := v.s.Resource("cloudfunctions", location+"/functions/"+d.Name)
	if f == nil {
		v.failf("function %s not deployed", d.Name)
		return
	}
	at := func(path string) any { return field(f, path) }
	what := func(path string) string { return d.Name + " " + path }
	v.want(what("environment"), at("environment"), "GEN_2")
	v.want(what("buildConfig.runtime"), at("buildConfig.runtime"), p.Runtime)
	v.want(what("buildConfig.entryPoint"), at("buildConfig.entryPoint"), d.Name)
	v.want(what("buildConfig.serviceAccount"), at("buildConfig.serviceAccount"), "projects/"+p.Project+"/serviceAccounts/"+p.Accounts.Build)
	v.want(what("serviceConfig.serviceAccountEmail"), at("serviceConfig.serviceAccountEmail"), p.Accounts.Runtime)
	sz := d.Size
	v.want(what("serviceConfig.maxInstanceRequestConcurrency"), at("serviceConfig.maxInstanceRequestConcurrency"), sz.Concurrency)
	v.want(what("serviceConfig.availableCpu"), at("serviceConfig.availableCpu"), sz.CPU)
	v.want(what("serviceConfig.availableMemory"), at("serviceConfig.availableMemory"), sz.Memory)
	v.want(what("serviceConfig.timeoutSeconds"), at("serviceConfig.timeoutSeconds"), int(sz.Timeout.Seconds()))
	v.want(what("serviceConfig.maxInstanceCount"), at("serviceConfig.maxInstanceCount"), sz.MaxInstances)
	// Zero is the proto3 default gcloud omits.
	if min := at("serviceConfig.minInstanceCount"); min != nil || sz.MinInstances != 0 {
		v.want(what("serviceConfig.minInstanceCount"), min, sz.MinInstances)
	}
	v.want(what("serviceConfig.environmentVariables"), jsonString(at("serviceConfig.environmentVariables")), jsonString(p.env()))

	retry := "RETRY_POLICY_DO_NOT_RETRY"
	if d.Retry {
		retry = "RETRY_POLICY_RETRY"
	}
	switch d.Kind {
	case functions.FirestoreTrigger:
		v.want(what("eventTrigger.eventType"), at("eventTrigger.eventType"), d.EventType)
		v.want(what("eventTrigger.eventFilters"), jsonString(at("eventTrigger.eventFilters")), jsonString([]map[string]string{
			{"attribute": "database", "value": "(default)"},
			{"attribute": "document", "operator": "match-path-pattern", "value": d.Document},
		}))
		v.want(what("eventTrigger.triggerRegion"), at("eventTrigger.triggerRegion"), p.Location)
	case functions.PubSub:
		v.want(what("eventTrigger.eventType"), at("eventTrigger.eventType"), "google.cloud.pubsub.topic.v1.messagePublished")
		v.want(what("eventTrigger.pubsubTopic"), at("eventTrigger.pubsubTopic"), "projects/"+p.Project+"/topics/"+d.Topic)
	}

	service, _ := at("serviceConfig.service").(string)
	invokers := v.s.Members("run", service, "roles/run.invoker")
	switch d.Kind {
	case functions.Callable:
		v.want(what("invokers"), invokers, []string{"allUsers"})
		v.want(what("eventTrigger"), at("eventTrigger"), nil)
	case functions.Schedule:
		v.want(what("invokers"), invokers, []string{"serviceAccount:" + p.Accounts.Scheduler})
		v.want(what("eventTrigger"), at("eventTrigger"), nil)
		v.job(d, at("serviceConfig.uri"))
	default:
		v.want(what("eventTrigger.retryPolicy"), at("eventTrigger.retryPolicy"), retry)
		v.want(what("eventTrigger.serviceAccountEmail"), at("eventTrigger.serviceAccountEmail"), p.Accounts.Trigger)
		v.want(what("invokers"), invokers, []string{"serviceAccount:" + p.Accounts.Trigger})
	}
}

func (v *verifier) job(d functions.Declaration, uri any) {
	p := v.p
	j := v.s.Resource("cloudscheduler", "projects/"+p.Project+"/locations/"+p.Region+"/jobs/"+d.Name)
	if j == nil {
		v.failf("scheduler job %s not created", d.Name)
		return
	}
	what := func(path string) string { return "job " + d.Name + " " + path }
	v.want(what("schedule"), field(j, "schedule"), d.Cron)
	v.want(what("timeZone"), field(j, "timeZone"), d.TimeZone)
	v.want(what("attemptDeadline"), field(j, "attemptDeadline"), seconds(d.Size.Timeout))
	v.want(what("httpTarget.httpMethod"), field(j, "httpTarget.httpMethod"), "POST")
	v.want(what("httpTarget.uri"), field(j, "httpTarget.uri"), uri)
	v.want(what("httpTarget.oidcToken.serviceAccountEmail"), field(j, "httpTarget.oidcToken.serviceAccountEmail"), p.Accounts.Scheduler)
	v.want(what("httpTarget.oidcToken.audience"), field(j, "httpTarget.oidcToken.audience"), uri)
}

// firestore checks what firebase-tools sent against firestore.rules and
// firestore.indexes.json, as firebase-tools itself reads them.
func (v *verifier) firestore() {
	db := "projects/" + v.p.Project + "/databases/(default)"
	var releases int
	for _, r := range v.s.Requests() {
		if r.API == "firebaserules" && strings.HasSuffix(r.Path, "/releases/cloud.firestore/(default)") && r.Method == "PATCH" {
			releases++
		}
	}
	if releases == 0 {
		v.failf("no Firestore rules release")
	}
	var spec struct {
		Indexes []struct {
			CollectionGroup string `json:"collectionGroup"`
		} `json:"indexes"`
		FieldOverrides []struct {
			CollectionGroup string            `json:"collectionGroup"`
			FieldPath       string            `json:"fieldPath"`
			TTL             bool              `json:"ttl"`
			Indexes         []json.RawMessage `json:"indexes"`
		} `json:"fieldOverrides"`
	}
	var fb struct {
		Firestore struct {
			Indexes string `json:"indexes"`
		} `json:"firestore"`
	}
	if err := readJSON(filepath.Join(v.root, "firebase.json"), &fb); err != nil {
		v.failf("%v", err)
		return
	}
	if err := readJSON(filepath.Join(v.root, fb.Firestore.Indexes), &spec); err != nil {
		v.failf("%v", err)
		return
	}
	indexes := 0
	for _, r := range v.s.Requests() {
		if r.API == "firestore" && r.Method == "POST" && strings.HasSuffix(r.Path, "/indexes") {
			indexes++
		}
	}
	if indexes > len(spec.Indexes) {
		v.failf("%d composite index creations for %d indexes: an index in the file never matches the deployed one", indexes, len(spec.Indexes))
	}
	for _, o := range spec.FieldOverrides {
		f := v.s.Resource("firestore", db+"/collectionGroups/"+o.CollectionGroup+"/fields/"+o.FieldPath)
		if f == nil {
			v.failf("field override %s.%s not deployed", o.CollectionGroup, o.FieldPath)
			continue
		}
		got, _ := field(f, "indexConfig.indexes").([]any)
		v.want("single-field indexes of "+o.CollectionGroup+"."+o.FieldPath, len(got), len(o.Indexes))
		if _, ttl := f["ttlConfig"]; ttl != o.TTL {
			v.want("TTL of "+o.CollectionGroup+"."+o.FieldPath, ttl, o.TTL)
		}
	}
}

// field returns the value at a dotted path of a JSON object, or nil.
func field(m map[string]any, path string) any {
	var cur any = m
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[part]
	}
	return cur
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// CheckUploads checks the source archives gcloud uploaded against the
// module at root: each must hold go.mod, go.sum and every non-test Go file
// of every package the root package builds from, and nothing else
// (.gcloudignore keeps the rest out).
func CheckUploads(ctx context.Context, root string, archives [][]byte) error {
	if len(archives) == 0 {
		return fmt.Errorf("%w: nothing uploaded", ErrCheck)
	}
	want, err := buildFiles(ctx, root)
	if err != nil {
		return err
	}
	for _, a := range archives {
		if err := checkUpload(want, a); err != nil {
			return err
		}
	}
	return nil
}

func checkUpload(want map[string]bool, archive []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		return fmt.Errorf("%w: upload is not a zip: %w", ErrCheck, err)
	}
	got := map[string]bool{}
	var extra []string
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		got[f.Name] = true
		if !want[f.Name] {
			extra = append(extra, f.Name)
		}
	}
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if !got[name] {
			missing = append(missing, name)
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Errorf("%w: the upload lacks %d file(s) the build needs: %s", ErrCheck, len(missing), strings.Join(missing, ", "))
	case len(extra) > 0:
		slices.Sort(extra)
		return fmt.Errorf("%w: the upload has %d file(s) the build does not need (add them to .gcloudignore): %s", ErrCheck, len(extra), strings.Join(extra[:min(len(extra), 20)], ", "))
	}
	return nil
}

// buildFiles lists, relative to root, the files the functions build reads:
// go.mod, go.sum and the Go files of the root package and of every package
// of this module it imports, for linux/amd64 as the buildpack builds.
func buildFiles(ctx context.Context, root string) (map[string]bool, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-json=Dir,GoFiles,CgoFiles,EmbedFiles,Module", ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOOS=linux", "GOARCH=amd64")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: go list: %w: %s", ErrCheck, err, strings.TrimSpace(stderr.String()))
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheck, err)
	}
	mod, err := readGoMod(ctx, root)
	if err != nil {
		return nil, err
	}
	files := map[string]bool{"go.mod": true, "go.sum": true}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var pkg struct {
			Dir                           string
			GoFiles, CgoFiles, EmbedFiles []string
			Module                        *struct{ Path string }
		}
		if err := dec.Decode(&pkg); err != nil {
			return nil, fmt.Errorf("%w: go list: %w", ErrCheck, err)
		}
		if pkg.Module == nil || pkg.Module.Path != mod.Module.Path {
			continue
		}
		rel, err := filepath.Rel(abs, pkg.Dir)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCheck, err)
		}
		for _, f := range slices.Concat(pkg.GoFiles, pkg.CgoFiles, pkg.EmbedFiles) {
			files[filepath.ToSlash(filepath.Join(rel, f))] = true
		}
	}
	return files, nil
}
