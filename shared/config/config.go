// Package config holds every setting of the backend, read once from the
// environment at start-up and passed down by value.
//
// # Defaults
//
// Every field has a documented default (see [Default]) generous enough for
// people in a video call. Durations use Go syntax ("30s", "10m").
//
// # Emulators
//
// FIREBASE_AUTH_EMULATOR_HOST makes firebase-admin-go accept unsigned ID
// tokens. [FromEnv] refuses it unless the project id starts with "demo-",
// the Firebase convention for projects that exist only on the emulators, so a
// production deployment can never verify tokens that way.
//
// FIRESTORE_EMULATOR_HOST makes EVENT_SETTLE default to
// [EmulatorEventSettle]: the emulator stamps createdAt before a write
// commits.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pajama-app/sharedexperiences/shared/events"
	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
)

// Config is the backend's configuration. The zero value is not useful; start
// from [Default] or [FromEnv].
type Config struct {
	// ProjectID is the Google Cloud / Firebase project (GOOGLE_CLOUD_PROJECT,
	// GCLOUD_PROJECT).
	ProjectID string
	// Region is where the functions run (FUNCTION_REGION, default us-central1).
	Region string

	// PublishEvents switches the Pub/Sub fan-out on (PUBLISH_EVENTS, the
	// seed's enablePubSub).
	PublishEvents bool
	// SnapshotsEnabled switches compaction on (SNAPSHOTS_ENABLED, the seed's
	// enableFirestorePersistence for snapshots).
	SnapshotsEnabled bool

	// StaleSessionAfter ends an active session with no activity for this long
	// (STALE_SESSION_AFTER).
	StaleSessionAfter time.Duration
	// PresenceGrace is how long a participant may miss heartbeats before the
	// server removes them (PRESENCE_GRACE).
	PresenceGrace time.Duration

	// CompactionThreshold: the experience-events consumer compacts a session
	// every this many accepted events (COMPACTION_THRESHOLD).
	CompactionThreshold int
	// EventRetention: events covered by the snapshot and older than this are
	// pruned after a compaction (EVENT_RETENTION).
	EventRetention time.Duration
	// EndedSessionRetention: an ended session and everything under it is
	// deleted this long after it ended; its documents carry expireAt for
	// Firestore's TTL policy (ENDED_SESSION_RETENTION).
	EndedSessionRetention time.Duration

	// CleanupGrace: an ended session is finalized for deletion once it has
	// been over this long, when its last events are sequenced
	// (CLEANUP_GRACE).
	CleanupGrace time.Duration

	// PendingSweepAge: the sweep decides events still undecided this long
	// after their commit, whose triggers were lost (PENDING_SWEEP_AGE).
	PendingSweepAge time.Duration

	// MaxParticipants bounds a session (MAX_PARTICIPANTS).
	MaxParticipants int
	// SessionsPerUserPerMinute bounds createSession per user
	// (SESSIONS_PER_USER_PER_MINUTE).
	SessionsPerUserPerMinute int

	// MaxEventBytes bounds the encoded size of one event (MAX_EVENT_BYTES).
	MaxEventBytes int
	// EventSettle: the sequencer leaves events younger than this pending,
	// for writes stamped before they commit (EVENT_SETTLE; see
	// [EmulatorEventSettle]).
	EventSettle time.Duration
	// SenderEventsPerSecond and SessionEventsPerSecond are the sustained
	// event rates accepted per sender and per session, with bursts of twice
	// as many (SENDER_EVENTS_PER_SECOND, SESSION_EVENTS_PER_SECOND).
	SenderEventsPerSecond, SessionEventsPerSecond float64

	// CheckTokenRevocation makes the calls that change a session
	// (createSession, joinSession, leaveSession, endSession,
	// transferOwnership) refuse ID tokens revoked since they were issued, at
	// the cost of one Firebase Auth lookup per call (CHECK_TOKEN_REVOCATION).
	// Without it a revoked token is good until it expires, up to an hour.
	CheckTokenRevocation bool

	// EnforceAppCheck makes every callable refuse calls without a valid
	// Firebase App Check token (X-Firebase-AppCheck) as UNAUTHENTICATED
	// (ENFORCE_APP_CHECK). Off, a token that is sent is still verified and
	// its outcome logged, so the share of verified calls can be watched
	// before enforcing. The local stack has no App Check service: on, it
	// needs the network for App Check's keys, and apps need real tokens.
	EnforceAppCheck bool

	// AuthEmulatorHost is FIREBASE_AUTH_EMULATOR_HOST; only ever non-empty for
	// a demo- project.
	AuthEmulatorHost string
}

// Default returns the configuration used when no variable is set. The
// limits are the domain packages' own defaults, so they are written once.
func Default() Config {
	seq, store := events.DefaultOptions(), sessions.DefaultOptions()
	return Config{
		Region:            "us-central1",
		PublishEvents:     true,
		SnapshotsEnabled:  true,
		StaleSessionAfter: 2 * time.Hour,
		PresenceGrace:     30 * time.Second,
		MaxEventBytes:     seq.MaxEventBytes,

		CompactionThreshold:   500,
		EventRetention:        24 * time.Hour,
		EndedSessionRetention: store.EndedRetention,
		CleanupGrace:          5 * time.Minute,
		PendingSweepAge:       2 * time.Minute,
		MaxParticipants:       store.MaxParticipants,

		SessionsPerUserPerMinute: int(store.CreateLimit.Burst),

		SenderEventsPerSecond:  seq.SenderLimit.PerSecond,
		SessionEventsPerSecond: seq.SessionLimit.PerSecond,

		CheckTokenRevocation: true,
	}
}

// SequencerOptions are the event pipeline's settings.
func (c Config) SequencerOptions() *events.Options {
	return &events.Options{
		MaxEventBytes: c.MaxEventBytes,
		Settle:        c.EventSettle,
		SenderLimit:   events.EventLimit(c.SenderEventsPerSecond),
		SessionLimit:  events.EventLimit(c.SessionEventsPerSecond),
	}
}

// StoreOptions are the sessions' settings; knownExperience says which
// experience ids exist.
func (c Config) StoreOptions(knownExperience func(string) bool) *sessions.Options {
	return &sessions.Options{
		KnownExperience: knownExperience,
		MaxParticipants: c.MaxParticipants,
		CreateLimit:     ratelimit.PerMinute(c.SessionsPerUserPerMinute),
		EndedRetention:  c.EndedSessionRetention,
	}
}

// EmulatorEventSettle is EVENT_SETTLE's default when FIRESTORE_EMULATOR_HOST
// is set. In production an event's createdAt (request.time) is its commit
// time, and a run sees every commit before it began: nothing to wait for.
// The emulator stamps request.time when the write arrives, before its rules
// run, and a write whose rules wait for a sequencing transaction's lock on
// the session commits after it: measured under the soak's load (2 cores),
// 1.6 ms from stamp to commit at the median, 35 ms at p99, 47 ms at most.
// Without the wait such a write was numbered after events it sorts before
// (soak seed 9521).
const EmulatorEventSettle = 100 * time.Millisecond

// MaxEventSettle bounds EVENT_SETTLE.
const MaxEventSettle = 10 * time.Second

// ErrInvalid reports a setting that cannot be used.
var ErrInvalid = errors.New("config: invalid setting")

// Setting is one environment variable of the backend: the one table from
// which FromLookup parses, the runner passes variables through, and the
// README documents them (a test holds the README to it).
type Setting struct {
	// Name is the environment variable.
	Name string
	// Help says what it does, as the README's configuration table does.
	Help string
	// field points into a Config at what the variable sets: a *string,
	// *bool, *int, *float64 or *time.Duration.
	field func(*Config) any
}

// Default is the setting's value in [Default], as it is written in the
// environment.
func (s Setting) Default() string {
	c := Default()
	switch v := s.field(&c).(type) {
	case *string:
		return *v
	case *bool:
		return strconv.FormatBool(*v)
	case *int:
		return strconv.Itoa(*v)
	case *float64:
		return strconv.FormatFloat(*v, 'g', -1, 64)
	case *time.Duration:
		return shortDuration(*v)
	}
	return ""
}

// shortDuration writes 24h for 24h0m0s, as a person would.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Settings lists the backend's own settings (not the project id, nor the
// emulator hosts the Google clients read themselves).
func Settings() []Setting {
	return []Setting{
		{"FUNCTION_REGION", "where the functions run", func(c *Config) any { return &c.Region }},
		{"PUBLISH_EVENTS", "Pub/Sub fan-out on/off (the seed's `enablePubSub`)", func(c *Config) any { return &c.PublishEvents }},
		{"SNAPSHOTS_ENABLED", "server compaction on/off", func(c *Config) any { return &c.SnapshotsEnabled }},
		{"COMPACTION_THRESHOLD", "the Pub/Sub consumer compacts every this many accepted events", func(c *Config) any { return &c.CompactionThreshold }},
		{"EVENT_RETENTION", "covered events older than this are pruned after a compaction", func(c *Config) any { return &c.EventRetention }},
		{"PRESENCE_GRACE", "a participant silent this long has left", func(c *Config) any { return &c.PresenceGrace }},
		{"STALE_SESSION_AFTER", "end a session with no activity for this long", func(c *Config) any { return &c.StaleSessionAfter }},
		{"ENDED_SESSION_RETENTION", "an ended session's `expireAt`, for the TTL policies", func(c *Config) any { return &c.EndedSessionRetention }},
		{"CLEANUP_GRACE", "wait this long after the end before finalizing a session", func(c *Config) any { return &c.CleanupGrace }},
		{"PENDING_SWEEP_AGE", "`sweepPendingEvents` decides events still undecided this long after their commit", func(c *Config) any { return &c.PendingSweepAge }},
		{"MAX_EVENT_BYTES", "largest accepted event", func(c *Config) any { return &c.MaxEventBytes }},
		{"EVENT_SETTLE", "the sequencer leaves events younger than this pending, for writes stamped before they commit (the emulator's; see [Event order on the emulator](#event-order-on-the-emulator))", func(c *Config) any { return &c.EventSettle }},
		{"SENDER_EVENTS_PER_SECOND", "sustained events per sender (bursts of twice as many)", func(c *Config) any { return &c.SenderEventsPerSecond }},
		{"SESSION_EVENTS_PER_SECOND", "sustained events per session (bursts of twice as many)", func(c *Config) any { return &c.SessionEventsPerSecond }},
		{"MAX_PARTICIPANTS", "participants per session", func(c *Config) any { return &c.MaxParticipants }},
		{"SESSIONS_PER_USER_PER_MINUTE", "`createSession` calls per user (bursts of as many)", func(c *Config) any { return &c.SessionsPerUserPerMinute }},
		{"CHECK_TOKEN_REVOCATION", "the calls that change a session refuse ID tokens revoked since issue (one Auth lookup per call; see Security)", func(c *Config) any { return &c.CheckTokenRevocation }},
		{"ENFORCE_APP_CHECK", "every callable refuses calls without a valid App Check token (`UNAUTHENTICATED`); off, a token that is sent is verified and logged only ([App Check](#app-check))", func(c *Config) any { return &c.EnforceAppCheck }},
	}
}

// FromEnv reads the configuration from the process environment.
func FromEnv() (Config, error) { return FromLookup(os.LookupEnv) }

// FromLookup reads the configuration through lookup, so tests need not touch
// the process environment.
func FromLookup(lookup func(string) (string, bool)) (Config, error) {
	c := Default()
	r := reader{lookup: lookup}
	if r.str("FIRESTORE_EMULATOR_HOST", "") != "" {
		// EVENT_SETTLE, when set, replaces it below.
		c.EventSettle = EmulatorEventSettle
	}
	c.ProjectID = r.str("GOOGLE_CLOUD_PROJECT", r.str("GCLOUD_PROJECT", ""))
	for _, s := range Settings() {
		switch v := s.field(&c).(type) {
		case *string:
			*v = r.str(s.Name, *v)
		case *bool:
			*v = r.boolean(s.Name, *v)
		case *int:
			*v = r.integer(s.Name, *v)
		case *float64:
			*v = r.float(s.Name, *v)
		case *time.Duration:
			*v = r.duration(s.Name, *v)
		}
	}
	c.AuthEmulatorHost = r.str("FIREBASE_AUTH_EMULATOR_HOST", "")
	if r.err != nil {
		return Config{}, r.err
	}
	return c, c.Validate()
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.ProjectID == "":
		return fmt.Errorf("%w: GOOGLE_CLOUD_PROJECT (or GCLOUD_PROJECT) is not set", ErrInvalid)
	case c.AuthEmulatorHost != "" && !IsDemoProject(c.ProjectID):
		return fmt.Errorf("%w: FIREBASE_AUTH_EMULATOR_HOST is set for project %q; "+
			"unsigned emulator tokens are only accepted for demo- projects", ErrInvalid, c.ProjectID)
	case c.StaleSessionAfter <= 0, c.PresenceGrace <= 0:
		return fmt.Errorf("%w: timeouts must be positive", ErrInvalid)
	case c.SenderEventsPerSecond <= 0, c.SessionEventsPerSecond <= 0:
		return fmt.Errorf("%w: event rates must be positive", ErrInvalid)
	case c.CompactionThreshold <= 0, c.MaxParticipants <= 0, c.SessionsPerUserPerMinute <= 0:
		return fmt.Errorf("%w: COMPACTION_THRESHOLD, MAX_PARTICIPANTS and SESSIONS_PER_USER_PER_MINUTE must be positive", ErrInvalid)
	case c.EventRetention < 0, c.EndedSessionRetention < 0, c.CleanupGrace < 0, c.PendingSweepAge < 0:
		return fmt.Errorf("%w: retentions cannot be negative", ErrInvalid)
	case c.MaxEventBytes <= 0:
		return fmt.Errorf("%w: MAX_EVENT_BYTES must be positive", ErrInvalid)
	case c.EventSettle < 0, c.EventSettle > MaxEventSettle:
		// Every trigger of a young event waits this long.
		return fmt.Errorf("%w: EVENT_SETTLE must be between 0 and %s", ErrInvalid, MaxEventSettle)
	}
	return nil
}

// Variables lists the environment variables FromEnv reads for the
// backend's own settings, so a runner can pass exactly these through.
func Variables() []string {
	var names []string
	for _, s := range Settings() {
		names = append(names, s.Name)
	}
	return names
}

// IsDemoProject reports whether id names an emulator-only project.
func IsDemoProject(id string) bool { return strings.HasPrefix(id, "demo-") }

// reader collects the first parse error so FromLookup reads linearly.
type reader struct {
	lookup func(string) (string, bool)
	err    error
}

func (r *reader) str(key, def string) string {
	if v, ok := r.lookup(key); ok && v != "" {
		return v
	}
	return def
}

func (r *reader) parse(key string, parse func(string) error) {
	v, ok := r.lookup(key)
	if !ok || v == "" || r.err != nil {
		return
	}
	if err := parse(v); err != nil {
		r.err = fmt.Errorf("%w: %s=%q: %v", ErrInvalid, key, v, err)
	}
}

func (r *reader) boolean(key string, def bool) bool {
	r.parse(key, func(v string) (err error) { def, err = strconv.ParseBool(v); return err })
	return def
}

func (r *reader) integer(key string, def int) int {
	r.parse(key, func(v string) (err error) { def, err = strconv.Atoi(v); return err })
	return def
}

func (r *reader) float(key string, def float64) float64 {
	r.parse(key, func(v string) (err error) { def, err = strconv.ParseFloat(v, 64); return err })
	return def
}

func (r *reader) duration(key string, def time.Duration) time.Duration {
	r.parse(key, func(v string) (err error) { def, err = time.ParseDuration(v); return err })
	return def
}
