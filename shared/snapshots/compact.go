package snapshots

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// Compaction errors.
var (
	// ErrNewerSnapshot: the snapshot was written by a newer version of this
	// code; it is left alone rather than misread or overwritten.
	ErrNewerSnapshot = errors.New("snapshot written by a newer schema version")
	// ErrCannotRebuild: the snapshot cannot be read and the events it
	// covered are pruned, so the state cannot be rebuilt.
	ErrCannotRebuild = errors.New("snapshot unreadable and its events pruned")
	// ErrStateTooLarge: the folded state is over its experience's
	// MaxStateBytes (events accepted before a bound existed): no retry can
	// write it.
	ErrStateTooLarge = errors.New("experience state over its bound")
)

// Compactor folds a session's accepted events into its latest snapshot,
// with the experience's own reducer.
type Compactor struct {
	fs    *firestore.Client
	reg   *experiences.Registry
	chunk int
	now   func() time.Time
}

// NewCompactor returns a Compactor.
func NewCompactor(fs *firestore.Client, reg *experiences.Registry) *Compactor {
	return &Compactor{fs: fs, reg: reg, chunk: 1000, now: time.Now}
}

// Result says what one compaction did.
type Result struct {
	SessionID string `json:"sessionId"`
	// From and To are the snapshot's lastEventSequenceNumber before and
	// after; Folded is how many events were applied.
	From    int64 `json:"from"`
	To      int64 `json:"to"`
	Folded  int   `json:"folded"`
	Rebuilt bool  `json:"rebuilt,omitempty"`
	// Written is false when another compaction had already written a
	// snapshot at least as new.
	Written bool `json:"written"`
}

// Compact brings state_snapshots/latest up to the session's last accepted
// event. It reads only the events after the snapshot, so its cost grows
// with the new events, not the history. It is idempotent and safe to run
// concurrently: the snapshot is replaced only by one with a higher
// lastEventSequenceNumber (or a current schema version), in a transaction.
func (c *Compactor) Compact(ctx context.Context, sessionID string) (Result, error) {
	res := Result{SessionID: sessionID}
	sessRef := model.SessionRef(c.fs, sessionID)
	sessSnap, err := sessRef.Get(ctx)
	if err != nil {
		return res, fmt.Errorf("read session %s: %w", sessionID, err)
	}
	var sess model.Session
	if err := sessSnap.DataTo(&sess); err != nil {
		return res, fmt.Errorf("decode session %s: %w", sessionID, err)
	}
	x, ok := c.reg.Lookup(sess.ExperienceID)
	if !ok {
		return res, fmt.Errorf("%w %q", experiences.ErrUnknownExperience, sess.ExperienceID)
	}
	snap, err := Read(ctx, nil, sessRef)
	if err != nil {
		return res, err
	}
	state, base, rebuilt, err := c.base(x, snap)
	if err != nil {
		return res, fmt.Errorf("session %s: %w", sessionID, err)
	}
	res.From, res.To, res.Rebuilt = base, base, rebuilt
	if snap != nil && !rebuilt && base >= sess.LastEventSequenceNumber {
		return res, nil // up to date
	}

	for {
		docs, err := model.EventsRef(sessRef).
			Where(model.FieldSequenceNumber, ">", res.To).
			OrderBy(model.FieldSequenceNumber, firestore.Asc).
			Limit(c.chunk).Documents(ctx).GetAll()
		if err != nil {
			return res, fmt.Errorf("read events of %s after %d: %w", sessionID, res.To, err)
		}
		for _, d := range docs {
			e := model.DecodeEvent(d)
			if e.SequenceNumber != res.To+1 {
				if rebuilt && res.To == 0 {
					return res, fmt.Errorf("session %s: %w", sessionID, ErrCannotRebuild)
				}
				return res, fmt.Errorf("session %s: events not contiguous at #%d", sessionID, res.To+1)
			}
			state = experiences.Fold(x, state, experiences.Event{Type: e.Type, SenderID: e.SenderID, Data: e.Data})
			res.To = e.SequenceNumber
			res.Folded++
		}
		if len(docs) < c.chunk {
			break
		}
	}
	if res.Folded == 0 && !rebuilt {
		return res, nil // nothing new to fold
	}
	encoded, err := x.EncodeState(state.Experience)
	if err != nil {
		return res, fmt.Errorf("encode state of %s: %w", sessionID, err)
	}
	if len(encoded) > x.MaxStateBytes() {
		return res, fmt.Errorf("session %s: %w: %d bytes, %s allows %d", sessionID, ErrStateTooLarge, len(encoded), x.ID(), x.MaxStateBytes())
	}
	next := Snapshot{
		ExperienceID: x.ID(), ExperienceState: string(encoded),
		Participants: state.Participants, OwnerID: state.OwnerID,
		LastEventSequenceNumber: res.To, SchemaVersion: x.SchemaVersion(), UpdatedAt: c.now().UTC(),
	}
	if next.Participants == nil {
		next.Participants = []string{}
	}
	err = c.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		res.Written = false
		cur, err := Read(ctx, tx, sessRef)
		if err != nil {
			return err
		}
		if cur != nil && cur.SchemaVersion == x.SchemaVersion() && cur.LastEventSequenceNumber >= next.LastEventSequenceNumber {
			return nil // a concurrent compaction got as far
		}
		if cur != nil && cur.SchemaVersion > x.SchemaVersion() {
			return ErrNewerSnapshot
		}
		res.Written = true
		return tx.Set(model.SnapshotRef(sessRef), next)
	})
	if err != nil {
		return res, fmt.Errorf("write snapshot of %s: %w", sessionID, err)
	}
	return res, nil
}

// base is the state compaction starts from: the snapshot's, migrated if
// old; or, when the snapshot's version cannot be read, the initial state,
// to be rebuilt from every event.
func (c *Compactor) base(x experiences.Experience, snap *Snapshot) (experiences.State, int64, bool, error) {
	if snap == nil {
		return experiences.NewState(x), 0, false, nil
	}
	if snap.SchemaVersion > x.SchemaVersion() {
		return experiences.State{}, 0, false, fmt.Errorf("%w: v%d, this code writes v%d", ErrNewerSnapshot, snap.SchemaVersion, x.SchemaVersion())
	}
	st, err := x.DecodeState(snap.SchemaVersion, []byte(snap.ExperienceState))
	if errors.Is(err, experiences.ErrSchemaVersion) {
		return experiences.NewState(x), 0, true, nil
	}
	if err != nil {
		return experiences.State{}, 0, false, err
	}
	return experiences.State{Participants: snap.Participants, OwnerID: snap.OwnerID, Experience: st}, snap.LastEventSequenceNumber, false, nil
}
