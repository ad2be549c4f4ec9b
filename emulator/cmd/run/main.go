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
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/internal/workspace"
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
	hosts, err := readHosts(filepath.Join(root, "firebase.json"))
	if err != nil {
		return err
	}
	if *project == "" {
		if *project, err = workspace.DefaultProject(root); err != nil {
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
		Hosts:         hosts,
		FunctionsEnv:  functionsEnv(),
		Faults:        faults,
		Schedules:     true,
		PublishCounts: true,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	defer local.Stop()
	inspectorURL, stopInspector, err := startInspector(ctx, local, cfg.Emulators.UI.Port, logger)
	if err != nil {
		return err
	}
	defer stopInspector()

	fmt.Printf(`
Shared experiences local stack is up (project %s)

  Auth emulator       http://%s     connectAuthEmulator(auth, "http://%s")
  Firestore emulator  %s          connectFirestoreEmulator(db, "%s", %s)
  Pub/Sub emulator    %s
  Functions           %s     connectFunctionsEmulator(functions, "%s", %s)
                      callable:  POST %s
                      schedules: POST %s/emulator/v1/schedules/{name}:run
                      deliveries, retries, host restarts: GET %s/emulator/v1/deliveries
  Inspector           %s     sessions, events, presence, delivery controls
  Delivery            %s
                      (production's conditions unless EMULATOR_* variables say otherwise)

  Environment for Go clients and tools:
    export %s

Ctrl-C stops everything.
`, local.ProjectID, local.AuthHost, local.AuthHost,
		local.FirestoreHost, hostOf(local.FirestoreHost), portOf(local.FirestoreHost),
		local.PubSubHost,
		local.FunctionsURL, hostOf(local.FunctionsURL), portOf(local.FunctionsURL),
		local.CallableURL("{name}"), local.FunctionsURL, local.FunctionsURL,
		inspectorURL, local.Faults(),
		strings.Join(local.Env(), " \\\n           "))
	if err := printDevices(ctx, local); err != nil {
		return err
	}

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
		// UI stays disabled for firebase-tools (its Emulator UI is not
		// run); its port is where the runner serves the inspector.
		UI struct{ Port int } `json:"ui"`
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

// hostOf and portOf split "host:port" (an http:// URL's host too), for the
// banner; net.SplitHostPort knows IPv6 brackets.
func hostOf(hp string) string {
	host, _, err := net.SplitHostPort(strings.TrimPrefix(hp, "http://"))
	if err != nil {
		return hp
	}
	return host
}

func portOf(hp string) string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(hp, "http://"))
	return port
}
