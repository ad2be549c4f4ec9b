// Command run brings up the whole local stack for development (`make run`):
// the Auth, Firestore and Pub/Sub emulators on the ports in firebase.json,
// every Go function behind a front server on the functions port, trigger
// delivery, Pub/Sub feeding and schedules. It prints what a client needs and
// stops every child process on Ctrl-C or any exit.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/shared/config"
	"github.com/pajama-app/sharedexperiences/shared/logging"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := emulator.ModuleRoot()
	if err != nil {
		return err
	}
	project := flag.String("project", "", "project id (default: .firebaserc's default)")
	flag.Parse()

	cfg, err := readFirebaseJSON(filepath.Join(root, "firebase.json"))
	if err != nil {
		return err
	}
	if *project == "" {
		if *project, err = readDefaultProject(filepath.Join(root, ".firebaserc")); err != nil {
			return err
		}
	}
	faults, err := emulator.FaultsFromEnv()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	logger := logging.New(os.Stdout, slog.LevelInfo, *project)
	local, err := emulator.Start(ctx, emulator.Options{
		ProjectID:     *project,
		Root:          root,
		FunctionsPort: cfg.Emulators.Functions.Port,
		AuthPort:      cfg.Emulators.Auth.Port,
		FirestorePort: cfg.Emulators.Firestore.Port,
		PubSubPort:    cfg.Emulators.PubSub.Port,
		FunctionsEnv:  functionsEnv(),
		Faults:        faults,
		Schedules:     true,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	defer local.Stop()

	fmt.Printf(`
Shared experiences local stack is up (project %s)

  Auth emulator       http://%s     connectAuthEmulator(auth, "http://%s")
  Firestore emulator  %s          connectFirestoreEmulator(db, "%s", %s)
  Pub/Sub emulator    %s
  Functions           %s     connectFunctionsEmulator(functions, "%s", %s)
                      callable:  POST %s
                      schedules: POST %s/emulator/v1/schedules/{name}:run
                      deliveries, retries, host restarts: GET %s/emulator/v1/deliveries

  Environment for Go clients and tools:
    export %s

Ctrl-C stops everything.
`, local.ProjectID, local.AuthHost, local.AuthHost,
		local.FirestoreHost, hostOf(local.FirestoreHost), portOf(local.FirestoreHost),
		local.PubSubHost,
		local.FunctionsURL, hostOf(strings.TrimPrefix(local.FunctionsURL, "http://")), portOf(local.FunctionsURL),
		local.CallableURL("{name}"), local.FunctionsURL, local.FunctionsURL,
		strings.Join(local.Env(), " \\\n           "))

	<-ctx.Done()
	fmt.Println("\nstopping...")
	return nil
}

// functionsEnv passes the backend's own settings (see README) through to the
// functions host.
func functionsEnv() []string {
	var env []string
	for _, key := range config.Variables() {
		if v, ok := os.LookupEnv(key); ok {
			env = append(env, key+"="+v)
		}
	}
	return env
}

type firebaseJSON struct {
	Emulators struct {
		Auth      struct{ Port int } `json:"auth"`
		Firestore struct{ Port int } `json:"firestore"`
		PubSub    struct{ Port int } `json:"pubsub"`
		Functions struct{ Port int } `json:"functions"`
	} `json:"emulators"`
}

func readFirebaseJSON(path string) (firebaseJSON, error) {
	var c firebaseJSON
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func readDefaultProject(path string) (string, error) {
	var rc struct {
		Projects map[string]string `json:"projects"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(b, &rc); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if rc.Projects["default"] == "" {
		return "", fmt.Errorf("%s: no default project", path)
	}
	return rc.Projects["default"], nil
}

func hostOf(hp string) string {
	hp = strings.TrimPrefix(hp, "http://")
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		return hp[:i]
	}
	return hp
}

func portOf(hp string) string {
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		return hp[i+1:]
	}
	return ""
}
