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
	events := model.EventsRef(sessRef)
	var doomed []*firestore.DocumentRef
	// Accepted events come in sequence order, which is commit order: the
	// first one written after cutoff ends the scan.
	docs, err := events.Where(model.FieldSequenceNumber, "<=", snap.LastEventSequenceNumber).
		OrderBy(model.FieldSequenceNumber, firestore.Asc).Documents(ctx).GetAll()
	if err != nil {
		return 0, fmt.Errorf("read covered events of %s: %w", sessionID, err)
	}
	for _, d := range docs {
		if at, _ := d.Data()[model.FieldCreatedAt].(time.Time); !at.Before(cutoff) {
			break
		}
		doomed = append(doomed, d.Ref)
	}
	rejected, err := events.Where(model.FieldStatus, "==", model.EventRejected).Where(model.FieldSequencedAt, "<", cutoff).Documents(ctx).GetAll()
	if err != nil {
		return 0, fmt.Errorf("read rejected events of %s: %w", sessionID, err)
	}
	for _, d := range rejected {
		doomed = append(doomed, d.Ref)
	}
	if err := bulk.Apply(ctx, fs, doomed, bulk.Delete); err != nil {
		return 0, fmt.Errorf("prune %s: %w", sessionID, err)
	}
	return len(doomed), nil
}
