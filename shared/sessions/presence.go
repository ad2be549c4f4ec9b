package sessions

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/bulk"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// Silent is one session's heartbeats found older than the grace period:
// the work of one RemoveAbsent.
type Silent struct {
	SessionID string   `json:"sessionId"`
	UIDs      []string `json:"uids"`
}

// SilentHeartbeats finds the heartbeats (presence/{uid}.lastSeenAt,
// written by a participant every 5 to 10 s and by the server when they
// join) older than cutoff, grouped by session, in session order. It is
// one collection-group query on lastSeenAt: it reads only the silent
// heartbeats, whatever the number of sessions and participants (one read
// when there are none). A heartbeat never outlives its participant's
// membership (see change.gone), so every one found needs a decision.
func (s *Store) SilentHeartbeats(ctx context.Context, cutoff time.Time) ([]Silent, error) {
	docs, err := s.fs.CollectionGroup(model.PresenceCollection).Where(model.FieldLastSeenAt, "<", cutoff).
		Select().Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("query silent heartbeats: %w", err)
	}
	bySession := map[string][]string{}
	for _, d := range docs {
		sess := d.Ref.Parent.Parent
		if sess == nil || sess.Parent.ID != model.SessionsCollection {
			continue // a "presence" collection elsewhere: not ours
		}
		bySession[sess.ID] = append(bySession[sess.ID], d.Ref.ID)
	}
	out := make([]Silent, 0, len(bySession))
	for _, id := range slices.Sorted(maps.Keys(bySession)) {
		out = append(out, Silent{SessionID: id, UIDs: bySession[id]})
	}
	return out, nil
}

// EndedUnfinalized lists the sessions that ended before endedBefore and
// are not finalized yet: one query, which reads only them.
func (s *Store) EndedUnfinalized(ctx context.Context, endedBefore time.Time) ([]string, error) {
	return s.ids(ctx, "ended sessions", s.fs.Collection(model.SessionsCollection).
		Where(model.FieldStatus, "==", model.StatusInactive).
		Where(model.FieldFinalized, "==", false).
		Where(model.FieldEndedAt, "<", endedBefore))
}

// Finalize prepares a session that ended before endedBefore for deletion:
// its events, snapshot and publish cursor get the session's expireAt, so
// the TTL policies on those collection groups remove them with the
// session; presence, which no TTL policy covers, is deleted now. endedBefore leaves recently ended sessions
// alone while their last events are still being sequenced. It reports
// whether it finalized the session; a session already finalized, active,
// too recent or gone is left alone, so a redelivery changes nothing.
func (s *Store) Finalize(ctx context.Context, sessionID string, endedBefore time.Time) (bool, error) {
	if err := checkIDs(sessionID); err != nil {
		return false, err
	}
	d, err := model.SessionRef(s.fs, sessionID).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read session %s: %w", sessionID, err)
	}
	var doc model.SessionDocument
	if err := d.DataTo(&doc); err != nil {
		return false, fmt.Errorf("decode session %s: %w", sessionID, err)
	}
	if doc.Status != model.StatusInactive || (doc.Finalized != nil && *doc.Finalized) ||
		doc.EndedAt == nil || !doc.EndedAt.Before(endedBefore) {
		return false, nil
	}
	return true, s.finalize(ctx, d)
}

func (s *Store) finalize(ctx context.Context, d *firestore.DocumentSnapshot) error {
	expireAt, _ := d.Data()[model.FieldExpireAt].(time.Time)
	for _, sub := range []struct {
		name string
		op   bulk.Op
	}{
		{model.EventsCollection, bulk.Update([]firestore.Update{{Path: model.FieldExpireAt, Value: expireAt}})},
		{model.SnapshotsCollection, bulk.Update([]firestore.Update{{Path: model.FieldExpireAt, Value: expireAt}})},
		// The publish cursor stays until TTL takes it: a trigger
		// redelivered after finalization would otherwise find no cursor
		// and publish the whole session again.
		{model.ServerCollection, bulk.Update([]firestore.Update{{Path: model.FieldExpireAt, Value: expireAt}})},
		{model.PresenceCollection, bulk.Delete},
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
	return nil
}

// ids runs q for document ids only.
func (s *Store) ids(ctx context.Context, what string, q firestore.Query) ([]string, error) {
	docs, err := q.Select().Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", what, err)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.Ref.ID
	}
	return ids, nil
}
