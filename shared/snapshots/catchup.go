package snapshots

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/shared/model"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
)

// CatchUp is everything a joiner needs to reach the current state: the
// latest snapshot (nil when none exists yet) and the accepted events after
// it, contiguous and in order.
type CatchUp struct {
	Snapshot *Snapshot
	Events   []model.AcceptedEvent
}

// After is the sequence number the joiner's listener continues from.
func (c CatchUp) After() int64 {
	if n := len(c.Events); n > 0 {
		return c.Events[n-1].SequenceNumber
	}
	if c.Snapshot != nil {
		return c.Snapshot.LastEventSequenceNumber
	}
	return 0
}

// ReadCatchUp reads the snapshot and the events after it in one read-only
// transaction: a compaction or a pruning between the two reads cannot open
// a gap at the seam. Numbers are given in committed batches, so the
// accepted events visible at any moment are 1..n with no hole.
//
// The session document, read in the same transaction, says how far the
// numbering has gone: the query is bounded by it, and skipped when the
// snapshot is already there, which is the usual case after a compaction.
// That keeps a compacted join's cost flat however long the history is,
// even where a query's cost grows with the collection (the emulator scans).
func ReadCatchUp(ctx context.Context, fs *firestore.Client, sessionID string) (CatchUp, error) {
	sessRef := model.SessionRef(fs, sessionID)
	var out CatchUp
	err := fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		out = CatchUp{Events: []model.AcceptedEvent{}}
		// One round trip for both: this is on every join's path.
		sessAndSnap, err := tx.GetAll([]*firestore.DocumentRef{sessRef, model.SnapshotRef(sessRef)})
		if err != nil {
			return fmt.Errorf("read session %s and its snapshot: %w", sessionID, err)
		}
		if !sessAndSnap[0].Exists() {
			return fmt.Errorf("read session %s: %w", sessionID, sessions.ErrNotFound)
		}
		last, _ := sessAndSnap[0].Data()[model.FieldLastEventSequenceNumber].(int64)
		if out.Snapshot, err = decode(sessAndSnap[1]); err != nil {
			return err
		}
		after := out.After()
		if last <= after {
			return nil
		}
		docs, err := tx.Documents(model.EventsRef(sessRef).
			Where(model.FieldSequenceNumber, ">", after).
			Where(model.FieldSequenceNumber, "<=", last).
			OrderBy(model.FieldSequenceNumber, firestore.Asc)).GetAll()
		if err != nil {
			return fmt.Errorf("read events after %d: %w", after, err)
		}
		for i, d := range docs {
			e := model.DecodeEvent(d).Accepted()
			if e.SequenceNumber != after+int64(i)+1 {
				return fmt.Errorf("events of %s not contiguous: #%d where #%d was expected", sessionID, e.SequenceNumber, after+int64(i)+1)
			}
			out.Events = append(out.Events, e)
		}
		return nil
	}, firestore.ReadOnly)
	return out, err
}

// Joiner makes a user a participant of a session (sessions.Store is one).
type Joiner interface {
	Join(ctx context.Context, uid, sessionID string) (model.Session, error)
}

// Joined is what joinSession answers: the session as joined and what the
// joiner reads to reach its current state.
type Joined struct {
	Session model.Session
	CatchUp
}

// JoinAndCatchUp joins uid to the session, then reads the catch-up. They are
// two transactions on purpose: the join must commit before anything is read,
// so that the catch-up and the listener the client opens after it (from
// CatchUp.After) see the same history, the joiner's own participant_joined
// included once numbered.
func JoinAndCatchUp(ctx context.Context, fs *firestore.Client, j Joiner, uid, sessionID string) (Joined, error) {
	s, err := j.Join(ctx, uid, sessionID)
	if err != nil {
		return Joined{}, err
	}
	c, err := ReadCatchUp(ctx, fs, sessionID)
	if err != nil {
		return Joined{}, err
	}
	return Joined{Session: s, CatchUp: c}, nil
}
