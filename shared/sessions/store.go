package sessions

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
)

// Store reads and writes sessions in Firestore.
type Store struct {
	fs        *firestore.Client
	knownXP   func(string) bool
	newID     func() string
	maxPeople int
	retention time.Duration
	create    ratelimit.Limit
	locks     *keyLocks
	clock     func() time.Time
}

// now is the Store's clock, in UTC as Firestore returns times.
func (s *Store) now() time.Time { return s.clock().UTC() }

// txAttempts bounds a Store transaction's attempts: contention on a busy
// session or call costs a few aborted attempts, and giving up early would
// turn it into an INTERNAL error for the caller.
const txAttempts = 20

// transact runs f in a transaction, queued in this process behind the
// other transactions on key ("call/{id}" or "session/{id}", see keyLocks).
// Every Store transaction that writes goes through here.
func (s *Store) transact(ctx context.Context, key string, f func(context.Context, *firestore.Transaction) error) error {
	unlock, err := s.locks.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	return s.fs.RunTransaction(ctx, f, firestore.MaxAttempts(txAttempts))
}

// Options tunes a Store; nil means the defaults.
type Options struct {
	// KnownExperience reports whether an experience id is registered
	// (default: any id).
	KnownExperience func(string) bool
	// MaxParticipants bounds a session (default 50).
	MaxParticipants int
	// CreateLimit bounds the sessions one user creates (default 10 per
	// minute).
	CreateLimit ratelimit.Limit
	// EndedRetention is how long an ended session is kept: its expireAt,
	// for Firestore's TTL policy (default 30 days).
	EndedRetention time.Duration
	// Clock stamps createdAt, updatedAt, endedAt and heartbeats the server
	// writes (default time.Now).
	Clock func() time.Time
}

// DefaultOptions are the Store's defaults: 50 participants, 10 sessions
// created per user per minute, ended sessions kept 30 days.
func DefaultOptions() Options {
	return Options{MaxParticipants: 50, CreateLimit: ratelimit.PerMinute(10), EndedRetention: 30 * 24 * time.Hour}
}

// NewStore returns a Store over fs; zero fields of opts take DefaultOptions.
func NewStore(fs *firestore.Client, opts *Options) *Store {
	d := DefaultOptions()
	s := &Store{fs: fs, knownXP: func(string) bool { return true }, maxPeople: d.MaxParticipants, retention: d.EndedRetention,
		create: d.CreateLimit, locks: newKeyLocks(), clock: time.Now}
	if opts != nil {
		if opts.CreateLimit != (ratelimit.Limit{}) {
			s.create = opts.CreateLimit
		}
		if opts.EndedRetention > 0 {
			s.retention = opts.EndedRetention
		}
		if opts.KnownExperience != nil {
			s.knownXP = opts.KnownExperience
		}
		if opts.Clock != nil {
			s.clock = opts.Clock
		}
		if opts.MaxParticipants > 0 {
			s.maxPeople = opts.MaxParticipants
		}
	}
	s.newID = func() string { return fs.Collection(model.SessionsCollection).NewDoc().ID }
	return s
}

// Discover returns the active sessions of a call, for a member of that call.
func (s *Store) Discover(ctx context.Context, uid, callID string) ([]model.Session, error) {
	if err := checkIDs(uid, callID); err != nil {
		return nil, err
	}
	if err := s.requireCallMember(ctx, uid, callID); err != nil {
		return nil, err
	}
	docs, err := s.fs.Collection(model.SessionsCollection).
		Where(model.FieldCallID, "==", callID).
		Where(model.FieldStatus, "==", model.StatusActive).
		Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("discover sessions of call %s: %w", callID, err)
	}
	out := make([]model.Session, 0, len(docs))
	for _, d := range docs {
		var sess model.Session
		if err := d.DataTo(&sess); err != nil {
			return nil, fmt.Errorf("decode session %s: %w", d.Ref.ID, err)
		}
		out = append(out, sess)
	}
	return out, nil
}

// requireCallMember fails with ErrNotCallMember whether or not the call
// exists, so a stranger learns nothing about which calls exist. Within a
// transaction, pass it as tx.
func (s *Store) requireCallMember(ctx context.Context, uid, callID string) error {
	_, err := s.callMember(ctx, nil, uid, callID)
	return err
}

// callMember returns the call uid is a member of, or ErrNotCallMember.
func (s *Store) callMember(ctx context.Context, tx *firestore.Transaction, uid, callID string) (model.Call, error) {
	ref := model.CallRef(s.fs, callID)
	var snap *firestore.DocumentSnapshot
	var err error
	if tx != nil {
		snap, err = tx.Get(ref)
	} else {
		snap, err = ref.Get(ctx)
	}
	if status.Code(err) == codes.NotFound {
		return model.Call{}, ErrNotCallMember
	}
	if err != nil {
		return model.Call{}, fmt.Errorf("read call %s: %w", callID, err)
	}
	var call model.Call
	if err := snap.DataTo(&call); err != nil {
		return model.Call{}, fmt.Errorf("decode call %s: %w", callID, err)
	}
	if !call.IsMember(uid) {
		return model.Call{}, ErrNotCallMember
	}
	return call, nil
}

// EndStale ends every active session whose last activity is before cutoff,
// and returns their ids. Each session is re-read in its own transaction, so
// one that became active again meanwhile is left alone.
func (s *Store) EndStale(ctx context.Context, cutoff, now time.Time) ([]string, error) {
	docs, err := s.fs.Collection(model.SessionsCollection).
		Where(model.FieldStatus, "==", model.StatusActive).
		Where(model.FieldLastActivityAt, "<", cutoff).
		Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("query stale sessions: %w", err)
	}
	var ended []string
	for _, d := range docs {
		done, err := s.endIf(ctx, d.Ref, now, model.EndReasonStale, func(sess *model.Session) bool {
			return sess.Status == model.StatusActive && sess.LastActivityAt.Before(cutoff)
		})
		if err != nil {
			return ended, err
		}
		if done {
			ended = append(ended, d.Ref.ID)
		}
	}
	return ended, nil
}

// endIf ends the session, with its experience_ended event, when cond
// holds on its current state.
func (s *Store) endIf(ctx context.Context, ref *firestore.DocumentRef, now time.Time, reason string, cond func(*model.Session) bool) (bool, error) {
	var done bool
	err := s.transact(ctx, "session/"+ref.ID, func(ctx context.Context, tx *firestore.Transaction) error {
		done = false
		ref, sess, err := s.session(tx, ref.ID)
		if err != nil {
			return err
		}
		if !cond(sess) {
			return nil
		}
		done = true
		c := s.newChange(now)
		end(sess, c, model.SystemSender, reason)
		return s.commit(tx, ref, c)
	})
	if err != nil {
		return false, fmt.Errorf("end session %s: %w", ref.ID, err)
	}
	return done, nil
}

// ActiveIDs lists the active sessions.
func (s *Store) ActiveIDs(ctx context.Context) ([]string, error) {
	refs, err := s.fs.Collection(model.SessionsCollection).Where(model.FieldStatus, "==", model.StatusActive).
		Select().Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("query active sessions: %w", err)
	}
	ids := make([]string, len(refs))
	for i, d := range refs {
		ids[i] = d.Ref.ID
	}
	return ids, nil
}
