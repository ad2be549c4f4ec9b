package functions_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/shared/config"
)

// ceRequest is a binary-mode CloudEvent request as Eventarc sends one, its
// id in a header the handler can compare with the event it is given.
func ceRequest(ctx context.Context, id string) *http.Request {
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/fn", strings.NewReader(`{"n":1}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Ce-Specversion", "1.0")
	r.Header.Set("Ce-Id", id)
	r.Header.Set("Ce-Type", "google.cloud.pubsub.topic.v1.messagePublished")
	r.Header.Set("Ce-Source", "//pubsub.googleapis.com/projects/p/topics/t")
	r.Header.Set("X-Request", id)
	return r
}

type served struct {
	id   string
	code int
}

// serve runs one request through h in its own goroutine and reports it on
// out, so that the test goroutine alone asserts (and can give up on a hung
// request).
func serve(h http.Handler, r *http.Request, out chan<- served) {
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		out <- served{id: r.Header.Get("X-Request"), code: rec.Code}
	}()
}

type requestKey struct{}

// TestServeCloudEvent: each request is handed its own event under its own
// context, and a request whose client is gone leaves nothing behind for
// the next one to wait on. functions-framework-go's own CloudEvent wrapper
// (cloudevents/sdk-go's receive handler) fails this: a request already
// cancelled when it is served leaves its event on a shared channel about
// half the time (its goroutine's select picks the cancellation or the
// event), the next request's goroutine takes that one instead of its own,
// and every request from then on waits for the next to arrive. Twenty such
// requests, each followed by a normal one, miss that with a chance of about
// one in a million.
func TestServeCloudEvent(t *testing.T) {
	var mu sync.Mutex
	mismatches := map[string]string{}
	var logs bytes.Buffer
	app := functions.New(config.Default(), functions.Deps{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	h := app.ServeCloudEvent("fn", func(ctx context.Context, e event.Event) error {
		if got, _ := ctx.Value(requestKey{}).(string); got != e.ID() && !strings.HasPrefix(e.ID(), "gone") {
			mu.Lock()
			mismatches[e.ID()] = fmt.Sprintf("event %s handled under request %s's context", e.ID(), got)
			mu.Unlock()
		}
		if e.ID() == "fails" {
			return fmt.Errorf("transient")
		}
		return nil
	})
	wrap := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, r.Header.Get("X-Request"))))
	})
	out := make(chan served, 100)
	wait := func(n int) map[string]int {
		t.Helper()
		got := map[string]int{}
		deadline := time.After(10 * time.Second)
		for range n {
			select {
			case s := <-out:
				got[s.id] = s.code
			case <-deadline:
				require.Failf(t, "requests hung", "%d of %d answered in 10 s: %v", len(got), n, got)
			}
		}
		return got
	}

	for i := range 20 {
		gone, cancel := context.WithCancel(context.Background())
		cancel() // the client disconnected before the request was served
		serve(wrap, ceRequest(gone, fmt.Sprint("gone", i)), out)
		wait(1)
		next := fmt.Sprint("next", i)
		serve(wrap, ceRequest(context.Background(), next), out)
		require.Equal(t, map[string]int{next: http.StatusOK}, wait(1))
	}

	const n = 50
	for i := range n {
		serve(wrap, ceRequest(context.Background(), fmt.Sprint("c", i)), out)
	}
	got := wait(n)
	require.Len(t, got, n)
	for id, code := range got {
		require.Equal(t, http.StatusOK, code, id)
	}

	serve(wrap, ceRequest(context.Background(), "fails"), out)
	require.Equal(t, map[string]int{"fails": http.StatusInternalServerError}, wait(1))

	bad := ceRequest(context.Background(), "bad")
	bad.Header.Del("Ce-Specversion")
	bad.Header.Del("Ce-Type")
	serve(wrap, bad, out)
	require.Equal(t, map[string]int{"bad": http.StatusBadRequest}, wait(1))
	require.Contains(t, logs.String(), `"msg":"request without a valid CloudEvent; refused","function":"fn"`)

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, mismatches)
}

// FuzzServeCloudEvent: whatever a request carries (any method, headers,
// body), it is answered with one of the statuses ServeCloudEvent documents
// and never panics; the function runs only on a valid CloudEvent.
func FuzzServeCloudEvent(f *testing.F) {
	f.Add("POST", "application/json", "1.0", "id-1", "t", "//s", `{"n":1}`)
	f.Add("POST", "application/cloudevents+json", "", "", "", "", `{"specversion":"1.0","id":"x","type":"t","source":"//s","data":{}}`)
	f.Add("POST", "application/cloudevents+json", "", "", "", "", `{"specversion":"0.1"}`)
	f.Add("POST", "application/protobuf", "1.0", "id", "t", "//s", "\x0a\x00")
	f.Add("GET", "", "", "", "", "", "")
	f.Add("PATCH", "application/json", "1.0", "id-1", "t", "//s", `{}`)
	f.Add("POST", "text/plain", "9.9", "", "", "", "\xff")
	app := functions.New(config.Default(), functions.Deps{Logger: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, method, contentType, spec, id, typ, source, body string) {
		called := false
		h := app.ServeCloudEvent("fn", func(ctx context.Context, e event.Event) error {
			called = true
			require.NoError(t, e.Validate())
			return nil
		})
		r := httptest.NewRequest(http.MethodPost, "/fn", strings.NewReader(body))
		if method != "" {
			r.Method = method
		}
		for k, v := range map[string]string{"Content-Type": contentType, "Ce-Specversion": spec, "Ce-Id": id, "Ce-Type": typ, "Ce-Source": source} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		require.Contains(t, []int{http.StatusOK, http.StatusBadRequest, http.StatusMethodNotAllowed}, rec.Code)
		require.Equal(t, rec.Code == http.StatusOK, called)
	})
}
