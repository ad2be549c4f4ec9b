package snapshots

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

// Options are a Compactor's optional settings.
type Options struct {
	// Clock stamps the snapshot's updatedAt (default time.Now).
	Clock func() time.Time
}

// NewCompactor returns a Compactor; opts may be nil.
func NewCompactor(fs *firestore.Client, reg *experiences.Registry, opts *Options) *Compactor {
	c := &Compactor{fs: fs, reg: reg, chunk: 1000, now: time.Now}
	if opts != nil && opts.Clock != nil {
		c.now = opts.Clock
	}
	return c
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
	// Pruned counts the events CompactAndPrune deleted; Cleared says it
	// cleared the session's compactionDue mark.
	Pruned  int  `json:"pruned"`
	Cleared bool `json:"cleared,omitempty"`
}

// Compact brings state_snapshots/latest up to the session's last accepted
// event. It reads only the events after the snapshot, so its cost grows
// with the new events, not the history. It is idempotent and safe to run
// concurrently: the snapshot is replaced only by one with a higher
// lastEventSequenceNumber (or a current schema version), in a transaction.
func (c *Compactor) Compact(ctx context.Context, sessionID string) (Result, error) {
	res, _, err := c.compact(ctx, sessionID)
	return res, err
}

// CompactAndPrune is the compaction of one session, as compactSnapshots'
// work and the compactOnEvents consumer do it: Compact, then Prune the
// events the snapshot covers written before pruneBefore (none when the
// session itself is younger), then clear the
// session's compactionDue mark when the snapshot has caught up with the
// session as it was read. The mark is cleared only if the session was not
// written since (a precondition on its update time, no transaction on the
// busy session document): an event accepted meanwhile keeps it, and the
// next run compacts again. Idempotent.
func (c *Compactor) CompactAndPrune(ctx context.Context, sessionID string, pruneBefore time.Time) (Result, error) {
	read, err := c.readSession(ctx, sessionID)
	if err != nil {
		return Result{SessionID: sessionID}, err
	}
	return c.compactAndPrune(ctx, read, pruneBefore)
}

// DueSession is a session Due found, as its query read it.
type DueSession struct {
	SessionID               string    `json:"sessionId"`
	ExperienceID            string    `json:"experienceId"`
	LastEventSequenceNumber int64     `json:"lastEventSequenceNumber"`
	CreatedAt               time.Time `json:"createdAt"`
	// UpdateTime is the session document's, for the precondition that
	// clears its mark.
	UpdateTime time.Time `json:"updateTime"`
}

// CompactDue is CompactAndPrune on a session as Due read it, without
// reading it again: the precondition on its update time then also covers
// what changed since the query, so a session written meanwhile keeps its
// mark and is compacted again by the next run.
func (c *Compactor) CompactDue(ctx context.Context, d DueSession, pruneBefore time.Time) (Result, error) {
	read := sessionRead{ref: model.SessionRef(c.fs, d.SessionID), updateTime: d.UpdateTime, doc: model.SessionDocument{
		Session: model.Session{ID: d.SessionID, ExperienceID: d.ExperienceID,
			LastEventSequenceNumber: d.LastEventSequenceNumber, CreatedAt: d.CreatedAt},
		CompactionDue: true,
	}}
	return c.compactAndPrune(ctx, read, pruneBefore)
}

func (c *Compactor) compactAndPrune(ctx context.Context, sess sessionRead, pruneBefore time.Time) (Result, error) {
	sessionID := sess.ref.ID
	res, hasSnapshot, err := c.compactRead(ctx, sess)
	if err != nil {
		return res, err
	}
	// A session younger than pruneBefore has no event older: pruning it
	// would cost two queries to find nothing.
	if (hasSnapshot || res.To > 0) && sess.doc.CreatedAt.Before(pruneBefore) {
		if res.Pruned, err = prune(ctx, c.fs, sess.ref, res.To, pruneBefore); err != nil {
			return res, err
		}
	}
	if !sess.doc.CompactionDue || res.To < sess.doc.LastEventSequenceNumber {
		return res, nil
	}
	_, err = sess.ref.Update(ctx, []firestore.Update{{Path: model.FieldCompactionDue, Value: false}},
		firestore.LastUpdateTime(sess.updateTime))
	switch status.Code(err) {
	case codes.OK:
		res.Cleared = true
		return res, nil
	case codes.FailedPrecondition, codes.NotFound:
		return res, nil // the session moved on: the mark stays for the next run
	}
	return res, fmt.Errorf("clear compactionDue of %s: %w", sessionID, err)
}

// sessionRead is the session document as compaction read it.
type sessionRead struct {
	ref        *firestore.DocumentRef
	doc        model.SessionDocument
	updateTime time.Time
}

func (c *Compactor) readSession(ctx context.Context, sessionID string) (sessionRead, error) {
	read := sessionRead{ref: model.SessionRef(c.fs, sessionID)}
	sessSnap, err := read.ref.Get(ctx)
	if err != nil {
		return read, fmt.Errorf("read session %s: %w", sessionID, err)
	}
	if err := sessSnap.DataTo(&read.doc); err != nil {
		return read, fmt.Errorf("decode session %s: %w", sessionID, err)
	}
	read.updateTime = sessSnap.UpdateTime
	return read, nil
}

func (c *Compactor) compact(ctx context.Context, sessionID string) (Result, sessionRead, error) {
	read, err := c.readSession(ctx, sessionID)
	if err != nil {
		return Result{SessionID: sessionID}, read, err
	}
	res, _, err := c.compactRead(ctx, read)
	return res, read, err
}

// compactRead compacts the session as read; it reports whether a snapshot
// existed before.
func (c *Compactor) compactRead(ctx context.Context, read sessionRead) (Result, bool, error) {
	sessRef := read.ref
	res := Result{SessionID: sessRef.ID}
	sess := read.doc.Session
	x, ok := c.reg.Lookup(sess.ExperienceID)
	if !ok {
		return res, false, fmt.Errorf("%w %q", experiences.ErrUnknownExperience, sess.ExperienceID)
	}
	var snap *Snapshot
	var snapTime time.Time
	doc, err := model.SnapshotRef(sessRef).Get(ctx)
	switch {
	case status.Code(err) == codes.NotFound:
	case err != nil:
		return res, false, fmt.Errorf("read snapshot: %w", err)
	default:
		if snap, err = decode(doc); err != nil {
			return res, false, err
		}
		snapTime = doc.UpdateTime
	}
	res, err = c.fold(ctx, x, sessRef, sess, snap, snapTime, res)
	return res, snap != nil, err
}

// fold folds the events after snap (last written at snapTime; zero when
// there is none) into it and writes the result.
func (c *Compactor) fold(ctx context.Context, x experiences.Experience, sessRef *firestore.DocumentRef, sess model.Session, snap *Snapshot, snapTime time.Time, res Result) (Result, error) {
	sessionID := sessRef.ID
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
	// Compare and set on the snapshot as read: unless another compaction
	// wrote it meanwhile, it is replaced without reading it again.
	ref := model.SnapshotRef(sessRef)
	if snapTime.IsZero() {
		_, err = ref.Create(ctx, next)
	} else {
		_, err = ref.Update(ctx, next.updates(), firestore.LastUpdateTime(snapTime))
	}
	switch status.Code(err) {
	case codes.OK:
		res.Written = true
		return res, nil
	case codes.AlreadyExists, codes.FailedPrecondition, codes.NotFound:
		// Written (or removed) meanwhile: decide on what is there now.
	default:
		return res, fmt.Errorf("write snapshot of %s: %w", sessionID, err)
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

// Due lists the active sessions whose accepted events passed their
// snapshot (compactionDue, which the sequencer sets in the session write
// that accepts them): one query, which reads only those sessions, and
// returns what compaction needs of each (see CompactDue).
func (c *Compactor) Due(ctx context.Context) ([]DueSession, error) {
	docs, err := c.fs.Collection(model.SessionsCollection).
		Where(model.FieldStatus, "==", model.StatusActive).
		Where(model.FieldCompactionDue, "==", true).
		Select(model.FieldExperienceID, model.FieldLastEventSequenceNumber, model.FieldCreatedAt).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("query sessions due for compaction: %w", err)
	}
	out := make([]DueSession, len(docs))
	for i, d := range docs {
		var s model.Session
		if err := d.DataTo(&s); err != nil {
			return nil, fmt.Errorf("decode session %s: %w", d.Ref.ID, err)
		}
		out[i] = DueSession{SessionID: d.Ref.ID, ExperienceID: s.ExperienceID, LastEventSequenceNumber: s.LastEventSequenceNumber,
			CreatedAt: s.CreatedAt, UpdateTime: d.UpdateTime}
	}
	return out, nil
}
