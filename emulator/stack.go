package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// StackOptions configures the three emulators. Zero ports are chosen free.
type StackOptions struct {
	ProjectID string
	// Host is the address every emulator binds to (default 127.0.0.1);
	// Hosts overrides it per emulator (see Hosts).
	Host                                string
	Hosts                               Hosts
	AuthPort, FirestorePort, PubSubPort int
	// RulesPath is loaded into the Firestore emulator.
	RulesPath string
	// FunctionsAddr (host:port) is where the Firestore emulator delivers
	// triggers: the runner's front server.
	FunctionsAddr string
	// NodeDir holds node_modules with firebase-tools (the emulator/ folder).
	NodeDir string
	// Logs receives the emulators' own output.
	Logs io.Writer
	// StartTimeout bounds start-up (default 90 s).
	StartTimeout time.Duration

	// freePort chooses the zero ports (default FreePort); tests hand out a
	// taken one.
	freePort func(host string) (int, error)
}

// Stack is the running Auth, Firestore and Pub/Sub emulators.
type Stack struct {
	ProjectID string
	// AuthHost, FirestoreHost and PubSubHost are host:port as this machine
	// reaches them (a wildcard's loopback).
	AuthHost, FirestoreHost, PubSubHost string

	listeners []Listener
	procs     []*proc
	tempDir   string
}

// Env returns the variables by which the Google Cloud and Firebase clients
// find the emulators.
func (s *Stack) Env() []string {
	return []string{
		"FIRESTORE_EMULATOR_HOST=" + s.FirestoreHost,
		"FIREBASE_AUTH_EMULATOR_HOST=" + s.AuthHost,
		"PUBSUB_EMULATOR_HOST=" + s.PubSubHost,
		"GOOGLE_CLOUD_PROJECT=" + s.ProjectID,
		"GCLOUD_PROJECT=" + s.ProjectID,
	}
}

// ErrToolMissing reports that java, the gcloud emulators or firebase-tools
// are not installed; `make test` installs what can be installed.
var ErrToolMissing = errors.New("emulator tool missing")

// startAttempts bounds StartStack's attempts on fresh ports.
const startAttempts = 3

// StartStack starts the three emulators in parallel and waits until each
// answers. On error, whatever started is stopped.
//
// A port chosen free is free only when chosen: another process can bind it
// in the seconds before an emulator does (firebase-tools then says "Port N
// is not open"). An emulator that exits before it answers is therefore
// started again, with the whole stack, on newly chosen ports; the ports the
// caller set stay as they were.
func StartStack(ctx context.Context, o StackOptions) (*Stack, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 90 * time.Second
	}
	if o.Logs == nil {
		o.Logs = io.Discard
	}
	if o.freePort == nil {
		o.freePort = FreePort
	}
	for attempt := 1; ; attempt++ {
		s, err := startStack(ctx, o)
		if err == nil || attempt == startAttempts || !errors.Is(err, errExitedEarly) || ctx.Err() != nil {
			return s, err
		}
		fmt.Fprintf(o.Logs, "emulator stack: attempt %d of %d: %v; starting again on fresh ports\n", attempt, startAttempts, err)
	}
}

// startStack is one attempt of StartStack, with its defaults applied; the
// zero ports of o are chosen anew.
func startStack(ctx context.Context, o StackOptions) (_ *Stack, err error) {
	tools, err := findTools(o.NodeDir)
	if err != nil {
		return nil, err
	}
	hosts := o.Hosts.withDefault(o.Host)
	binds, err := primaryAddrs(ctx, hosts)
	if err != nil {
		return nil, err
	}
	for _, b := range []struct {
		port *int
		addr string
	}{{&o.AuthPort, binds.Auth}, {&o.FirestorePort, binds.Firestore}, {&o.PubSubPort, binds.PubSub}} {
		if *b.port == 0 {
			if *b.port, err = o.freePort(b.addr); err != nil {
				return nil, err
			}
		}
	}
	tmp, err := os.MkdirTemp("", "sharedexp-emulators-")
	if err != nil {
		return nil, err
	}
	s := &Stack{
		ProjectID:     o.ProjectID,
		AuthHost:      connectHostPort(binds.Auth, o.AuthPort),
		FirestoreHost: connectHostPort(binds.Firestore, o.FirestorePort),
		PubSubHost:    connectHostPort(binds.PubSub, o.PubSubPort),
		listeners: []Listener{
			{Name: "auth", Host: hosts.Auth, Port: o.AuthPort},
			{Name: "firestore", Host: hosts.Firestore, Port: o.FirestorePort},
			{Name: "pubsub", Host: hosts.PubSub, Port: o.PubSubPort},
		},
		tempDir: tmp,
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	fsArgs := []string{tools.java, "-Duser.language=en", "-cp", tools.firestoreJar,
		"com.google.cloud.datastore.emulator.firestore.CloudFirestore",
		"--host=" + binds.Firestore, fmt.Sprintf("--port=%d", o.FirestorePort),
		"--project_id=" + o.ProjectID}
	if o.RulesPath != "" {
		fsArgs = append(fsArgs, "--rules="+o.RulesPath)
	}
	if o.FunctionsAddr != "" {
		fsArgs = append(fsArgs, "--functions_emulator="+o.FunctionsAddr)
	}
	psArgs := []string{tools.pubsub, "--host=" + binds.PubSub, fmt.Sprintf("--port=%d", o.PubSubPort)}
	authArgs, authEnv, err := firebaseAuthCommand(tools, o, hosts.Auth, tmp)
	if err != nil {
		return nil, err
	}

	type spec struct {
		name, readyURL string
		env            []string
		argv           []string
	}
	specs := []spec{
		{"firestore", "http://" + s.FirestoreHost + "/", os.Environ(), fsArgs},
		{"pubsub", "http://" + s.PubSubHost + "/", os.Environ(), psArgs},
		{"auth", "http://" + s.AuthHost + "/emulator/v1/projects/" + o.ProjectID + "/config", authEnv, authArgs},
	}
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(specs))
	for _, sp := range specs {
		p, err := startProc(sp.name, prefixWriter(o.Logs, sp.name), sp.env, o.NodeDir, sp.argv...)
		if err != nil {
			return nil, err
		}
		s.procs = append(s.procs, p)
	}
	for i, sp := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = waitHTTP(ctx, s.procs[i], sp.readyURL, false)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Stop stops every emulator and its children, and removes temporary files.
func (s *Stack) Stop() {
	var wg sync.WaitGroup
	for _, p := range s.procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(5 * time.Second) }()
	}
	wg.Wait()
	s.procs = nil
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
	}
}

type tools struct {
	java, firestoreJar, pubsub, node, firebase string
}

// findTools locates the installed emulators: the Google Cloud CLI's
// Firestore and Pub/Sub emulators, and firebase-tools from node_modules.
func findTools(nodeDir string) (tools, error) {
	var t tools
	var err error
	if t.java, err = exec.LookPath("java"); err != nil {
		return t, fmt.Errorf("%w: java: %v", ErrToolMissing, err)
	}
	if t.node, err = exec.LookPath("node"); err != nil {
		return t, fmt.Errorf("%w: node: %v", ErrToolMissing, err)
	}
	sdk, err := gcloudSDKRoot()
	if err != nil {
		return t, err
	}
	t.firestoreJar = filepath.Join(sdk, "platform", "cloud-firestore-emulator", "cloud-firestore-emulator.jar")
	t.pubsub = filepath.Join(sdk, "platform", "pubsub-emulator", "bin", "cloud-pubsub-emulator")
	t.firebase = filepath.Join(nodeDir, "node_modules", "firebase-tools", "lib", "bin", "firebase.js")
	for _, f := range []string{t.firestoreJar, t.pubsub, t.firebase} {
		if _, err := os.Stat(f); err != nil {
			return t, fmt.Errorf("%w: %v (run `make test`, which installs what it can)", ErrToolMissing, err)
		}
	}
	return t, nil
}

// gcloudSDKRoot finds the Google Cloud CLI's installation: CLOUDSDK_ROOT_DIR
// if set, else the directory above the real gcloud binary, else what
// `gcloud info` says.
func gcloudSDKRoot() (string, error) {
	if dir := os.Getenv("CLOUDSDK_ROOT_DIR"); dir != "" {
		return dir, nil
	}
	bin, err := exec.LookPath("gcloud")
	if err != nil {
		return "", fmt.Errorf("%w: gcloud: %v", ErrToolMissing, err)
	}
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		root := filepath.Dir(filepath.Dir(real))
		if _, err := os.Stat(filepath.Join(root, "platform")); err == nil {
			return root, nil
		}
	}
	out, err := exec.Command(bin, "info", "--format=value(installation.sdk_root)").Output()
	if err != nil {
		return "", fmt.Errorf("%w: gcloud info: %v", ErrToolMissing, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// firebaseAuthCommand runs firebase-tools with only the Auth emulator, from
// a generated firebase.json that pins every port firebase-tools would
// otherwise take (hub, logging: private, on the loopback) and turns the UI
// off (it would download). authHost goes through as configured:
// firebase-tools resolves it as for any emulator.
// A private TMPDIR keeps firebase-tools' hub locator file apart from other
// stacks running at the same time for the same project.
func firebaseAuthCommand(t tools, o StackOptions, authHost, tmp string) (argv, env []string, err error) {
	hub, err := FreePort(loopbackHost)
	if err != nil {
		return nil, nil, err
	}
	logging, err := FreePort(loopbackHost)
	if err != nil {
		return nil, nil, err
	}
	cfg := map[string]any{"emulators": map[string]any{
		"auth":              map[string]any{"host": authHost, "port": o.AuthPort},
		"hub":               map[string]any{"host": loopbackHost, "port": hub},
		"logging":           map[string]any{"host": loopbackHost, "port": logging},
		"ui":                map[string]any{"enabled": false},
		"singleProjectMode": true,
	}}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(tmp, "firebase.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return nil, nil, err
	}
	ftmp := filepath.Join(tmp, "firebase-tmp")
	if err := os.MkdirAll(ftmp, 0o700); err != nil {
		return nil, nil, err
	}
	env = append(os.Environ(), "TMPDIR="+ftmp, "NO_UPDATE_NOTIFIER=1", "FIREBASE_CLI_EXPERIMENTS=", "CI=true")
	argv = []string{t.node, t.firebase, "emulators:start", "--only", "auth",
		"--project", o.ProjectID, "--config", cfgPath}
	return argv, env, nil
}
