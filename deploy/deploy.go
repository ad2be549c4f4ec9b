// Package deploy turns the backend's declarations into the commands that put
// it on Google Cloud, and checks offline what a deploy would otherwise find
// out only after an upload and a remote build.
//
// [Commands] is pure: one [Plan] always gives the same commands, so a dry run
// shows exactly what a deploy runs and a golden file pins it. [Execute] runs
// them; [Checks] are the offline checks. The firebase CLI deploys what it owns
// (rules, indexes, TTL policies); gcloud deploys the rest, because the Firebase
// CLI cannot deploy Go functions.
//
// # Offline
//
// [Offline] runs the same commands, the real gcloud and firebase processes,
// against a local stand-in for the Google APIs (package standin), and
// [Verify] compares what the stand-in received with the plan; [CheckUpload]
// compares the uploaded source with what the build needs. A dry run and the
// package's tests do both, so a deploy is checked request by request before
// any project sees it.
package deploy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/shared/config"
)

// Errors a plan is refused with; match them with errors.Is.
var (
	// ErrInvalidPlan reports a plan that cannot produce a working deploy.
	ErrInvalidPlan = errors.New("invalid deploy plan")
	// ErrEmulatorEnv reports an emulator variable headed for production,
	// where it would, for one, make firebase-admin-go accept unsigned tokens.
	ErrEmulatorEnv = errors.New("emulator variable in a deployed environment")
	// ErrDemoProject reports a real deploy to a demo- project, which exists
	// only on the emulators.
	ErrDemoProject = errors.New("demo- projects are emulator-only")
)

// Plan is everything a deploy depends on.
type Plan struct {
	// Project is the Google Cloud / Firebase project id.
	Project string
	// Region is where functions and scheduler jobs run (e.g. us-central1).
	Region string
	// Location is the Firestore database's location (e.g. nam5): Eventarc
	// Firestore triggers must be created there, not in Region.
	Location string
	// Runtime is the Cloud Functions runtime (e.g. go126).
	Runtime string
	// Accounts are the service accounts the deploy creates and grants.
	Accounts Accounts
	// Env is extra environment for every function. GOOGLE_CLOUD_PROJECT and
	// FUNCTION_REGION come from the plan itself and may not be set here.
	Env map[string]string

	Declarations []functions.Declaration
	Topics       []string
}

// Accounts are the emails of the service accounts a deploy uses. Each gets
// only what its job needs (see [Plan.Roles]), so a leaked key or a bug in
// one function reaches no further.
type Accounts struct {
	// Runtime is the identity every function runs as: Firestore, Pub/Sub
	// publishing and Firebase Auth lookups.
	Runtime string
	// Build is the identity Cloud Build builds the functions' images as.
	// New projects (since July 2024) build with the Compute Engine default
	// account, which may lack the roles or be disabled by organisation
	// policy, so the deploy names its own.
	Build string
	// Trigger is the identity Eventarc and Pub/Sub push deliveries to the
	// event-driven functions carry.
	Trigger string
	// Scheduler is the identity Cloud Scheduler signs its OIDC tokens as.
	Scheduler string
}

// DefaultAccounts derives the accounts' emails from the project.
func DefaultAccounts(project string) Accounts {
	email := func(id string) string { return id + "@" + project + ".iam.gserviceaccount.com" }
	return Accounts{
		Runtime:   email("sx-runtime"),
		Build:     email("sx-build"),
		Trigger:   email("sx-trigger"),
		Scheduler: email("sx-scheduler"),
	}
}

// APIs returns the services a fresh project must have enabled. gcloud
// checks three of them itself and, under --quiet, only warns.
func APIs() []string {
	return []string{
		"cloudfunctions.googleapis.com",
		"run.googleapis.com",              // gen2 functions are Cloud Run services
		"cloudbuild.googleapis.com",       // builds the images
		"artifactregistry.googleapis.com", // stores them
		"eventarc.googleapis.com",         // Firestore and Pub/Sub triggers
		"pubsub.googleapis.com",
		"cloudscheduler.googleapis.com",
		"firestore.googleapis.com",
		"firebaserules.googleapis.com", // firebase deploy --only firestore:rules
		"firebase.googleapis.com",      // the Firebase project firebase-tools deploys to
		"identitytoolkit.googleapis.com",
		"iam.googleapis.com",
		"cloudresourcemanager.googleapis.com", // the project's IAM policy
	}
}

// Grant is one role given to one member on the project.
type Grant struct {
	Member, Role, Why string
}

// Roles returns the project-level roles of p's accounts. Narrower grants
// (invoking one function, publishing to one topic, minting tokens for the
// trigger account) are made on those resources by [Commands].
func (p Plan) Roles() []Grant {
	a := p.Accounts
	sa := func(email string) string { return "serviceAccount:" + email }
	return []Grant{
		{sa(a.Runtime), "roles/datastore.user", "Firestore reads, writes and transactions"},
		// VerifyIDTokenAndCheckRevoked looks the user up (CHECK_TOKEN_REVOCATION, on by default).
		{sa(a.Runtime), "roles/firebaseauth.viewer", "Firebase Auth user lookups for token revocation"},
		// Cloud Build's current guidance for a user-specified build account.
		{sa(a.Build), "roles/logging.logWriter", "build logs"},
		{sa(a.Build), "roles/artifactregistry.writer", "push the built images"},
		// objectAdmin, not objectViewer: Cloud Run's build-service-account
		// page asks for it (the source bucket and the build's own objects).
		{sa(a.Build), "roles/storage.objectAdmin", "read the uploaded source, write build objects"},
		{sa(a.Trigger), "roles/eventarc.eventReceiver", "receive events from Eventarc triggers"},
	}
}

// Command is one step of a deploy.
type Command struct {
	Args []string
	// Why is a one-line reason, shown as a comment in a dry run.
	Why string
	// Lookups run before the command; each one's trimmed standard output
	// replaces its placeholder in Args and Update. They carry values that
	// only exist once an earlier step has run, such as a function's URL.
	Lookups []Lookup
	// IfExists says what a failure because the resource already exists
	// means; create commands are not idempotent, a redeploy is.
	IfExists Exists
	// Update runs instead when Args failed because the resource exists and
	// IfExists is UpdateIfExists.
	Update []string
	// Retry, when set, is a lower-case substring of the standard error of a
	// failure that is transient: the command is run again, a few times.
	Retry string
}

// notFoundYet is how gcloud reports a grant to an account IAM does not
// know yet ("Service account ... does not exist"), which right after its
// creation is only propagation.
const notFoundYet = "does not exist"

// Lookup is a value read at run time.
type Lookup struct {
	Placeholder string
	Args        []string
}

// Exists is how a command treats a resource that already exists.
type Exists int

const (
	// FailIfExists: an existing resource is an error (the zero value).
	FailIfExists Exists = iota
	// SkipIfExists: an existing resource is what was wanted.
	SkipIfExists
	// UpdateIfExists: an existing resource is updated with Command.Update.
	UpdateIfExists
)

// Variables the plan sets on every function; config.FromEnv reads them.
const (
	envProject = "GOOGLE_CLOUD_PROJECT"
	envRegion  = "FUNCTION_REGION"
)

// URLPlaceholder stands for the HTTPS URL of function name until Execute
// looks it up: the URL exists only once the function is deployed.
func URLPlaceholder(name string) string { return "{{url:" + name + "}}" }

// The Artifact Registry repository Cloud Functions pushes the images of a
// region's functions to, and the cleanup policy the deploy gives it (a file
// relative to the module root, in gcloud's --policy format).
const (
	ArtifactsRepository = "gcf-artifacts"
	CleanupPolicyFile   = "deploy/artifacts-cleanup.json"
)

// Placeholders for values that exist only once an earlier step has run.
const (
	// projectNumberPlaceholder names the Pub/Sub service agent.
	projectNumberPlaceholder = "{{projectNumber}}"
)

// Commands returns the ordered commands that deploy p. Every one creates or
// updates, so running them again converges on the same end state:
//
//  1. enable the APIs;
//  2. the service accounts and their project roles, and the Pub/Sub service
//     agent's right to mint the trigger account's tokens;
//  3. Firestore rules, indexes and TTL policies (functions query by them);
//  4. the topics, each publishable by the runtime account;
//  5. each function with its size and identities, then who may invoke it,
//     and for a scheduled one its Cloud Scheduler job, which needs its URL;
//  6. a cleanup policy for the functions' images.
func Commands(p Plan) ([]Command, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cmds := []Command{{
		Args: p.gcloud(slices.Concat([]string{"services", "enable"}, APIs())...),
		Why:  "enable the APIs the deploy and the functions use",
	}, {
		// The agent exists only once something asks for it; the grant
		// below needs it.
		Args: p.gcloud("beta", "services", "identity", "create", "--service=pubsub.googleapis.com"),
		Why:  "the Pub/Sub service agent (push deliveries to the event-driven functions)",
	}}
	for _, acct := range p.accountList() {
		id, _, _ := strings.Cut(acct.email, "@")
		cmds = append(cmds, Command{
			Args:     p.gcloud("iam", "service-accounts", "create", id, "--display-name="+acct.display),
			Why:      "service account " + acct.email + " (kept if it already exists)",
			IfExists: SkipIfExists,
		})
	}
	for _, g := range p.Roles() {
		cmds = append(cmds, Command{
			// --condition=None: without it, a policy that already has a
			// conditional binding makes gcloud ask, which --quiet refuses.
			Args: p.gcloud("projects", "add-iam-policy-binding", p.Project,
				"--member="+g.Member, "--role="+g.Role, "--condition=None"),
			Why:   g.Member + ": " + g.Role + " (" + g.Why + ")",
			Retry: notFoundYet,
		})
	}
	cmds = append(cmds, Command{
		Args: p.gcloud("iam", "service-accounts", "add-iam-policy-binding", p.Accounts.Trigger,
			"--member=serviceAccount:service-"+projectNumberPlaceholder+"@gcp-sa-pubsub.iam.gserviceaccount.com",
			"--role=roles/iam.serviceAccountTokenCreator"),
		Why:   "let the Pub/Sub service agent sign the OIDC tokens of " + p.Accounts.Trigger + " on push deliveries",
		Retry: notFoundYet,
		Lookups: []Lookup{{
			Placeholder: projectNumberPlaceholder,
			Args:        p.gcloud("projects", "describe", p.Project, "--format=value(projectNumber)"),
		}},
	}, Command{
		Args: []string{"npx", "--prefix", "emulator", "firebase", "deploy",
			"--only", "firestore:rules,firestore:indexes", "--project", p.Project, "--non-interactive"},
		Why: "Firestore rules, composite indexes, field overrides and TTL policies (firestore.indexes.json)",
	})
	for _, t := range p.Topics {
		cmds = append(cmds, Command{
			Args:     p.gcloud("pubsub", "topics", "create", t),
			Why:      "Pub/Sub topic " + t + " (kept if it already exists)",
			IfExists: SkipIfExists,
		}, Command{
			Args: p.gcloud("pubsub", "topics", "add-iam-policy-binding", t,
				"--member=serviceAccount:"+p.Accounts.Runtime, "--role=roles/pubsub.publisher"),
			Why:   "let " + p.Accounts.Runtime + " publish to " + t + " (and to no other topic)",
			Retry: notFoundYet,
		})
	}
	env := p.envFlag()
	for _, d := range p.Declarations {
		cmds = append(cmds, p.functionCommands(d, env)...)
	}
	cmds = append(cmds, Command{
		// The repository exists once the first function is deployed.
		Args: p.gcloud("artifacts", "repositories", "set-cleanup-policies", ArtifactsRepository,
			"--location="+p.Region, "--policy="+CleanupPolicyFile, "--no-dry-run"),
		Why: "delete all but the 2 newest images of each function after 7 days (" + CleanupPolicyFile + "); every deploy pushes one per function",
	})
	// Validate already refused emulator variables in p.Env; checking the
	// output too guards every later edit of this function.
	if err := CheckNoEmulatorEnv(cmds); err != nil {
		return nil, err
	}
	return cmds, nil
}

type account struct{ email, display string }

// accountList is the accounts in creation order, each once (a flag may
// name one account for two jobs).
func (p Plan) accountList() []account {
	a := p.Accounts
	var out []account
	for _, acct := range []account{
		{a.Runtime, "shared experiences: functions runtime"},
		{a.Build, "shared experiences: function builds"},
		{a.Trigger, "shared experiences: event deliveries"},
		{a.Scheduler, "shared experiences: Cloud Scheduler jobs"},
	} {
		if !slices.ContainsFunc(out, func(o account) bool { return o.email == acct.email }) {
			out = append(out, acct)
		}
	}
	return out
}

func (p Plan) functionCommands(d functions.Declaration, env string) []Command {
	args := []string{"functions", "deploy", d.Name, "--gen2", "--runtime=" + p.Runtime,
		"--region=" + p.Region, "--source=.", "--entry-point=" + d.Name,
		"--service-account=" + p.Accounts.Runtime,
		"--build-service-account=projects/" + p.Project + "/serviceAccounts/" + p.Accounts.Build}
	var why string
	invoker := ""
	switch d.Kind {
	case functions.Callable:
		args = append(args, "--trigger-http", "--allow-unauthenticated")
		why = "callable " + d.Name + ": public HTTPS, the handler verifies the Firebase ID token itself"
	case functions.FirestoreTrigger:
		args = append(args,
			"--trigger-event-filters=type="+d.EventType,
			"--trigger-event-filters=database=(default)",
			"--trigger-event-filters-path-pattern=document="+d.Document,
			"--trigger-location="+p.Location,
			"--trigger-service-account="+p.Accounts.Trigger)
		why = "Firestore trigger " + d.Name + " on " + d.Document
		invoker = p.Accounts.Trigger
	case functions.PubSub:
		args = append(args, "--trigger-topic="+d.Topic, "--trigger-service-account="+p.Accounts.Trigger)
		why = "Pub/Sub function " + d.Name + " on topic " + d.Topic
		invoker = p.Accounts.Trigger
	case functions.Schedule:
		args = append(args, "--trigger-http", "--no-allow-unauthenticated")
		why = "scheduled " + d.Name + ": private HTTPS, only Cloud Scheduler may invoke it"
		invoker = p.Accounts.Scheduler
	}
	if d.Retry {
		args = append(args, "--retry")
		why += ", redelivered on failure"
	}
	sz := d.Size
	args = append(args,
		"--concurrency="+strconv.Itoa(sz.Concurrency), "--cpu="+sz.CPU, "--memory="+sz.Memory,
		"--timeout="+seconds(sz.Timeout),
		"--max-instances="+strconv.Itoa(sz.MaxInstances), "--min-instances="+strconv.Itoa(sz.MinInstances))
	why += fmt.Sprintf("; %d concurrent x %s CPU, %s, %s timeout, %d-%d instances",
		sz.Concurrency, sz.CPU, sz.Memory, sz.Timeout, sz.MinInstances, sz.MaxInstances)
	cmds := []Command{{Args: p.gcloud(append(args, env)...), Why: why}}
	if invoker != "" {
		cmds = append(cmds, Command{
			Args: p.gcloud("functions", "add-invoker-policy-binding", d.Name, "--region="+p.Region,
				"--member=serviceAccount:"+invoker),
			Why:   "let " + invoker + " invoke " + d.Name + " (Cloud Run checks the OIDC token of every request)",
			Retry: notFoundYet,
		})
	}
	if d.Kind != functions.Schedule {
		return cmds
	}

	url := URLPlaceholder(d.Name)
	// The attempt deadline is the function's timeout: Scheduler would
	// otherwise count a run still going after its 3 minute default as failed.
	job := []string{d.Name, "--location=" + p.Region, "--schedule=" + d.Cron, "--time-zone=" + d.TimeZone,
		"--uri=" + url, "--http-method=POST", "--oidc-service-account-email=" + p.Accounts.Scheduler,
		"--oidc-token-audience=" + url, "--attempt-deadline=" + seconds(sz.Timeout)}
	return append(cmds, Command{
		Args: p.gcloud(slices.Concat([]string{"scheduler", "jobs", "create", "http"}, job)...),
		Why:  "Cloud Scheduler job calling " + d.Name + " at '" + d.Cron + "' " + d.TimeZone + " with an OIDC token of " + p.Accounts.Scheduler,
		Lookups: []Lookup{{
			Placeholder: url,
			// --v2 is describe's documented flag for the v2 format,
			// where the URL is serviceConfig.uri.
			Args: p.gcloud("functions", "describe", d.Name, "--v2", "--region="+p.Region,
				"--format=value(serviceConfig.uri)"),
		}},
		IfExists: UpdateIfExists,
		Update:   p.gcloud(slices.Concat([]string{"scheduler", "jobs", "update", "http"}, job)...),
	})
}

func seconds(d time.Duration) string { return strconv.Itoa(int(d/time.Second)) + "s" }

// gcloud names the project and disables prompts on every call, so neither
// the developer's gcloud configuration nor a question on a terminal nobody
// watches decides what happens.
func (p Plan) gcloud(args ...string) []string {
	return slices.Concat([]string{"gcloud"}, args, []string{"--project=" + p.Project, "--quiet"})
}

// envFlag replaces the whole environment on each deploy, so a variable
// removed from the plan is removed from the function too.
func (p Plan) envFlag() string {
	env := p.env()
	pairs := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		pairs = append(pairs, k+"="+env[k])
	}
	return "--set-env-vars=" + strings.Join(pairs, ",")
}

// env is every function's environment: p.Env and the plan's own variables.
func (p Plan) env() map[string]string {
	env := maps.Clone(p.Env)
	if env == nil {
		env = map[string]string{}
	}
	env[envProject] = p.Project
	env[envRegion] = p.Region
	return env
}

// Validate reports the first reason p cannot produce a working deploy. It
// checks structure; [Checks] judge the declared values themselves.
func (p Plan) Validate() error {
	switch {
	case !validProjectID(p.Project):
		return fmt.Errorf("%w: project id %q (6-30 lowercase letters, digits, hyphens; starts with a letter)", ErrInvalidPlan, p.Project)
	case p.Region == "", p.Location == "":
		return fmt.Errorf("%w: region and Firestore location are required", ErrInvalidPlan)
	case !strings.HasPrefix(p.Runtime, "go"):
		return fmt.Errorf("%w: runtime %q is not a Go runtime", ErrInvalidPlan, p.Runtime)
	case len(p.Declarations) == 0:
		return fmt.Errorf("%w: no functions declared", ErrInvalidPlan)
	}
	if err := p.validateEnv(); err != nil {
		return err
	}
	a := p.Accounts
	for _, email := range []string{a.Runtime, a.Build, a.Trigger, a.Scheduler} {
		if !validAccountEmail(email, p.Project) {
			return fmt.Errorf("%w: service account %q: want NAME@%s.iam.gserviceaccount.com, NAME 6-30 lowercase letters, digits, hyphens", ErrInvalidPlan, email, p.Project)
		}
	}
	topics := map[string]bool{}
	for _, t := range p.Topics {
		if !validTopic(t) {
			return fmt.Errorf("%w: Pub/Sub topic %q (3-255 of letters, digits, -_.~+%%; starts with a letter, not goog)", ErrInvalidPlan, t)
		}
		topics[t] = true
	}
	for _, d := range p.Declarations {
		if err := p.validateDeclaration(d, topics); err != nil {
			return fmt.Errorf("%w: function %q: %w", ErrInvalidPlan, d.Name, err)
		}
	}
	return nil
}

func (p Plan) validateDeclaration(d functions.Declaration, topics map[string]bool) error {
	switch d.Kind {
	case functions.Callable:
	case functions.FirestoreTrigger:
		if d.EventType == "" || d.Document == "" {
			return errors.New("a Firestore trigger needs EventType and Document")
		}
	case functions.PubSub:
		if !topics[d.Topic] {
			// Deploying would create the topic implicitly, without the
			// settings the explicit create step gives it.
			return fmt.Errorf("topic %q is not among the plan's topics", d.Topic)
		}
	case functions.Schedule:
		if d.Cron == "" || d.TimeZone == "" {
			return errors.New("a schedule needs Cron and TimeZone")
		}
	default:
		return fmt.Errorf("unknown kind %q", d.Kind)
	}
	if d.Retry && (d.Kind == functions.Callable || d.Kind == functions.Schedule) {
		// Redelivery exists only for events; an HTTP caller (the client SDK,
		// Cloud Scheduler) does its own retrying.
		return fmt.Errorf("retry is only for event-driven functions, not %s", d.Kind)
	}
	return validSize(d)
}

// Limits of Cloud Run functions (gen2) that gcloud does not check before
// uploading and building.
const (
	maxEventTimeout = 540 * time.Second
	maxHTTPTimeout  = 3600 * time.Second
	maxConcurrency  = 1000
)

// validSize checks d.Size against the platform's limits: a size the
// platform refuses fails only after the upload and the build.
func validSize(d functions.Declaration) error {
	sz := d.Size
	cpu, err := strconv.ParseFloat(sz.CPU, 64)
	if err != nil || cpu <= 0 {
		return fmt.Errorf("size: cpu %q is not a positive number of vCPUs", sz.CPU)
	}
	mem, err := memoryMiB(sz.Memory)
	if err != nil {
		return fmt.Errorf("size: %w", err)
	}
	maxTimeout := maxHTTPTimeout
	if d.Kind == functions.FirestoreTrigger || d.Kind == functions.PubSub {
		maxTimeout = maxEventTimeout
	}
	switch {
	case sz.Concurrency < 1 || sz.Concurrency > maxConcurrency:
		return fmt.Errorf("size: concurrency %d not in 1..%d", sz.Concurrency, maxConcurrency)
	case sz.Concurrency > 1 && cpu < 1:
		return fmt.Errorf("size: concurrency %d needs at least 1 CPU, not %s", sz.Concurrency, sz.CPU)
	case sz.Timeout < time.Second || sz.Timeout%time.Second != 0 || sz.Timeout > maxTimeout:
		return fmt.Errorf("size: timeout %s not whole seconds in 1s..%s", sz.Timeout, maxTimeout)
	case sz.MaxInstances < 1:
		return fmt.Errorf("size: max instances %d: set a ceiling", sz.MaxInstances)
	case sz.MinInstances < 0 || sz.MinInstances > sz.MaxInstances:
		return fmt.Errorf("size: min instances %d not in 0..%d", sz.MinInstances, sz.MaxInstances)
	case mem < 128:
		return fmt.Errorf("size: memory %s below 128Mi", sz.Memory)
	case cpu < 1 && mem > 512:
		return fmt.Errorf("size: memory %s needs at least 1 CPU", sz.Memory)
	case mem > 4096 && cpu < 2:
		return fmt.Errorf("size: memory %s needs at least 2 CPUs", sz.Memory)
	}
	return nil
}

// memoryMiB parses the Kubernetes quantities gcloud's --memory takes (Mi, Gi).
func memoryMiB(m string) (int, error) {
	for suffix, mul := range map[string]int{"Mi": 1, "Gi": 1024} {
		if n, ok := strings.CutSuffix(m, suffix); ok {
			v, err := strconv.Atoi(n)
			if err == nil && v > 0 {
				return v * mul, nil
			}
		}
	}
	return 0, fmt.Errorf("memory %q is not a whole number of Mi or Gi", m)
}

func (p Plan) validateEnv() error {
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		v := p.Env[k]
		switch {
		case IsEmulatorVar(k):
			return fmt.Errorf("%w: %s", ErrEmulatorEnv, k)
		case k == envProject, k == envRegion:
			return fmt.Errorf("%w: %s comes from the plan's project and region", ErrInvalidPlan, k)
		case reservedEnv(k):
			return fmt.Errorf("%w: %s is set by Cloud Run functions itself", ErrInvalidPlan, k)
		case !validEnvKey(k):
			return fmt.Errorf("%w: environment variable name %q", ErrInvalidPlan, k)
		case strings.Contains(v, ","):
			// --set-env-vars splits on commas.
			return fmt.Errorf("%w: value of %s contains a comma", ErrInvalidPlan, k)
		}
	}
	return nil
}

// IsEmulatorVar reports whether an environment variable points a Google or
// Firebase client at a local emulator.
func IsEmulatorVar(key string) bool {
	k := strings.ToUpper(key)
	return strings.HasSuffix(k, "_EMULATOR_HOST") || k == "FIREBASE_EMULATOR_HUB"
}

// CheckNoEmulatorEnv refuses commands that would give a deployed function an
// emulator variable.
func CheckNoEmulatorEnv(cmds []Command) error {
	for _, c := range cmds {
		for _, a := range slices.Concat(c.Args, c.Update) {
			flag, list, ok := strings.Cut(a, "=")
			if !ok || !strings.HasPrefix(flag, "--") || !strings.Contains(flag, "env-vars") {
				continue
			}
			for pair := range strings.SplitSeq(list, ",") {
				if k, _, _ := strings.Cut(pair, "="); IsEmulatorVar(k) {
					return fmt.Errorf("%w: %s in %s", ErrEmulatorEnv, k, flag)
				}
			}
		}
	}
	return nil
}

// CheckLiveProject refuses a real deploy to a demo- project. A dry run may
// use one: it changes nothing.
func CheckLiveProject(project string) error {
	if config.IsDemoProject(project) {
		return fmt.Errorf("%w: refusing to deploy to %q; pass -project with a real project id", ErrDemoProject, project)
	}
	return nil
}

// ProcessEnv returns environ without emulator variables, and the names it
// dropped. The CLIs the deploy runs inherit its environment, and a developer's
// shell set up for the emulators must not redirect them.
func ProcessEnv(environ []string) (kept, dropped []string) {
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); IsEmulatorVar(k) {
			dropped = append(dropped, k)
			continue
		}
		kept = append(kept, kv)
	}
	return kept, dropped
}

// reservedEnv reports the names Cloud Run reserves for functions.
func reservedEnv(k string) bool {
	switch k {
	case "PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE":
		return true
	}
	return strings.HasPrefix(k, "X_GOOGLE_")
}

func validProjectID(id string) bool {
	if len(id) < 6 || len(id) > 30 || !isLower(rune(id[0])) || strings.HasSuffix(id, "-") {
		return false
	}
	return !strings.ContainsFunc(id, func(r rune) bool { return !isLower(r) && !isDigit(r) && r != '-' })
}

// validAccountEmail accepts the accounts the deploy can create: in the
// project itself, with an account id gcloud's create accepts.
func validAccountEmail(email, project string) bool {
	id, ok := strings.CutSuffix(email, "@"+project+".iam.gserviceaccount.com")
	return ok && validProjectID(id)
}

func validTopic(t string) bool {
	if len(t) < 3 || len(t) > 255 || !isLetter(rune(t[0])) || strings.HasPrefix(strings.ToLower(t), "goog") {
		return false
	}
	return !strings.ContainsFunc(t, func(r rune) bool { return !isLetter(r) && !isDigit(r) && !strings.ContainsRune("-_.~+%", r) })
}

func validEnvKey(k string) bool {
	if k == "" || isDigit(rune(k[0])) {
		return false
	}
	return !strings.ContainsFunc(k, func(r rune) bool { return !isLetter(r) && !isDigit(r) && r != '_' })
}

func isLower(r rune) bool  { return 'a' <= r && r <= 'z' }
func isLetter(r rune) bool { return isLower(r) || 'A' <= r && r <= 'Z' }
func isDigit(r rune) bool  { return '0' <= r && r <= '9' }

// Script renders cmds as the shell lines a dry run prints: each command's Why
// as a comment above it, lookups as command substitutions, and what happens
// when the resource already exists as a comment below.
func Script(cmds []Command) string {
	var b strings.Builder
	for _, c := range cmds {
		fmt.Fprintf(&b, "# %s\n%s\n", c.Why, c.shell(c.Args))
		switch c.IfExists {
		case SkipIfExists:
			b.WriteString("#   if it already exists: keep it\n")
		case UpdateIfExists:
			fmt.Fprintf(&b, "#   if it already exists: %s\n", c.shell(c.Update))
		}
	}
	return b.String()
}

// Line renders args as one shell command line.
func Line(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

func (c Command) shell(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = c.shellWord(a)
	}
	return strings.Join(q, " ")
}

// shellWord quotes a, turning placeholders into command substitutions so a
// dry run's output can be pasted into a shell.
func (c Command) shellWord(a string) string {
	for _, l := range c.Lookups {
		before, after, ok := strings.Cut(a, l.Placeholder)
		if !ok {
			continue
		}
		var b strings.Builder
		if before != "" {
			b.WriteString(Quote(before))
		}
		b.WriteString(`"$(` + Line(l.Args) + `)"`)
		if after != "" {
			b.WriteString(c.shellWord(after))
		}
		return b.String()
	}
	return Quote(a)
}

// Quote returns s as one POSIX shell word, unquoted when nothing in it is
// special to the shell.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if !strings.ContainsFunc(s, func(r rune) bool {
		return !isLetter(r) && !isDigit(r) && !strings.ContainsRune("_-./:=,@%+", r)
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
