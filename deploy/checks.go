package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/pajama-app/sharedexperiences/functions"
)

// ErrCheck reports a failed offline check.
var ErrCheck = errors.New("check failed")

const (
	frameworkFunctions = "github.com/GoogleCloudPlatform/functions-framework-go/functions"
	// buildpackMainDir is where the Go functions buildpack writes its
	// generated main, inside the uploaded module.
	buildpackMainDir = "functions.local/app"
)

// Check is one offline check.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Checks returns the offline checks of the module at root and of p: what
// would otherwise fail only after an upload, a remote build or a deploy.
func Checks(root string, p Plan) []Check {
	return []Check{
		{"firebase.json, firestore.rules and firestore.indexes.json", func(context.Context) error {
			return CheckFirebaseConfig(root)
		}},
		{"module root is one package importing functions-framework (buildpack)", func(context.Context) error {
			return CheckRootPackage(root)
		}},
		{"go.mod suits the buildpack and the " + p.Runtime + " runtime", func(ctx context.Context) error {
			return CheckGoMod(ctx, root, p.Runtime)
		}},
		{"root package builds into the buildpack's declarative main", func(ctx context.Context) error {
			return CheckBuildpackBuild(ctx, root)
		}},
		{"schedules: cron expressions and time zones", func(context.Context) error {
			return CheckSchedules(p.Declarations)
		}},
		{"Firestore trigger document patterns", func(context.Context) error {
			return CheckDocumentPatterns(p.Declarations)
		}},
		{"function names", func(context.Context) error {
			return CheckNames(p.Declarations)
		}},
	}
}

// CheckFirebaseConfig checks what `firebase deploy --only firestore` reads:
// firebase.json, and the rules and indexes files it names.
func CheckFirebaseConfig(root string) error {
	var fb struct {
		Firestore json.RawMessage `json:"firestore"`
	}
	if err := readJSON(filepath.Join(root, "firebase.json"), &fb); err != nil {
		return err
	}
	var fs struct {
		Rules   string `json:"rules"`
		Indexes string `json:"indexes"`
	}
	if err := json.Unmarshal(fb.Firestore, &fs); err != nil || fs.Rules == "" || fs.Indexes == "" {
		// An array would be a multi-database config, which the firebase
		// deploy command of the plan does not target.
		return fmt.Errorf("%w: firebase.json needs a \"firestore\" object naming \"rules\" and \"indexes\"", ErrCheck)
	}
	rules, err := os.ReadFile(filepath.Join(root, fs.Rules))
	if err != nil {
		return fmt.Errorf("%w: rules named by firebase.json: %w", ErrCheck, err)
	}
	if !bytes.Contains(rules, []byte("service cloud.firestore")) {
		return fmt.Errorf("%w: %s has no \"service cloud.firestore\" block", ErrCheck, fs.Rules)
	}
	var idx struct {
		Indexes        []json.RawMessage            `json:"indexes"`
		FieldOverrides []map[string]json.RawMessage `json:"fieldOverrides"`
	}
	if err := readJSON(filepath.Join(root, fs.Indexes), &idx); err != nil {
		return err
	}
	return checkFieldOverrides(fs.Indexes, idx.FieldOverrides)
}

// checkFieldOverrides applies firebase-tools' validation of TTL overrides,
// which the README's own sample would fail: "indexes" is required and "ttl"
// must be a JSON boolean. Firestore allows one TTL field per collection group.
func checkFieldOverrides(file string, overrides []map[string]json.RawMessage) error {
	ttlField := map[string]string{}
	for i, o := range overrides {
		var group, field string
		if json.Unmarshal(o["collectionGroup"], &group) != nil || json.Unmarshal(o["fieldPath"], &field) != nil || group == "" || field == "" {
			return fmt.Errorf("%w: %s fieldOverrides[%d] needs collectionGroup and fieldPath", ErrCheck, file, i)
		}
		var indexes []json.RawMessage
		if raw, ok := o["indexes"]; !ok || json.Unmarshal(raw, &indexes) != nil {
			return fmt.Errorf("%w: %s fieldOverrides[%d] (%s.%s) needs an \"indexes\" array", ErrCheck, file, i, group, field)
		}
		raw, ok := o["ttl"]
		if !ok {
			continue
		}
		var ttl bool
		if err := json.Unmarshal(raw, &ttl); err != nil {
			return fmt.Errorf("%w: %s fieldOverrides[%d] (%s.%s): \"ttl\" must be true or false, not %s", ErrCheck, file, i, group, field, raw)
		}
		if !ttl {
			continue
		}
		if prev, dup := ttlField[group]; dup {
			return fmt.Errorf("%w: %s: collection group %s has two TTL fields (%s, %s)", ErrCheck, file, group, prev, field)
		}
		ttlField[group] = field
	}
	return nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheck, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCheck, filepath.Base(path), err)
	}
	return nil
}

// CheckRootPackage checks the module root as the Go functions buildpack sees
// it. The buildpack parses the root directory the way go/parser.ParseDir
// does: every *.go file, _test.go files included and build tags ignored, so a
// `package x_test` file there is a second package and fails the build. It
// chooses its declarative main template only if the package itself imports
// functions-framework's functions package; otherwise it generates a call to
// a function named after the entry point, which does not exist here.
func CheckRootPackage(root string) error {
	// ParseDir is deprecated (it ignores build tags), but ignoring build
	// tags is exactly the behaviour to reproduce, so its loop is inlined.
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheck, err)
	}
	fset := token.NewFileSet()
	files := map[string][]string{}
	importsFramework := false
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(root, e.Name()), nil, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCheck, err)
		}
		files[f.Name.Name] = append(files[f.Name.Name], e.Name())
		for _, imp := range f.Imports {
			// A test file's import does not register anything in the
			// deployed binary.
			if p, _ := strconv.Unquote(imp.Path.Value); p == frameworkFunctions && !strings.HasSuffix(e.Name(), "_test.go") {
				importsFramework = true
			}
		}
	}
	names := slices.Sorted(maps.Keys(files))
	switch {
	case len(names) == 0:
		return fmt.Errorf("%w: no Go files at the module root; the buildpack compiles only that package", ErrCheck)
	case len(names) > 1:
		var desc []string
		for _, n := range names {
			desc = append(desc, fmt.Sprintf("%s (%s)", n, strings.Join(files[n], ", ")))
		}
		return fmt.Errorf("%w: %d packages at the module root, the buildpack needs one: %s", ErrCheck, len(names), strings.Join(desc, "; "))
	}
	name := names[0]
	if name == "main" {
		return fmt.Errorf("%w: the root package is main; the buildpack generates main and imports the root package", ErrCheck)
	}
	if !importsFramework {
		return fmt.Errorf("%w: no non-test file of package %s imports %q, so the buildpack would not use its declarative main", ErrCheck, name, frameworkFunctions)
	}
	// The buildpack imports module/<package name> instead of the module
	// root when a directory of that name exists at the root.
	if fi, err := os.Stat(filepath.Join(root, name)); err == nil && fi.IsDir() {
		return fmt.Errorf("%w: directory %s/ has the root package's name; the buildpack would build it instead of the root package", ErrCheck, name)
	}
	return nil
}

// CheckGoMod checks the module path and Go version against what the
// buildpack and the runtime accept.
func CheckGoMod(ctx context.Context, root, runtime string) error {
	mod, err := readGoMod(ctx, root)
	if err != nil {
		return err
	}
	if first, _, _ := strings.Cut(mod.Module.Path, "/"); !strings.Contains(first, ".") {
		return fmt.Errorf("%w: module path %q needs a dot in its first element (the buildpack refuses it)", ErrCheck, mod.Module.Path)
	}
	want, ok := runtimeGoVersion(runtime)
	if !ok {
		return fmt.Errorf("%w: runtime %q is not of the form go1NN", ErrCheck, runtime)
	}
	have, ok := majorMinor(mod.Go)
	if !ok {
		return fmt.Errorf("%w: go.mod go directive %q", ErrCheck, mod.Go)
	}
	if have[0] > want[0] || have[0] == want[0] && have[1] > want[1] {
		return fmt.Errorf("%w: go.mod asks for go %s but runtime %s is Go %d.%d", ErrCheck, mod.Go, runtime, want[0], want[1])
	}
	return nil
}

type goMod struct {
	Module struct{ Path string }
	Go     string
}

// readGoMod lets the go command parse go.mod rather than a second parser.
func readGoMod(ctx context.Context, root string) (goMod, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "edit", "-json")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return goMod{}, fmt.Errorf("%w: go mod edit -json: %w: %s", ErrCheck, err, strings.TrimSpace(stderr.String()))
	}
	var m goMod
	if err := json.Unmarshal(out, &m); err != nil {
		return goMod{}, fmt.Errorf("%w: go mod edit -json: %w", ErrCheck, err)
	}
	return m, nil
}

// runtimeGoVersion maps a runtime id (go126) to its Go version (1.26).
func runtimeGoVersion(runtime string) ([2]int, bool) {
	digits, ok := strings.CutPrefix(runtime, "go1")
	if !ok || len(digits) < 2 {
		return [2]int{}, false
	}
	minor, err := strconv.Atoi(digits)
	return [2]int{1, minor}, err == nil
}

func majorMinor(v string) ([2]int, bool) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return [2]int{major, minor}, err1 == nil && err2 == nil
}

// mainTemplate is equivalent to the buildpack's declarative main: it
// blank-imports the root package, whose init registers every function, and
// serves them with functions-framework.
const mainTemplate = `// Code generated by the deploy check; mirrors the Go functions buildpack.
package main

import (
	"log"
	"net/http"
	"os"

	_ %q

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %%v\n", err)
	}
}
`

// CheckBuildpackBuild compiles the root package into a main like the one the
// buildpack generates, from inside the module as the buildpack does, for
// linux/amd64. The main is supplied through a build overlay, so nothing is
// written into the module.
func CheckBuildpackBuild(ctx context.Context, root string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheck, err)
	}
	mod, err := readGoMod(ctx, root)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "deploy-check-")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheck, err)
	}
	defer os.RemoveAll(tmp)

	src := filepath.Join(tmp, "main.go")
	if err := os.WriteFile(src, fmt.Appendf(nil, mainTemplate, mod.Module.Path), 0o644); err != nil {
		return fmt.Errorf("%w: %w", ErrCheck, err)
	}
	mainFile := filepath.Join(root, filepath.FromSlash(buildpackMainDir), "main.go")
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {mainFile: src}})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCheck, err)
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		return fmt.Errorf("%w: %w", ErrCheck, err)
	}

	cmd := exec.CommandContext(ctx, "go", "build", "-overlay="+overlayFile, "-o", os.DevNull, mainFile)
	cmd.Dir = root
	// The upload is the module alone: no workspace. The runtime is linux/amd64.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: go build of the buildpack-style main: %w\n%s", ErrCheck, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// cronParser accepts what Cloud Scheduler's unix-cron accepts: five fields,
// no @descriptors (robfig's standard parser would take @every 5m).
func cronParser() cron.Parser {
	return cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
}

// CheckSchedules checks every schedule's cron expression and time zone.
func CheckSchedules(decls []functions.Declaration) error {
	p := cronParser()
	for _, d := range decls {
		if d.Kind != functions.Schedule {
			continue
		}
		if strings.Contains(d.Cron, "TZ=") {
			return fmt.Errorf("%w: %s: put the time zone in TimeZone, not in Cron %q", ErrCheck, d.Name, d.Cron)
		}
		if _, err := p.Parse(d.Cron); err != nil {
			return fmt.Errorf("%w: %s: cron %q: %w", ErrCheck, d.Name, d.Cron, err)
		}
		// LoadLocation reads "" as UTC and "Local" as this machine's zone;
		// Cloud Scheduler wants an IANA name.
		if d.TimeZone == "" || d.TimeZone == "Local" {
			return fmt.Errorf("%w: %s: time zone %q is not an IANA name", ErrCheck, d.Name, d.TimeZone)
		}
		loc, err := time.LoadLocation(d.TimeZone)
		if err != nil {
			return fmt.Errorf("%w: %s: time zone: %w", ErrCheck, d.Name, err)
		}
		sched, _ := p.Parse(d.Cron)
		if gap := shortestGap(sched, loc); d.Size.Timeout > gap {
			return fmt.Errorf("%w: %s: timeout %s is longer than the %s between two runs of %q; runs would overlap", ErrCheck, d.Name, d.Size.Timeout, gap, d.Cron)
		}
	}
	return nil
}

// shortestGap is the shortest time between two consecutive activations of
// sched over a year (long enough to meet every day-of-month and weekday
// combination, and a daylight saving change in loc), or over its first
// 20,000 activations when those come sooner: a schedule that frequent
// repeats within a day.
func shortestGap(sched cron.Schedule, loc *time.Location) time.Duration {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	end := start.AddDate(1, 0, 0)
	shortest := end.Sub(start)
	prev := sched.Next(start)
	for n := 0; n < 20000 && !prev.IsZero() && prev.Before(end); n++ {
		next := sched.Next(prev)
		if next.IsZero() {
			break
		}
		shortest = min(shortest, next.Sub(prev))
		prev = next
	}
	return shortest
}

// CheckDocumentPatterns checks every Firestore trigger's document pattern.
func CheckDocumentPatterns(decls []functions.Declaration) error {
	for _, d := range decls {
		if d.Kind != functions.FirestoreTrigger {
			continue
		}
		if err := ValidDocumentPattern(d.Document); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCheck, d.Name, err)
		}
	}
	return nil
}

// ValidDocumentPattern reports why pattern is not an Eventarc Firestore
// document path pattern: collection/document pairs, each segment a literal
// or a {wildcard}, with an optional {wildcard=**} last.
func ValidDocumentPattern(pattern string) error {
	if pattern == "" {
		return errors.New("empty document pattern")
	}
	segs := strings.Split(pattern, "/")
	seen := map[string]bool{}
	multi := false
	for i, s := range segs {
		switch {
		case s == "":
			return fmt.Errorf("document pattern %q has an empty segment", pattern)
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if n, ok := strings.CutSuffix(name, "=**"); ok {
				if i != len(segs)-1 {
					return fmt.Errorf("document pattern %q: %s must be the last segment", pattern, s)
				}
				name, multi = n, true
			}
			if !validWildcard(name) {
				return fmt.Errorf("document pattern %q: wildcard %s is not {identifier}", pattern, s)
			}
			if seen[name] {
				return fmt.Errorf("document pattern %q: wildcard {%s} appears twice", pattern, name)
			}
			seen[name] = true
		case strings.ContainsAny(s, "{}*"):
			return fmt.Errorf("document pattern %q: segment %q mixes a literal and a wildcard", pattern, s)
		case s == "." || s == "..":
			return fmt.Errorf("document pattern %q: segment %q", pattern, s)
		case strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__"):
			return fmt.Errorf("document pattern %q: %s is a reserved id", pattern, s)
		}
	}
	if !multi && len(segs)%2 != 0 {
		return fmt.Errorf("document pattern %q has %d segments; a document path has an even number", pattern, len(segs))
	}
	return nil
}

func validWildcard(name string) bool {
	if name == "" || isDigit(rune(name[0])) {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool { return !isLetter(r) && !isDigit(r) && r != '_' })
}

// CheckNames checks that every function name is a valid Cloud Functions name
// and that no two collide. Gen2 functions are Cloud Run services, whose names
// are lowercase, so names differing only in case (or _ against -) are
// treated as colliding.
func CheckNames(decls []functions.Declaration) error {
	seen := map[string]string{}
	for _, d := range decls {
		if !validFunctionName(d.Name) {
			return fmt.Errorf("%w: function name %q: 1-63 letters, digits, - or _, starting with a letter and ending with a letter or digit", ErrCheck, d.Name)
		}
		key := strings.ReplaceAll(strings.ToLower(d.Name), "_", "-")
		if prev, dup := seen[key]; dup {
			return fmt.Errorf("%w: function names %q and %q collide", ErrCheck, prev, d.Name)
		}
		seen[key] = d.Name
	}
	return nil
}

func validFunctionName(n string) bool {
	if n == "" || len(n) > 63 || !isLetter(rune(n[0])) {
		return false
	}
	if last := rune(n[len(n)-1]); !isLetter(last) && !isDigit(last) {
		return false
	}
	return !strings.ContainsFunc(n, func(r rune) bool { return !isLetter(r) && !isDigit(r) && r != '-' && r != '_' })
}
