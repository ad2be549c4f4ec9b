package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/inspector"
)

// defaultUIPort is the Emulator UI's conventional port, where the
// inspector serves when firebase.json names none.
const defaultUIPort = 4000

// startInspector serves the inspector on 127.0.0.1:port until ctx ends.
func startInspector(ctx context.Context, local *emulator.Local, port int, logger *slog.Logger) (url string, stop func(), err error) {
	if port == 0 {
		port = defaultUIPort
	}
	// The Firestore client finds the emulator, and its admin access, from
	// the environment, as every Go tool pointed at `make run` does.
	for _, kv := range local.Stack.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return "", nil, err
		}
	}
	client, err := firestore.NewClient(ctx, local.ProjectID)
	if err != nil {
		return "", nil, fmt.Errorf("inspector: firestore client: %w", err)
	}
	ln, err := inspector.Listen(port)
	if err != nil {
		client.Close()
		return "", nil, err
	}
	srv := inspector.New(client, local, &inspector.Options{ProjectID: local.ProjectID, Logger: logger})
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(sctx, ln); err != nil {
			logger.Error("inspector stopped", "error", err.Error())
		}
	}()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done; client.Close() }, nil
}
