package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
	"github.com/pajama-app/sharedexperiences/shared/callable"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// TestFunctionsHostCrash kills the functions host with SIGKILL while a
// client writes events, with the runner's default delivery settings: the
// runner must replace the host, and every event, those in flight at the
// crash and those written while the host was down included, must still be
// decided; callables must answer again.
func TestFunctionsHostCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack")
	}
	ctx := context.Background()
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	local, err := emulator.Start(startCtx, emulator.Options{
		ProjectID: "demo-crash-" + emulatortest.ID("")[:8],
		Logs:      io.Discard, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if errors.Is(err, emulator.ErrToolMissing) && os.Getenv("EMULATORS_REQUIRED") != "1" {
		t.Skipf("emulators not installed: %v (run `make test`)", err)
	}
	require.NoError(t, err)
	defer local.Stop()
	for _, kv := range local.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	admin, err := firestore.NewClient(ctx, local.ProjectID)
	require.NoError(t, err)
	defer admin.Close()
	env := &emulatortest.Env{Local: local, Admin: admin, Callables: &callable.Client{BaseURL: local.CallableURL("")}}

	alice := env.NewUser(t)
	callID := emulatortest.ID("call")
	_, err = admin.Collection(model.CallsCollection).Doc(callID).Set(ctx, map[string]any{"members": []string{alice.UID}})
	require.NoError(t, err)
	var created struct{ Session model.Session }
	require.NoError(t, env.Callables.Call(ctx, "createSession", alice.IDToken,
		map[string]any{"callId": callID, "experienceId": "co_reading"}, &created))
	sessionID := created.Session.ID

	// The writer stays under the sender rate limit's burst, so every event
	// is accepted; the test only needs each one decided.
	const n = 30
	written := make(chan int, n)
	errs := make(chan error, 1)
	go func() {
		defer close(written)
		for i := range n {
			id := fmt.Sprintf("e%03d", i)
			ev := map[string]any{"id": id, "type": "page_changed", "senderId": alice.UID,
				"data": map[string]string{"pageIndex": fmt.Sprint(i)}, "clientSequenceNumber": int64(i)}
			// An ABORTED write did not happen: the emulator times out a
			// lock that the killed host's open transaction still holds on
			// the session (until the emulator drops that transaction). The
			// client SDKs retry such a write with back-off, and so does
			// this writer, for up to a minute.
			var code int
			var body string
			var err error
			for deadline, wait := time.Now().Add(time.Minute), 100*time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
				code, body, err = env.ClientCreate(ctx, alice.IDToken, "experience_sessions/"+sessionID+"/events/"+id, ev, "createdAt")
				if err != nil || code != http.StatusConflict || !strings.Contains(body, "ABORTED") || time.Now().After(deadline) {
					break
				}
				time.Sleep(wait)
			}
			if err != nil || code != http.StatusOK {
				errs <- fmt.Errorf("write %s: %v %d %s", id, err, code, body)
				return
			}
			written <- i
		}
	}()
	// Kill once part of the stream is written, so some events are in
	// flight or still to come.
	for i := range written {
		if i == n/3 {
			_, err := local.KillFunctionsHost()
			require.NoError(t, err)
			break
		}
	}
	for range written {
	}
	select {
	case err := <-errs:
		require.NoError(t, err)
	default:
	}

	emulatortest.Eventually(t, 90*time.Second, func() (bool, string) {
		docs, err := admin.Collection(model.SessionsCollection).Doc(sessionID).Collection(model.EventsCollection).Documents(ctx).GetAll()
		if err != nil {
			return false, err.Error()
		}
		pending := 0
		for _, d := range docs {
			if d.Data()["status"] == nil {
				pending++
			}
		}
		// n client events plus createSession's participant_joined.
		return len(docs) == n+1 && pending == 0, fmt.Sprintf("%d events, %d pending", len(docs), pending)
	})

	callCtx, cancelCall := context.WithTimeout(ctx, 30*time.Second)
	defer cancelCall()
	var found struct{ Sessions []model.Session }
	require.NoError(t, env.Callables.Call(callCtx, "discoverSessions", alice.IDToken, map[string]any{"callId": callID}, &found))
	require.Len(t, found.Sessions, 1)
	require.Equal(t, int64(n+1), found.Sessions[0].LastEventSequenceNumber)
	require.GreaterOrEqual(t, local.Deliveries().HostRestarts, int64(1))
}
