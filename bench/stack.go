package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/shared/callable"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// directProject is a second project on the same Firestore emulator. No
// trigger is registered for it, so the in-process sequencer scenarios run
// alone: the functions host does not sequence their events as a second
// instance would. Same emulator process, same JVM, same machine load as the
// floor and the pipeline scenarios.
const directProject = "demo-bench-direct"

// stack is the running local stack and the clients the scenarios use.
type stack struct {
	local   *emulator.Local
	logPath string
	logFile *os.File

	// writer and listener are two separate Firestore clients (two gRPC
	// connections) on the functions' project: the floor's writer and the
	// peer that listens.
	writer, listener *firestore.Client
	// direct is a client on directProject for the in-process sequencer;
	// directWriter writes the events there, as a separate client would.
	direct, directWriter *firestore.Client
	callables            *callable.Client
	http                 *http.Client
}

// startStack brings up the emulators, the functions host and trigger
// delivery on free ports, and points this process's clients at them.
func startStack(ctx context.Context, root string, deliveryConcurrency int) (*stack, error) {
	s := &stack{http: &http.Client{Timeout: 2 * time.Minute}}
	f, err := os.CreateTemp("", "sharedexp-bench-*.log")
	if err != nil {
		return nil, fmt.Errorf("stack log: %w", err)
	}
	s.logFile, s.logPath = f, f.Name()
	local, err := emulator.Start(ctx, emulator.Options{
		Root: root,
		FunctionsEnv: []string{
			// The bench measures the pipeline, not the rate limits: neither
			// limit may reject bench load.
			"SESSION_EVENTS_PER_SECOND=1000000", "SENDER_EVENTS_PER_SECOND=1000000",
			// Compaction happens only when the bench asks for it, so that
			// "before compaction" means it.
			"COMPACTION_THRESHOLD=1000000000",
			"STALE_SESSION_AFTER=24h",
			// Production's: createdAt is the commit time there, and the
			// latency rows measure production's path. (On the emulator
			// EVENT_SETTLE defaults to 100ms; README, Event order on the
			// emulator.)
			"EVENT_SETTLE=0s",
		},
		// Eventarc delivers concurrently; the runner's default is the
		// Firestore emulator's one at a time.
		Faults: emulator.Faults{Concurrency: deliveryConcurrency},
		Logs:   f,
		Logger: slog.New(slog.NewJSONHandler(f, nil)),
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("start the local stack (logs in %s): %w", s.logPath, err)
	}
	s.local = local
	for _, kv := range local.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			s.stop()
			return nil, fmt.Errorf("setenv %s: %w", k, err)
		}
	}
	clients := []struct {
		c       **firestore.Client
		project string
	}{
		{&s.writer, local.ProjectID}, {&s.listener, local.ProjectID},
		{&s.direct, directProject}, {&s.directWriter, directProject},
	}
	for _, c := range clients {
		if *c.c, err = firestore.NewClient(ctx, c.project); err != nil {
			s.stop()
			return nil, fmt.Errorf("firestore client for %s: %w", c.project, err)
		}
	}
	s.callables = &callable.Client{BaseURL: local.CallableURL(""), HTTP: s.http}
	return s, nil
}

// stop closes the clients and stops every process of the stack. It is safe
// to call more than once.
func (s *stack) stop() {
	for _, c := range []**firestore.Client{&s.writer, &s.listener, &s.direct, &s.directWriter} {
		if *c != nil {
			(*c).Close()
			*c = nil
		}
	}
	if s.local != nil {
		s.local.Stop()
		s.local = nil
	}
	if s.logFile != nil {
		s.logFile.Close()
		s.logFile = nil
	}
}

// user is someone signed in through the Auth emulator.
type user struct {
	UID, IDToken string
}

// signUp creates a user with the Auth emulator's REST API, as the client
// SDKs' createUserWithEmailAndPassword does.
func (s *stack) signUp(ctx context.Context) (user, error) {
	var out struct {
		IDToken string `json:"idToken"`
		LocalID string `json:"localId"`
	}
	url := "http://" + s.local.AuthHost + "/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key"
	err := s.postJSON(ctx, url, "", map[string]any{
		"email": newID("u") + "@example.com", "password": "password-123", "returnSecureToken": true,
	}, &out)
	if err != nil {
		return user{}, fmt.Errorf("sign up: %w", err)
	}
	return user{UID: out.LocalID, IDToken: out.IDToken}, nil
}

// clientWrite writes the document at path as the signed-in user through
// the Firestore REST API, so firestore.rules apply as they do to an app.
// Fields named in serverTimestamps are set to the commit time (the SDKs'
// serverTimestamp()). create makes it a create (the document must not
// exist), as an event is.
func (s *stack) clientWrite(ctx context.Context, idToken, path string, create bool, fields map[string]any, serverTimestamps ...string) error {
	name := fmt.Sprintf("projects/%s/databases/(default)/documents/%s", s.local.ProjectID, path)
	write := map[string]any{"update": map[string]any{"name": name, "fields": restFields(fields)}}
	if create {
		write["currentDocument"] = map[string]any{"exists": false}
	}
	if len(serverTimestamps) > 0 {
		var transforms []map[string]any
		for _, f := range serverTimestamps {
			transforms = append(transforms, map[string]any{"fieldPath": f, "setToServerValue": "REQUEST_TIME"})
		}
		write["updateTransforms"] = transforms
	}
	url := fmt.Sprintf("http://%s/v1/projects/%s/databases/(default)/documents:commit", s.local.FirestoreHost, s.local.ProjectID)
	return s.postJSON(ctx, url, idToken, map[string]any{"writes": []any{write}}, nil)
}

func (s *stack) postJSON(ctx context.Context, url, idToken string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if idToken != "" {
		req.Header.Set("Authorization", "Bearer "+idToken)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %.300s", url, resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// restFields encodes the few Go types the bench writes as Firestore REST
// Values.
func restFields(fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		switch v := v.(type) {
		case string:
			out[k] = map[string]any{"stringValue": v}
		case int64:
			out[k] = map[string]any{"integerValue": strconv.FormatInt(v, 10)}
		case map[string]string:
			m := make(map[string]any, len(v))
			for mk, mv := range v {
				m[mk] = mv
			}
			out[k] = map[string]any{"mapValue": map[string]any{"fields": restFields(m)}}
		default:
			panic(fmt.Sprintf("bench: no REST encoding for %T", v)) // programming error
		}
	}
	return out
}

// seedSession creates calls/{callId} with the members and an active
// co_reading session whose participants they are, as createSession and
// joinSession would have left it. It returns the session id.
func seedSession(ctx context.Context, fs *firestore.Client, members ...string) (string, error) {
	callID, id := newID("call"), newID("s")
	if _, err := fs.Collection(model.CallsCollection).Doc(callID).Set(ctx, map[string]any{"members": members}); err != nil {
		return "", fmt.Errorf("seed call: %w", err)
	}
	now := time.Now()
	_, err := fs.Collection(model.SessionsCollection).Doc(id).Set(ctx, model.Session{
		ID: id, CallID: callID, ExperienceID: "co_reading", OwnerID: members[0],
		Status: model.StatusActive, Participants: members,
		CreatedAt: now, UpdatedAt: now, LastActivityAt: now,
	})
	if err != nil {
		return "", fmt.Errorf("seed session: %w", err)
	}
	return id, nil
}

func eventsOf(fs *firestore.Client, sessionID string) *firestore.CollectionRef {
	return fs.Collection(model.SessionsCollection).Doc(sessionID).Collection(model.EventsCollection)
}

// triggerCopy is the event as its trigger's CloudEvent carries it, for
// SequenceCreated: the document as stored, read back by the delivering
// goroutine and not counted (Eventarc brings it). The emulator stamps a
// server timestamp when the request arrives, not at its commit, and no
// write returns it, so the copy cannot be made from the write alone. The
// read stands for the trigger's own lag behind the commit.
func triggerCopy(ctx context.Context, fs *firestore.Client, sessionID, id string) (model.Event, error) {
	snap, err := eventsOf(fs, sessionID).Doc(id).Get(ctx)
	if err != nil {
		return model.Event{}, fmt.Errorf("read the trigger's copy of %s: %w", id, err)
	}
	return model.DecodeEvent(snap), nil
}

// clientEvent is a valid page_changed StateSyncEvent with exactly the
// fields the rules allow; createdAt is added by the writer.
func clientEvent(id, sender string, clientSeq int64) map[string]any {
	return map[string]any{
		"id": id, "type": "page_changed", "senderId": sender,
		"data": map[string]string{"pageIndex": strconv.FormatInt(clientSeq%10000, 10)}, "clientSequenceNumber": clientSeq,
	}
}

// newID returns a unique id with the given prefix: the stack is shared by
// every scenario of a run, so each isolates itself by its ids.
func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// logSize is where the stack's log ends now.
func (s *stack) logSize() int64 {
	fi, err := os.Stat(s.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// invocations returns the run times of function's invocations the runner
// logged from offset on (one JSON line each, latencyMs in whole ms), in
// log order.
func (s *stack) invocations(offset int64, function string) []time.Duration {
	f, err := os.Open(s.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	var out []time.Duration
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("{")) || !bytes.Contains(line, []byte(`"msg":"invocation"`)) {
			continue
		}
		var inv struct {
			Function  string `json:"function"`
			LatencyMs int64  `json:"latencyMs"`
		}
		if json.Unmarshal(line, &inv) == nil && inv.Function == function {
			out = append(out, time.Duration(inv.LatencyMs)*time.Millisecond)
		}
	}
	return out
}
