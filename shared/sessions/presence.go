package sessions

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/shared/bulk"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// Removal is one session's participants removed for silence.
type Removal struct {
	SessionID string   `json:"sessionId"`
	Removed   []string `json:"removed"`
}

// SweepPresence removes from every active session the participants whose
// last heartbeat (presence/{uid}.lastSeenAt, written by the participant
// every 5 to 10 s, and by the server when they join) is older than grace.
func (s *Store) SweepPresence(ctx context.Context, now time.Time, grace time.Duration) ([]Removal, error) {
	docs, err := s.fs.Collection(model.SessionsCollection).Where(model.FieldStatus, "==", model.StatusActive).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("query active sessions: %w", err)
	}
	cutoff := now.Add(-grace)
	var out []Removal
	for _, d := range docs {
		removed, err := s.RemoveAbsent(ctx, d.Ref.ID, cutoff)
		if err != nil {
			return out, err
		}
		if len(removed) > 0 {
			out = append(out, Removal{SessionID: d.Ref.ID, Removed: removed})
		}
	}
	return out, nil
}

// FinalizeEnded prepares the sessions that ended before endedBefore for
// deletion: their events and snapshot get the session's expireAt, so the
// TTL policies on those collection groups remove them with the session; the
// subcollections no TTL policy covers (presence, the server's own
// documents) are deleted now. endedBefore leaves recently ended sessions
// alone while their last events are still being sequenced. A session that
// fails is reported in failed and left for the next run; the others go on.
func (s *Store) FinalizeEnded(ctx context.Context, endedBefore time.Time) (done []string, failed map[string]string, err error) {
	docs, err := s.fs.Collection(model.SessionsCollection).
		Where(model.FieldStatus, "==", model.StatusInactive).Where(model.FieldFinalized, "==", false).Documents(ctx).GetAll()
	if err != nil {
		return nil, nil, fmt.Errorf("query ended sessions: %w", err)
	}
	failed = map[string]string{}
	for _, d := range docs {
		if ended, _ := d.Data()[model.FieldEndedAt].(time.Time); !ended.Before(endedBefore) {
			continue
		}
		if err := s.finalize(ctx, d); err != nil {
			failed[d.Ref.ID] = err.Error()
			continue
		}
		done = append(done, d.Ref.ID)
	}
	return done, failed, nil
}

func (s *Store) finalize(ctx context.Context, d *firestore.DocumentSnapshot) error {
	{
		expireAt, _ := d.Data()[model.FieldExpireAt].(time.Time)
		for _, sub := range []struct {
			name string
			op   bulk.Op
		}{
			{model.EventsCollection, bulk.Update([]firestore.Update{{Path: model.FieldExpireAt, Value: expireAt}})},
			{model.SnapshotsCollection, bulk.Update([]firestore.Update{{Path: model.FieldExpireAt, Value: expireAt}})},
			{model.PresenceCollection, bulk.Delete},
			{model.ServerCollection, bulk.Delete},
		} {
			refs, err := d.Ref.Collection(sub.name).DocumentRefs(ctx).GetAll()
			if err != nil {
				return fmt.Errorf("list %s of %s: %w", sub.name, d.Ref.ID, err)
			}
			if err := bulk.Apply(ctx, s.fs, refs, sub.op); err != nil {
				return fmt.Errorf("finalize %s: %w", d.Ref.ID, err)
			}
		}
		if _, err := d.Ref.Update(ctx, []firestore.Update{{Path: model.FieldFinalized, Value: true}}); err != nil {
			return fmt.Errorf("mark %s finalized: %w", d.Ref.ID, err)
		}
	}
	return nil
}
