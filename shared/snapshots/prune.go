package snapshots

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/shared/bulk"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// Prune deletes, in bulk, the events a late joiner can no longer
// need: accepted events covered by the latest snapshot and rejected events,
// both written before cutoff. Events after the snapshot are never touched,
// so snapshot + remaining events always equal the whole history. It
// returns how many events it deleted.
func Prune(ctx context.Context, fs *firestore.Client, sessionID string, cutoff time.Time) (int, error) {
	sessRef := model.SessionRef(fs, sessionID)
	snap, err := Read(ctx, nil, sessRef)
	if err != nil || snap == nil {
		return 0, err
	}
	return prune(ctx, fs, sessRef, snap.LastEventSequenceNumber, cutoff)
}

// prunePage bounds the covered events read past the last one pruned: the
// events kept for the retention window are not read again in full on
// every compaction.
const prunePage = 100

// prune deletes the events up to covered (which a snapshot covers) and the
// rejected events, written before cutoff.
func prune(ctx context.Context, fs *firestore.Client, sessRef *firestore.DocumentRef, covered int64, cutoff time.Time) (int, error) {
	sessionID := sessRef.ID
	events := model.EventsRef(sessRef)
	var doomed []*firestore.DocumentRef
	// Accepted events come in sequence order, which is commit order: the
	// first one written after cutoff ends the scan.
	after := int64(0)
scan:
	for {
		docs, err := events.Where(model.FieldSequenceNumber, ">", after).Where(model.FieldSequenceNumber, "<=", covered).
			OrderBy(model.FieldSequenceNumber, firestore.Asc).Select(model.FieldSequenceNumber, model.FieldCreatedAt).
			Limit(prunePage).Documents(ctx).GetAll()
		if err != nil {
			return 0, fmt.Errorf("read covered events of %s: %w", sessionID, err)
		}
		for _, d := range docs {
			if at, _ := d.Data()[model.FieldCreatedAt].(time.Time); !at.Before(cutoff) {
				break scan
			}
			doomed = append(doomed, d.Ref)
			after, _ = d.Data()[model.FieldSequenceNumber].(int64)
		}
		if len(docs) < prunePage {
			break
		}
	}
	if err := bulk.Apply(ctx, fs, doomed, bulk.Delete); err != nil {
		return 0, fmt.Errorf("prune %s: %w", sessionID, err)
	}
	pruned := len(doomed)
	// Rejected events are junk a participant may write at will, up to 1 MiB
	// each: read their names only (Select of no field), a page at a time,
	// each page deleted before the next is read.
	for {
		docs, err := events.Where(model.FieldStatus, "==", model.EventRejected).Where(model.FieldSequencedAt, "<", cutoff).
			Select().Limit(pruneRejectedPage).Documents(ctx).GetAll()
		if err != nil {
			return pruned, fmt.Errorf("read rejected events of %s: %w", sessionID, err)
		}
		refs := make([]*firestore.DocumentRef, len(docs))
		for i, d := range docs {
			refs[i] = d.Ref
		}
		if err := bulk.Apply(ctx, fs, refs, bulk.Delete); err != nil {
			return pruned, fmt.Errorf("prune %s: %w", sessionID, err)
		}
		pruned += len(refs)
		if len(docs) < pruneRejectedPage {
			return pruned, nil
		}
	}
}

// pruneRejectedPage bounds the rejected events one read returns.
const pruneRejectedPage = 500
