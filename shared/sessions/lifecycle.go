package sessions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/docid"
	"github.com/pajama-app/sharedexperiences/shared/experiences"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// newChange starts a transaction attempt's change at now.
func (s *Store) newChange(now time.Time) *change { return &change{now: now, retention: s.retention} }

// commit writes the session update and the system events. The events of one
// transaction share a commit time; their clientSequenceNumber keeps them in
// the order they were emitted.
func (s *Store) commit(tx *firestore.Transaction, ref *firestore.DocumentRef, c *change) error {
	now := c.now
	if len(c.update) > 0 {
		if err := tx.Update(ref, lastPerPath(append(c.update, firestore.Update{Path: model.FieldUpdatedAt, Value: now}))); err != nil {
			return err
		}
	}
	for _, uid := range c.present {
		if err := tx.Set(model.PresenceRef(ref, uid), model.Presence{LastSeenAt: now}); err != nil {
			return err
		}
	}
	for i, e := range c.events {
		evRef := model.EventsRef(ref).NewDoc()
		if err := tx.Create(evRef, e.Document(evRef.ID, i)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) session(tx *firestore.Transaction, sessionID string) (*firestore.DocumentRef, *model.Session, error) {
	ref := model.SessionRef(s.fs, sessionID)
	snap, err := tx.Get(ref)
	if status.Code(err) == codes.NotFound {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read session %s: %w", sessionID, err)
	}
	var sess model.Session
	if err := snap.DataTo(&sess); err != nil {
		return nil, nil, fmt.Errorf("decode session %s: %w", sessionID, err)
	}
	return ref, &sess, nil
}

// Create starts a session of experienceID in callID with uid as owner and
// first participant. The call keeps at most one active session: if it has
// one, Create fails with *ExistsError naming it.
func (s *Store) Create(ctx context.Context, uid, callID, experienceID string) (model.Session, error) {
	if err := checkIDs(uid, callID); err != nil {
		return model.Session{}, err
	}
	if !s.knownXP(experienceID) {
		return model.Session{}, fmt.Errorf("%w %q", experiences.ErrUnknownExperience, experienceID)
	}
	var created model.Session
	err := s.transact(ctx, "call/"+callID, func(ctx context.Context, tx *firestore.Transaction) error {
		call, err := s.callMember(ctx, tx, uid, callID)
		if err != nil {
			return err
		}
		if call.Status == model.CallStatusEnded {
			// The onCallWritten trigger would end the session at once.
			return ErrCallEnded
		}
		limitRef := model.UserLimitsRef(s.fs, uid)
		var limits model.UserLimitsDoc
		switch snap, err := tx.Get(limitRef); {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return fmt.Errorf("read user limits: %w", err)
		default:
			if err := snap.DataTo(&limits); err != nil {
				return fmt.Errorf("decode user limits: %w", err)
			}
		}
		markerRef := model.CallMarkerRef(s.fs, callID)
		var marker model.CallMarker
		switch snap, err := tx.Get(markerRef); {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return fmt.Errorf("read call marker: %w", err)
		default:
			if err := snap.DataTo(&marker); err != nil {
				return fmt.Errorf("decode call marker: %w", err)
			}
		}
		if marker.ActiveSessionID != "" {
			_, sess, err := s.session(tx, marker.ActiveSessionID)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			case sess.Status == model.StatusActive:
				return &ExistsError{Session: *sess}
			}
		}
		now := s.now()
		if !limits.Create.Take(s.create, now) {
			return ErrTooManySessions
		}
		if err := tx.Set(limitRef, limits); err != nil {
			return err
		}
		id := s.newID()
		created = model.Session{
			ID: id, CallID: callID, ExperienceID: experienceID, OwnerID: uid,
			Status: model.StatusActive, Participants: []string{uid},
			CreatedAt: now, UpdatedAt: now, LastActivityAt: now,
		}
		ref := model.SessionRef(s.fs, id)
		if err := tx.Create(ref, model.NewSessionDocument(created)); err != nil {
			return err
		}
		if err := tx.Set(markerRef, model.CallMarker{ActiveSessionID: id, UpdatedAt: now}); err != nil {
			return err
		}
		c := s.newChange(now)
		c.present = []string{uid}
		c.emit(model.Joined(uid, true))
		return s.commit(tx, ref, c)
	})
	return created, err
}

// Join makes uid a participant of an active session. Joining twice changes
// nothing the second time.
func (s *Store) Join(ctx context.Context, uid, sessionID string) (model.Session, error) {
	return s.mutate(ctx, uid, sessionID, liveCallMembers, func(sess *model.Session, c *change) error {
		return join(sess, c, uid, s.maxPeople)
	})
}

// ErrFull reports a session at its participant limit.
var ErrFull = errors.New("the session is full")

// Leave removes uid from the session. When uid owned it, ownership passes
// to the longest-present participant (participants are kept in joining
// order); when nobody is left, the session ends. Leaving twice changes
// nothing the second time. A participant may always leave, also once the
// call no longer lists them: nothing should keep someone in a session they
// want out of.
func (s *Store) Leave(ctx context.Context, uid, sessionID string) (model.Session, error) {
	return s.mutate(ctx, uid, sessionID, participantsOrCallMembers, func(sess *model.Session, c *change) error {
		leave(sess, c, uid)
		return nil
	})
}

// RemoveAbsent removes, on the server's behalf, the participants whose
// last heartbeat (presence/{uid}.lastSeenAt) is before cutoff. Presence is
// read inside the transaction, with the session, so a join or a heartbeat
// committed while the sweep runs is seen (or aborts and retries the
// transaction), never judged on a stale copy. Others go first and the owner
// last, so ownership passes straight to the longest-present participant
// still there; nobody left ends the session. It returns who was removed.
func (s *Store) RemoveAbsent(ctx context.Context, sessionID string, cutoff time.Time) ([]string, error) {
	var removed []string
	err := s.transact(ctx, "session/"+sessionID, func(ctx context.Context, tx *firestore.Transaction) error {
		removed = nil
		ref, sess, err := s.session(tx, sessionID)
		if err != nil {
			return err
		}
		if sess.Status != model.StatusActive || len(sess.Participants) == 0 {
			return nil
		}
		refs := make([]*firestore.DocumentRef, len(sess.Participants))
		for i, uid := range sess.Participants {
			refs[i] = model.PresenceRef(ref, uid)
		}
		docs, err := tx.GetAll(refs)
		if err != nil {
			return fmt.Errorf("read presence of %s: %w", sessionID, err)
		}
		lastSeen := map[string]time.Time{}
		for _, d := range docs {
			if !d.Exists() {
				continue
			}
			var p model.Presence
			if err := d.DataTo(&p); err != nil {
				return fmt.Errorf("decode presence %s of %s: %w", d.Ref.ID, sessionID, err)
			}
			lastSeen[d.Ref.ID] = p.LastSeenAt
		}
		c := s.newChange(s.now())
		removed = removeAbsent(sess, c, lastSeen, cutoff)
		return s.commit(tx, ref, c)
	})
	return removed, err
}

// End ends the session; only its owner may. Ending an ended session
// changes nothing.
func (s *Store) End(ctx context.Context, uid, sessionID string) (model.Session, error) {
	return s.mutate(ctx, uid, sessionID, callMembers, func(sess *model.Session, c *change) error {
		return endByOwner(sess, c, uid)
	})
}

// TransferOwnership hands the session to another participant; only the
// owner may.
func (s *Store) TransferOwnership(ctx context.Context, uid, sessionID, newOwnerID string) (model.Session, error) {
	if err := checkIDs(newOwnerID); err != nil {
		return model.Session{}, err
	}
	return s.mutate(ctx, uid, sessionID, callMembers, func(sess *model.Session, c *change) error {
		return transfer(sess, c, uid, newOwnerID)
	})
}

// Who may change a session through mutate.
type access int

const (
	// callMembers: members of the session's call only.
	callMembers access = iota
	// liveCallMembers: members of the session's call, while the call has
	// not ended (joining).
	liveCallMembers
	// participantsOrCallMembers: also its participants, whatever the call
	// says (leaving).
	participantsOrCallMembers
)

// mutate runs f on the session in a transaction, after checking that uid
// may (see access), and commits what f changed.
//
// A missing session is ErrNotCallMember, as an existing session of a call
// uid is not in: whoever is not in a session's call must not learn from
// the answer whether the id exists. (A member asking for a missing id is
// in no call of that session either.)
func (s *Store) mutate(ctx context.Context, uid, sessionID string, who access, f func(*model.Session, *change) error) (model.Session, error) {
	if err := checkIDs(uid, sessionID); err != nil {
		return model.Session{}, err
	}
	var out model.Session
	err := s.transact(ctx, "session/"+sessionID, func(ctx context.Context, tx *firestore.Transaction) error {
		ref, sess, err := s.session(tx, sessionID)
		if errors.Is(err, ErrNotFound) {
			return ErrNotCallMember
		}
		if err != nil {
			return err
		}
		if who != participantsOrCallMembers || !sess.IsParticipant(uid) {
			call, err := s.callMember(ctx, tx, uid, sess.CallID)
			if err != nil {
				return err
			}
			if who == liveCallMembers && call.Status == model.CallStatusEnded {
				return ErrCallEnded
			}
		}
		c := s.newChange(s.now())
		if err := f(sess, c); err != nil {
			return err
		}
		out = *sess
		return s.commit(tx, ref, c)
	})
	return out, err
}

// checkIDs refuses ids that cannot be Firestore document ids before any of
// them names a document; the first one is the caller's uid.
func checkIDs(uid string, ids ...string) error {
	if p := docid.Problem(uid); p != "" {
		return fmt.Errorf("uid %q %s: %w", uid, p, ErrInvalidUserID)
	}
	for _, id := range ids {
		if p := docid.Problem(id); p != "" {
			return fmt.Errorf("id %q %s: %w", id, p, ErrInvalidID)
		}
	}
	return nil
}
