// Package functions holds the backend's Cloud Functions: thin adapters that
// decode a request or CloudEvent, call the domain packages in shared/, and
// encode the answer. [Declarations] is the one list of functions; the root
// package registers them with functions-framework-go, the local runner in
// emulator/ invokes them as Google Cloud would, and the deploy in
// deploy/ turns them into gcloud commands.
//
// # Data flow
//
//	client write -> events/{eventId} -> onEventCreated (validate, sequence)
//	  -> Pub/Sub experience-events -> consumers
//	  -> compactOnEvents (every COMPACTION_THRESHOLD events) -> snapshots
//	call service write -> calls/{callId} -> onCallWritten (leave, end) -> sessions
//	callable HTTPS (createSession, joinSession, ...) -> sessions
//	Cloud Scheduler -> closeStaleSessions, checkPresence, compactSnapshots,
//	                   cleanupEndedSessions (an indexed query for the sessions
//	                   that need work) -> Pub/Sub session-work, a message per
//	                   session -> maintainSession -> sessions, snapshots
//	Cloud Scheduler -> sweepPendingEvents -> events
package functions

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	firebase "firebase.google.com/go/v4"

	"github.com/pajama-app/sharedexperiences/shared/callable"
	"github.com/pajama-app/sharedexperiences/shared/config"
	"github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/fanout"
	"github.com/pajama-app/sharedexperiences/shared/logging"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
	"github.com/pajama-app/sharedexperiences/shared/snapshots"
)

// App carries the configuration and clients every function shares. One App
// serves every function registered in a process.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	fs       *firestore.Client
	verifier callable.Verifier
	appCheck callable.AppCheckVerifier
	sessions *sessions.Store
	seq      *events.Sequencer
	compact  *snapshots.Compactor
	work     WorkQueue
	// now is the one clock of the domain: the schedules' and consumers'
	// bounds and every timestamp the domain packages write.
	now func() time.Time
}

// Deps are the clients an App uses.
type Deps struct {
	Firestore *firestore.Client
	// Verifier checks callers' ID tokens (firebase-admin-go's *auth.Client).
	Verifier callable.Verifier
	// AppCheck checks callers' App Check tokens (firebase-admin-go's
	// *appcheck.Client); nil: they are not read, and ENFORCE_APP_CHECK
	// makes every call fail INTERNAL.
	AppCheck callable.AppCheckVerifier
	// Events receives accepted events (nil: no fan-out).
	Events events.Publisher
	// Work carries the scheduled functions' per-session work to
	// maintainSession (the session-work topic).
	Work   WorkQueue
	Logger *slog.Logger
	// Clock is the time every function decides and stamps with (default
	// time.Now); tests move it instead of back-dating documents.
	Clock func() time.Time
}

// New returns an App over its dependencies.
func New(cfg config.Config, deps Deps) *App {
	log := deps.Logger
	if log == nil {
		log = logging.New(os.Stdout, slog.LevelInfo, cfg.ProjectID)
	}
	now := deps.Clock
	if now == nil {
		now = time.Now
	}
	registry := experiences.Default()
	seqOpts := cfg.SequencerOptions()
	seqOpts.Publisher, seqOpts.Logger, seqOpts.Clock = deps.Events, log, now
	storeOpts := cfg.StoreOptions(func(id string) bool { _, ok := registry.Lookup(id); return ok })
	storeOpts.Clock = now
	return &App{
		cfg:      cfg,
		log:      log,
		fs:       deps.Firestore,
		verifier: deps.Verifier,
		appCheck: deps.AppCheck,
		work:     deps.Work,
		now:      now,
		sessions: sessions.NewStore(deps.Firestore, storeOpts),
		compact:  snapshots.NewCompactor(deps.Firestore, registry, &snapshots.Options{Clock: now}),
		seq:      events.NewSequencer(deps.Firestore, registry, seqOpts),
	}
}

// NewFromEnv reads the configuration from the environment and creates the
// Google Cloud clients. The clients find the emulators from the usual
// variables (FIRESTORE_EMULATOR_HOST, FIREBASE_AUTH_EMULATOR_HOST...).
func NewFromEnv(ctx context.Context) (*App, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	fb, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: cfg.ProjectID})
	if err != nil {
		return nil, fmt.Errorf("firebase app: %w", err)
	}
	authClient, err := fb.Auth(ctx)
	if err != nil {
		return nil, fmt.Errorf("firebase auth client: %w", err)
	}
	appCheck, err := newAppCheck(ctx, cfg, fb)
	if err != nil {
		return nil, err
	}
	fs, err := firestore.NewClient(ctx, cfg.ProjectID)
	if err != nil {
		return nil, fmt.Errorf("firestore client: %w", err)
	}
	ps, err := pubsub.NewClient(ctx, cfg.ProjectID)
	if err != nil {
		return nil, fmt.Errorf("pubsub client: %w", err)
	}
	deps := Deps{Firestore: fs, Verifier: authClient, AppCheck: appCheck, Work: NewPubSubWork(ps, TopicSessionWork)}
	if cfg.PublishEvents {
		deps.Events = fanout.NewPublisher(ps, TopicExperienceEvents, TopicSessionLifecycle)
	}
	return New(cfg, deps), nil
}

// newAppCheck returns the App Check verifier, which fetches App Check's
// public keys when created. Enforced, without it no call could succeed:
// the instance must not start. Not enforced, it only feeds the log (the
// share of calls with a valid token, to watch before enforcing), so a
// failed fetch is a warning; and a demo- project, which has no App Check
// tokens and may be offline, does without.
func newAppCheck(ctx context.Context, cfg config.Config, fb *firebase.App) (callable.AppCheckVerifier, error) {
	if !cfg.EnforceAppCheck && config.IsDemoProject(cfg.ProjectID) {
		return nil, nil
	}
	client, err := fb.AppCheck(ctx)
	switch {
	case err == nil:
		return client, nil
	case cfg.EnforceAppCheck:
		return nil, fmt.Errorf("app check client (ENFORCE_APP_CHECK is on): %w", err)
	}
	slog.WarnContext(ctx, "App Check tokens will not be verified", "error", err.Error())
	return nil, nil
}
