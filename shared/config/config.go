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
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
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

// Default returns the configuration used when no variable is set.
func Default() Config {
	return Config{
		Region:            "us-central1",
		PublishEvents:     true,
		SnapshotsEnabled:  true,
		StaleSessionAfter: 2 * time.Hour,
		PresenceGrace:     30 * time.Second,
		MaxEventBytes:     16 << 10,

		CompactionThreshold:   500,
		EventRetention:        24 * time.Hour,
		EndedSessionRetention: 30 * 24 * time.Hour,
		CleanupGrace:          5 * time.Minute,
		PendingSweepAge:       2 * time.Minute,
		MaxParticipants:       50,

		SessionsPerUserPerMinute: 10,

		SenderEventsPerSecond:  20,
		SessionEventsPerSecond: 100,

		CheckTokenRevocation: true,
	}
}

// ErrInvalid reports a setting that cannot be used.
var ErrInvalid = errors.New("config: invalid setting")

// FromEnv reads the configuration from the process environment.
func FromEnv() (Config, error) { return FromLookup(os.LookupEnv) }

// FromLookup reads the configuration through lookup, so tests need not touch
// the process environment.
func FromLookup(lookup func(string) (string, bool)) (Config, error) {
	c := Default()
	r := reader{lookup: lookup}
	c.ProjectID = r.str("GOOGLE_CLOUD_PROJECT", r.str("GCLOUD_PROJECT", ""))
	c.Region = r.str("FUNCTION_REGION", c.Region)
	c.PublishEvents = r.boolean("PUBLISH_EVENTS", c.PublishEvents)
	c.SnapshotsEnabled = r.boolean("SNAPSHOTS_ENABLED", c.SnapshotsEnabled)
	c.StaleSessionAfter = r.duration("STALE_SESSION_AFTER", c.StaleSessionAfter)
	c.PresenceGrace = r.duration("PRESENCE_GRACE", c.PresenceGrace)
	c.MaxEventBytes = r.integer("MAX_EVENT_BYTES", c.MaxEventBytes)
	c.CompactionThreshold = r.integer("COMPACTION_THRESHOLD", c.CompactionThreshold)
	c.EventRetention = r.duration("EVENT_RETENTION", c.EventRetention)
	c.EndedSessionRetention = r.duration("ENDED_SESSION_RETENTION", c.EndedSessionRetention)
	c.MaxParticipants = r.integer("MAX_PARTICIPANTS", c.MaxParticipants)
	c.CleanupGrace = r.duration("CLEANUP_GRACE", c.CleanupGrace)
	c.PendingSweepAge = r.duration("PENDING_SWEEP_AGE", c.PendingSweepAge)
	c.SessionsPerUserPerMinute = r.integer("SESSIONS_PER_USER_PER_MINUTE", c.SessionsPerUserPerMinute)
	c.SenderEventsPerSecond = r.float("SENDER_EVENTS_PER_SECOND", c.SenderEventsPerSecond)
	c.SessionEventsPerSecond = r.float("SESSION_EVENTS_PER_SECOND", c.SessionEventsPerSecond)
	c.CheckTokenRevocation = r.boolean("CHECK_TOKEN_REVOCATION", c.CheckTokenRevocation)
	c.EnforceAppCheck = r.boolean("ENFORCE_APP_CHECK", c.EnforceAppCheck)
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
	}
	return nil
}

// Variables lists the environment variables FromEnv reads for the
// backend's own settings, so a runner can pass exactly these through.
func Variables() []string {
	return []string{"FUNCTION_REGION", "PUBLISH_EVENTS", "SNAPSHOTS_ENABLED", "STALE_SESSION_AFTER",
		"PRESENCE_GRACE", "MAX_EVENT_BYTES", "SENDER_EVENTS_PER_SECOND", "SESSION_EVENTS_PER_SECOND",
		"COMPACTION_THRESHOLD", "EVENT_RETENTION", "ENDED_SESSION_RETENTION", "MAX_PARTICIPANTS", "CLEANUP_GRACE",
		"SESSIONS_PER_USER_PER_MINUTE", "PENDING_SWEEP_AGE", "CHECK_TOKEN_REVOCATION", "ENFORCE_APP_CHECK"}
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
