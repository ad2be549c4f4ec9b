package functions

import (
	"context"
	"net/http"
	"time"

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

	// Size is what each instance gets and how far the function scales.
	Size Size

	// Exactly one of these is set, matching Kind: handlers of Callable and
	// Schedule functions serve HTTP; the others take CloudEvents.
	http       func(*App) http.Handler
	cloudEvent func(*App, context.Context, event.Event) error
}

// Size is a function's Cloud Run sizing, deployed as gcloud's --concurrency,
// --cpu, --memory, --timeout, --max-instances and --min-instances.
type Size struct {
	// Concurrency is how many requests one instance serves at once; above 1
	// Cloud Run requires at least one whole CPU.
	Concurrency int
	// CPU is in vCPUs ("1", "0.5"); Memory in Kubernetes units ("512Mi").
	CPU    string
	Memory string
	// Timeout bounds one invocation. For event-driven functions it is also
	// the Pub/Sub push subscription's ack deadline, so it decides how soon a
	// hung delivery is redelivered (at most 540 s for them).
	Timeout time.Duration
	// MaxInstances caps scale-out; MinInstances are kept warm (and billed).
	MaxInstances int
	MinInstances int
}

// The sizes, each with the reasoning for the functions that use it.
var (
	// sequencerSize (onEventCreated): the sequencer's per-instance lanes
	// batch one session's triggers only within one instance, and instances
	// contend on the session document's transaction. Measured (bench
	// scenario 9, one session, 20 writers): 1 instance 2840 events/s, 4
	// instances 188/s, 16 instances 5/s. So: many concurrent deliveries per
	// instance for the lanes to batch (80, which needs a whole CPU), and a
	// ceiling of 4, the largest measured count that still sequences a hot
	// session faster than its SESSION_EVENTS_PER_SECOND cap (100). 512 MiB:
	// 200 pending events of 1 MiB peaked the functions host at ~52 MiB RSS,
	// and events are capped at MAX_EVENT_BYTES (16 KiB by default). 120 s:
	// up to 20 transaction attempts under contention (the 16-instance run's
	// p95 per call was 4.9 s) with room to spare, and a hung delivery is
	// redelivered after 2 minutes, not the 9 of the maximum. No warm
	// instance: a cold start (about a second for Go) delays only the first
	// event after an idle period.
	sequencerSize = Size{Concurrency: 80, CPU: "1", Memory: "512Mi", Timeout: 120 * time.Second, MaxInstances: 4}
	// consumerSize (compactOnEvents): one message per event, mostly a
	// counter increment; a compaction folds a session's events into a state
	// bounded by MaxSnapshotStateBytes. Compactions of one session contend
	// like sequencing does, so the ceiling is low as well; 512 MiB holds a
	// fold of a batch of events with the state.
	consumerSize = Size{Concurrency: 80, CPU: "1", Memory: "512Mi", Timeout: 120 * time.Second, MaxInstances: 4}
	// callSize (onCallWritten): a few writes per call document change.
	callSize = Size{Concurrency: 80, CPU: "1", Memory: "256Mi", Timeout: 60 * time.Second, MaxInstances: 10}
	// callableSize: short transactions on one session per request, waiting
	// on Firestore and Auth most of the time, so one CPU serves many at
	// once. 60 s stays under the client SDK's 70 s default timeout, so a
	// client sees the server's answer rather than its own timeout. 20
	// instances x 80 requests bounds what a flood can cost.
	callableSize = Size{Concurrency: 80, CPU: "1", Memory: "256Mi", Timeout: 60 * time.Second, MaxInstances: 20}
	// workSize (maintainSession): one session's scheduled work per message
	// (a presence transaction, a compaction folding a state bounded by
	// MaxSnapshotStateBytes, or an ended session's bulk finalization), so a
	// run's sessions spread over instances. 20 at once per instance keeps
	// the folds' memory within 512 MiB; 20 instances drain a run of 10,000
	// due sessions in minutes; 300 s covers finalizing a long session's
	// events in bulk, and a failing session is retried alone.
	workSize = Size{Concurrency: 20, CPU: "1", Memory: "512Mi", Timeout: 300 * time.Second, MaxInstances: 20}
)

// scheduleSize is the size of a scheduled function run every interval.
// A run queries the sessions that need work and queues one message per
// session (maintainSession does the work), so it is short whatever the
// number of sessions. One instance serving one request means two runs never
// overlap (a tick that
// finds the run before it still going waits or is refused, and the next
// tick takes over); the timeout is the interval, capped at 9 minutes, so a
// run that cannot finish stops before the next one starts. The deploy checks
// the timeout against the cron expression, so a tighter schedule without a
// shorter timeout is refused.
func scheduleSize(interval time.Duration) Size {
	return Size{Concurrency: 1, CPU: "1", Memory: "512Mi", Timeout: min(interval, 9*time.Minute), MaxInstances: 1}
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
			Size:       sequencerSize,
			cloudEvent: (*App).onEventCreated,
		},
		{
			Name:       "onCallWritten",
			Kind:       FirestoreTrigger,
			EventType:  EventWritten,
			Document:   "calls/{callId}",
			Retry:      true,
			Size:       callSize,
			cloudEvent: (*App).onCallWritten,
		},
		{Name: "createSession", Kind: Callable, Size: callableSize, http: (*App).createSession},
		{Name: "discoverSessions", Kind: Callable, Size: callableSize, http: (*App).discoverSessions},
		{Name: "joinSession", Kind: Callable, Size: callableSize, http: (*App).joinSession},
		{Name: "leaveSession", Kind: Callable, Size: callableSize, http: (*App).leaveSession},
		{Name: "endSession", Kind: Callable, Size: callableSize, http: (*App).endSession},
		{Name: "transferOwnership", Kind: Callable, Size: callableSize, http: (*App).transferOwnership},
		{Name: "closeStaleSessions", Kind: Schedule, Cron: "*/5 * * * *", TimeZone: "Etc/UTC", Size: scheduleSize(5 * time.Minute), http: (*App).closeStaleSessions},
		{Name: "checkPresence", Kind: Schedule, Cron: "* * * * *", TimeZone: "Etc/UTC", Size: scheduleSize(time.Minute), http: (*App).checkPresence},
		{Name: "compactSnapshots", Kind: Schedule, Cron: "*/5 * * * *", TimeZone: "Etc/UTC", Size: scheduleSize(5 * time.Minute), http: (*App).compactSnapshots},
		{Name: "sweepPendingEvents", Kind: Schedule, Cron: "* * * * *", TimeZone: "Etc/UTC", Size: scheduleSize(time.Minute), http: (*App).sweepPendingEvents},
		{Name: "cleanupEndedSessions", Kind: Schedule, Cron: "17 * * * *", TimeZone: "Etc/UTC", Size: scheduleSize(time.Hour), http: (*App).cleanupEndedSessions},
		{
			Name:       "compactOnEvents",
			Kind:       PubSub,
			Topic:      TopicExperienceEvents,
			Retry:      true,
			Size:       consumerSize,
			cloudEvent: (*App).compactOnEvents,
		},
		{
			Name:       "maintainSession",
			Kind:       PubSub,
			Topic:      TopicSessionWork,
			Retry:      true,
			Size:       workSize,
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
