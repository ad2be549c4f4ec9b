package functions

import (
	"context"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Kind is how a function is invoked.
type Kind string

// The kinds of function, each with its own trigger fields in Declaration.
const (
	// Callable: HTTPS, Firebase callable protocol, invoked by the client SDKs.
	Callable Kind = "callable"
	// FirestoreTrigger: a CloudEvent from Eventarc on a document change.
	FirestoreTrigger Kind = "firestore"
	// PubSub: a CloudEvent from Eventarc for each message on a topic.
	PubSub Kind = "pubsub"
	// Schedule: HTTPS, invoked by Cloud Scheduler (OIDC) on a cron schedule.
	Schedule Kind = "schedule"
)

// Pub/Sub topics the backend publishes to.
const (
	TopicExperienceEvents = "experience-events"
	TopicSessionLifecycle = "session-lifecycle"
	// TopicSessionWork carries the scheduled functions' work, one message
	// per session (see Work), to maintainSession.
	TopicSessionWork = "session-work"
)

// Topics lists every topic the deploy creates and the local runner makes on
// the Pub/Sub emulator.
func Topics() []string {
	return []string{TopicExperienceEvents, TopicSessionLifecycle, TopicSessionWork}
}

// Eventarc event types of Firestore document changes.
const (
	// EventCreated: a document was created.
	EventCreated = "google.cloud.firestore.document.v1.created"
	// EventWritten: a document was created, updated or deleted.
	EventWritten = "google.cloud.firestore.document.v1.written"
)

// Declaration is everything known about one function: how it is registered
// with functions-framework-go, how the local runner invokes it, and how it is
// deployed. It is the only list of functions; nothing else names them.
type Declaration struct {
	// Name is the registered entry point and the deployed function name.
	Name string
	Kind Kind

	// EventType and Document filter a FirestoreTrigger (Document is a path
	// pattern with {wildcards}).
	EventType string
	Document  string

	// Topic feeds a PubSub function.
	Topic string

	// Cron (unix-cron) and TimeZone drive a Schedule function.
	Cron     string
	TimeZone string

	// Retry asks Eventarc to redeliver when the function fails. Only set on
	// idempotent handlers.
	Retry bool

	// Exactly one of these is set, matching Kind: handlers of Callable and
	// Schedule functions serve HTTP; the others take CloudEvents.
	http       func(*App) http.Handler
	cloudEvent func(*App, context.Context, event.Event) error
}

// Declarations returns every function of the backend.
func Declarations() []Declaration {
	return []Declaration{
		{
			Name:       "onEventCreated",
			Kind:       FirestoreTrigger,
			EventType:  EventCreated,
			Document:   "experience_sessions/{sessionId}/events/{eventId}",
			Retry:      true,
			cloudEvent: (*App).onEventCreated,
		},
		{
			Name:       "onCallWritten",
			Kind:       FirestoreTrigger,
			EventType:  EventWritten,
			Document:   "calls/{callId}",
			Retry:      true,
			cloudEvent: (*App).onCallWritten,
		},
		{Name: "createSession", Kind: Callable, http: (*App).createSession},
		{Name: "discoverSessions", Kind: Callable, http: (*App).discoverSessions},
		{Name: "joinSession", Kind: Callable, http: (*App).joinSession},
		{Name: "leaveSession", Kind: Callable, http: (*App).leaveSession},
		{Name: "endSession", Kind: Callable, http: (*App).endSession},
		{Name: "transferOwnership", Kind: Callable, http: (*App).transferOwnership},
		{Name: "closeStaleSessions", Kind: Schedule, Cron: "*/5 * * * *", TimeZone: "Etc/UTC", http: (*App).closeStaleSessions},
		{Name: "checkPresence", Kind: Schedule, Cron: "* * * * *", TimeZone: "Etc/UTC", http: (*App).checkPresence},
		{Name: "compactSnapshots", Kind: Schedule, Cron: "*/5 * * * *", TimeZone: "Etc/UTC", http: (*App).compactSnapshots},
		{Name: "sweepPendingEvents", Kind: Schedule, Cron: "* * * * *", TimeZone: "Etc/UTC", http: (*App).sweepPendingEvents},
		{Name: "cleanupEndedSessions", Kind: Schedule, Cron: "17 * * * *", TimeZone: "Etc/UTC", http: (*App).cleanupEndedSessions},
		{
			Name:       "compactOnEvents",
			Kind:       PubSub,
			Topic:      TopicExperienceEvents,
			Retry:      true,
			cloudEvent: (*App).compactOnEvents,
		},
		{
			Name:       "maintainSession",
			Kind:       PubSub,
			Topic:      TopicSessionWork,
			Retry:      true,
			cloudEvent: (*App).maintainSession,
		},
	}
}

// Registrar is the subset of functions-framework-go's registration API the
// backend uses; the root package passes the real one.
type Registrar struct {
	HTTP       func(name string, fn func(http.ResponseWriter, *http.Request))
	CloudEvent func(name string, fn func(context.Context, event.Event) error)
}

// Register registers every declared function, bound to app.
func Register(app *App, r Registrar) {
	for _, d := range Declarations() {
		switch {
		case d.http != nil:
			r.HTTP(d.Name, d.http(app).ServeHTTP)
		case d.cloudEvent != nil:
			fn := d.cloudEvent
			r.CloudEvent(d.Name, func(ctx context.Context, e event.Event) error { return fn(app, ctx, e) })
		}
	}
}
