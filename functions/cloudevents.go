package functions

import (
	"context"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/pajama-app/sharedexperiences/shared/logging"
)

// ServeCloudEvent serves the CloudEvent function name over HTTP the way
// Eventarc calls it: the request's event (binary or structured mode) is
// decoded and handled in the request's own goroutine, under the request's
// context. It answers 200 when fn returns nil, 500 otherwise (so Eventarc
// delivers again, for a function deployed with retry; fn logs its own
// failures and the answer says nothing of them), 400 to a request that
// carries no valid CloudEvent (logged, with why), and 405 to a method other
// than POST. Under functions-framework-go's HTTP registration, panics are
// recovered and CLOUD_RUN_TIMEOUT_SECONDS bounds the context, as for its
// CloudEvent functions.
//
// The root package registers every CloudEvent function through it, as an
// HTTP function, instead of with functions-framework-go's CloudEvent
// registration: that one (cloudevents/sdk-go's receive handler) passes
// each request's event through one channel shared by all requests, to
// whichever request's goroutine takes it first, and that goroutine gives up
// when its own request's context ends. A request whose client is gone
// before it is served leaves its event behind; from then on each request
// is handed the one before it, under the wrong context, and the last waits
// until another request arrives (cloudevents/sdk-go#1224 and #1332, open,
// in every release up to v2.16.2). With many deliveries at once, Pub/Sub
// pushes and Firestore triggers hung for tens of seconds, until the next
// delivery came (TestServeCloudEvent; functions TestConsumerFedAsEventarc).
func (a *App) ServeCloudEvent(name string, fn func(context.Context, event.Event) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "a CloudEvent is POSTed", http.StatusMethodNotAllowed)
			return
		}
		e, err := cehttp.NewEventFromHTTPRequest(r)
		if err == nil {
			err = e.Validate()
		}
		if err != nil {
			a.log.WarnContext(r.Context(), "request without a valid CloudEvent; refused", logging.KeyFunction, name, "error", err.Error())
			http.Error(w, "not a valid CloudEvent: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := fn(r.Context(), *e); err != nil {
			http.Error(w, "the function failed; deliver again", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}
