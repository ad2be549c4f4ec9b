// Command seed writes a call and its members' Auth users into a running
// local stack (`make run`), for manual testing (`make seed`):
//
//	go run ./emulator/cmd/seed -call call1 -users alice,bob [-status active|ended] [-json]
//
// It finds the emulators from FIRESTORE_EMULATOR_HOST,
// FIREBASE_AUTH_EMULATOR_HOST and GOOGLE_CLOUD_PROJECT (what `make run`
// prints), else from firebase.json and .firebaserc, and refuses any project
// that is not a demo- one: it writes with admin rights.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	firebase "firebase.google.com/go/v4"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/seed"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	call := fs.String("call", "call1", "call id: calls/{call}")
	users := fs.String("users", "alice,bob", "comma-separated uids, the call's members")
	status := fs.String("status", "active", "the call's status: active or ended")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	uids, err := seed.ParseUIDs(*users)
	if err != nil {
		return err
	}
	if err := findEmulators(); err != nil {
		return err
	}
	project := os.Getenv("GOOGLE_CLOUD_PROJECT")
	if !strings.HasPrefix(project, "demo-") {
		return fmt.Errorf("project %q is not a demo- project: seed writes with admin rights, emulators only", project)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: project})
	if err != nil {
		return err
	}
	authClient, err := app.Auth(ctx)
	if err != nil {
		return err
	}
	db, err := firestore.NewClient(ctx, project)
	if err != nil {
		return err
	}
	defer db.Close()
	s := &seed.Seeder{ProjectID: project, Firestore: db, Auth: authClient, AuthHost: os.Getenv("FIREBASE_AUTH_EMULATOR_HOST")}
	res, err := s.Seed(ctx, seed.Request{CallID: *call, UIDs: uids, Status: *status})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printResult(out, res)
	return nil
}

func printResult(w io.Writer, r seed.Result) {
	fmt.Fprintf(w, "%s (project %s): members %s, status %s\n\n", r.CallPath, r.ProjectID, strings.Join(r.Members, ", "), r.Status)
	for _, u := range r.Users {
		fmt.Fprintf(w, "%s\n", u.UID)
		fmt.Fprintf(w, "  email / password  %s / %s\n", u.Email, u.Password)
		fmt.Fprintf(w, "                    Auth.auth().signIn(withEmail: %q, password: %q)\n", u.Email, u.Password)
		fmt.Fprintf(w, "  custom token      %s\n", u.CustomToken)
		fmt.Fprintf(w, "                    Auth.auth().signIn(withCustomToken: token)\n")
		fmt.Fprintf(w, "  ID token (1 h)    %s\n", u.IDToken)
		fmt.Fprintf(w, "                    curl -H 'Authorization: Bearer <ID token>' ...\n\n")
	}
}

// findEmulators sets the emulator variables that are not set from
// firebase.json and .firebaserc, as `make run` binds them.
func findEmulators() error {
	root, err := emulator.ModuleRoot()
	if err != nil {
		return err
	}
	type hostPort struct {
		Host string
		Port int
	}
	var c struct {
		Emulators struct {
			Auth      hostPort `json:"auth"`
			Firestore hostPort `json:"firestore"`
		} `json:"emulators"`
	}
	var rc struct {
		Projects map[string]string `json:"projects"`
	}
	for path, v := range map[string]any{"firebase.json": &c, ".firebaserc": &rc} {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	for env, e := range map[string]hostPort{"FIRESTORE_EMULATOR_HOST": c.Emulators.Firestore, "FIREBASE_AUTH_EMULATOR_HOST": c.Emulators.Auth} {
		if os.Getenv(env) != "" {
			continue
		}
		if e.Port == 0 {
			return fmt.Errorf("%s is not set and firebase.json names no port for it", env)
		}
		hp, err := emulator.ConnectAddr(context.Background(), e.Host, e.Port)
		if err != nil {
			return err
		}
		os.Setenv(env, hp)
	}
	if os.Getenv("GOOGLE_CLOUD_PROJECT") == "" {
		if rc.Projects["default"] == "" {
			return errors.New(".firebaserc has no default project and GOOGLE_CLOUD_PROJECT is not set")
		}
		os.Setenv("GOOGLE_CLOUD_PROJECT", rc.Projects["default"])
	}
	return nil
}
