package sessions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/docid"
	"github.com/pajama-app/sharedexperiences/shared/ratelimit"
)

// userLimits holds each user's session-creation bucket, read and written in
// the create transaction: one limit across every function instance, and
// not charged when the create fails.
const userLimitsCollection = "user_limits"

// callSessions holds one marker document per call, {activeSessionId},
// read and written by every createSession transaction of that call, so
// concurrent creates conflict on it and only one wins. No rule matches it:
// only the functions see it.
const callSessionsCollection = "call_sessions"

// System event types (the same names as package experiences; repeated here
// to keep this package free of the experience registry).
const (
	eventParticipantJoined = "participant_joined"
	eventParticipantLeft   = "participant_left"
	eventOwnerChanged      = "owner_changed"
	eventExperienceEnded   = "experience_ended"
)

// systemEvent is a server-written event; it is numbered by the pipeline
// like any other.
type systemEvent struct {
	Type string
	By   string // senderId: the user who caused it, or SystemSender
	Data map[string]string
}

// change is the mutation one transaction applies to a session.
type change struct {
	events []systemEvent
	update []firestore.Update
	// present are users whose presence the server records now (a join
	// counts as a first heartbeat).
	present []string
}

func (c *change) emit(typ, by string, data map[string]string) {
	c.events = append(c.events, systemEvent{Type: typ, By: by, Data: data})
}

// commit writes the session update and the system events. The events of one
// transaction share a commit time; their clientSequenceNumber keeps them in
// the order they were emitted.
func (s *Store) commit(tx *firestore.Transaction, ref *firestore.DocumentRef, c *change, now time.Time) error {
	if len(c.update) > 0 {
		if err := tx.Update(ref, lastPerPath(append(c.update, firestore.Update{Path: "updatedAt", Value: now}))); err != nil {
			return err
		}
	}
	for _, uid := range c.present {
		if err := tx.Set(ref.Collection(PresenceCollection).Doc(uid), map[string]any{"lastSeenAt": now}); err != nil {
			return err
		}
	}
	for i, e := range c.events {
		evRef := ref.Collection(EventsCollection).NewDoc()
		if err := tx.Create(evRef, map[string]any{
			"id":                   evRef.ID,
			"type":                 e.Type,
			"senderId":             e.By,
			"data":                 e.Data,
			"clientSequenceNumber": int64(i),
			"createdAt":            firestore.ServerTimestamp,
			"origin":               OriginServer,
		}); err != nil {
			return err
		}
	}
	return nil
}

// lastPerPath keeps each field's last value: a change that removes two
// participants sets "participants" twice, and Firestore refuses an update
// naming a field twice.
func lastPerPath(updates []firestore.Update) []firestore.Update {
	index := map[string]int{}
	var out []firestore.Update
	for _, u := range updates {
		if i, ok := index[u.Path]; ok {
			out[i] = u
			continue
		}
		index[u.Path] = len(out)
		out = append(out, u)
	}
	return out
}

func (s *Store) session(tx *firestore.Transaction, sessionID string) (*firestore.DocumentRef, *Session, error) {
	ref := s.fs.Collection(SessionsCollection).Doc(sessionID)
	snap, err := tx.Get(ref)
	if status.Code(err) == codes.NotFound {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read session %s: %w", sessionID, err)
	}
	var sess Session
	if err := snap.DataTo(&sess); err != nil {
		return nil, nil, fmt.Errorf("decode session %s: %w", sessionID, err)
	}
	return ref, &sess, nil
}

// Create starts a session of experienceID in callID with uid as owner and
// first participant. The call keeps at most one active session: if it has
// one, Create fails with *ExistsError naming it.
func (s *Store) Create(ctx context.Context, uid, callID, experienceID string) (Session, error) {
	if err := checkIDs(uid, callID); err != nil {
		return Session{}, err
	}
	if !s.knownXP(experienceID) {
		return Session{}, fmt.Errorf("%w %q", ErrUnknownExperience, experienceID)
	}
	var created Session
	err := s.transact(ctx, "call/"+callID, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := s.requireCallMemberTx(ctx, tx, uid, callID); err != nil {
			return err
		}
		limitRef := s.fs.Collection(userLimitsCollection).Doc(uid)
		var limits struct {
			Create ratelimit.Bucket `firestore:"create"`
		}
		switch snap, err := tx.Get(limitRef); {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return fmt.Errorf("read user limits: %w", err)
		default:
			if err := snap.DataTo(&limits); err != nil {
				return fmt.Errorf("decode user limits: %w", err)
			}
		}
		markerRef := s.fs.Collection(callSessionsCollection).Doc(callID)
		marker, err := tx.Get(markerRef)
		if err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("read call marker: %w", err)
		}
		if err == nil {
			if active, _ := marker.Data()["activeSessionId"].(string); active != "" {
				_, sess, err := s.session(tx, active)
				switch {
				case errors.Is(err, ErrNotFound):
				case err != nil:
					return err
				case sess.Status == StatusActive:
					return &ExistsError{Session: *sess}
				}
			}
		}
		now := time.Now().UTC()
		if !limits.Create.Take(s.create, now) {
			return ErrTooManySessions
		}
		if err := tx.Set(limitRef, limits); err != nil {
			return err
		}
		id := s.newID()
		created = Session{
			ID: id, CallID: callID, ExperienceID: experienceID, OwnerID: uid,
			Status: StatusActive, Participants: []string{uid},
			CreatedAt: now, UpdatedAt: now, LastActivityAt: now,
		}
		ref := s.fs.Collection(SessionsCollection).Doc(id)
		// The sequencer's view of the session starts empty and ordered:
		// the creator's participant_joined below is its first event, so
		// every event is judged on the system events before it.
		doc := struct {
			Session
			Sequencer map[string]any `firestore:"sequencer"`
		}{created, map[string]any{"ordered": true}}
		if err := tx.Create(ref, doc); err != nil {
			return err
		}
		if err := tx.Set(markerRef, map[string]any{"activeSessionId": id, "updatedAt": now}); err != nil {
			return err
		}
		c := &change{present: []string{uid}}
		c.emit(eventParticipantJoined, uid, map[string]string{"userId": uid, "created": "true"})
		return s.commit(tx, ref, c, now)
	})
	return created, err
}

// Join makes uid a participant of an active session. Joining twice changes
// nothing the second time.
func (s *Store) Join(ctx context.Context, uid, sessionID string) (Session, error) {
	return s.mutate(ctx, uid, sessionID, callMembers, func(sess *Session, c *change) error {
		if sess.Status != StatusActive {
			return ErrInactive
		}
		if sess.IsParticipant(uid) {
			return nil
		}
		if len(sess.Participants) >= s.maxPeople {
			return fmt.Errorf("%w: the session has %d participants", ErrFull, len(sess.Participants))
		}
		sess.Participants = append(sess.Participants, uid)
		c.update = append(c.update, firestore.Update{Path: "participants", Value: sess.Participants})
		c.present = append(c.present, uid)
		c.emit(eventParticipantJoined, uid, map[string]string{"userId": uid})
		return nil
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
func (s *Store) Leave(ctx context.Context, uid, sessionID string) (Session, error) {
	return s.mutate(ctx, uid, sessionID, participantsOrCallMembers, func(sess *Session, c *change) error {
		if sess.Status != StatusActive || !sess.IsParticipant(uid) {
			return nil
		}
		s.removeParticipant(sess, c, uid, uid)
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
		if sess.Status != StatusActive || len(sess.Participants) == 0 {
			return nil
		}
		refs := make([]*firestore.DocumentRef, len(sess.Participants))
		for i, uid := range sess.Participants {
			refs[i] = ref.Collection(PresenceCollection).Doc(uid)
		}
		docs, err := tx.GetAll(refs)
		if err != nil {
			return fmt.Errorf("read presence of %s: %w", sessionID, err)
		}
		lastSeen := map[string]time.Time{}
		for _, d := range docs {
			if d.Exists() {
				lastSeen[d.Ref.ID], _ = d.Data()["lastSeenAt"].(time.Time)
			}
		}
		removed = Absentees(*sess, lastSeen, cutoff)
		c := &change{}
		for i, uid := range removed {
			if i == len(removed)-1 && len(sess.Participants) == 1 {
				// The last one: the session ends for want of anyone present.
				sess.Participants = nil
				c.update = append(c.update, firestore.Update{Path: "participants", Value: []string{}})
				c.emit(eventParticipantLeft, SystemSender, map[string]string{"userId": uid})
				s.end(sess, c, SystemSender, EndReasonAbsent)
				break
			}
			s.removeParticipant(sess, c, uid, SystemSender)
		}
		return s.commit(tx, ref, c, time.Now().UTC())
	})
	return removed, err
}

// Absentees is who the presence sweep removes, in order: the participants
// last seen before cutoff (a missing heartbeat counts as never seen), the
// others first and the owner last.
func Absentees(sess Session, lastSeen map[string]time.Time, cutoff time.Time) []string {
	absent := func(uid string) bool { return lastSeen[uid].Before(cutoff) }
	var out []string
	for _, p := range sess.Participants {
		if p != sess.OwnerID && absent(p) {
			out = append(out, p)
		}
	}
	if sess.IsParticipant(sess.OwnerID) && absent(sess.OwnerID) {
		out = append(out, sess.OwnerID)
	}
	return out
}

func (s *Store) removeParticipant(sess *Session, c *change, uid, by string) {
	sess.Participants = slices.DeleteFunc(slices.Clone(sess.Participants), func(p string) bool { return p == uid })
	c.update = append(c.update, firestore.Update{Path: "participants", Value: sess.Participants})
	c.emit(eventParticipantLeft, by, map[string]string{"userId": uid})
	switch {
	case len(sess.Participants) == 0:
		s.end(sess, c, by, EndReasonEmpty)
	case sess.OwnerID == uid:
		next := sess.Participants[0]
		c.emit(eventOwnerChanged, by, map[string]string{"previousOwnerId": uid, "newOwnerId": next, "userId": next})
		sess.OwnerID = next
		c.update = append(c.update, firestore.Update{Path: "ownerId", Value: next})
	}
}

func (s *Store) end(sess *Session, c *change, by, reason string) {
	now := time.Now().UTC()
	sess.Status, sess.EndedAt, sess.EndReason = StatusInactive, &now, reason
	c.update = append(c.update,
		firestore.Update{Path: "status", Value: StatusInactive},
		firestore.Update{Path: "endedAt", Value: now},
		firestore.Update{Path: "endReason", Value: reason},
		// TTL deletes the session document after expireAt; FinalizeEnded
		// stamps its events and removes what TTL does not reach.
		firestore.Update{Path: "expireAt", Value: now.Add(s.retention)},
		firestore.Update{Path: "finalized", Value: false},
	)
	c.emit(eventExperienceEnded, by, map[string]string{"userId": by, "reason": reason})
}

// End ends the session; only its owner may. Ending an ended session
// changes nothing.
func (s *Store) End(ctx context.Context, uid, sessionID string) (Session, error) {
	return s.mutate(ctx, uid, sessionID, callMembers, func(sess *Session, c *change) error {
		if sess.Status != StatusActive {
			return nil
		}
		if sess.OwnerID != uid {
			return ErrNotOwner
		}
		s.end(sess, c, uid, EndReasonByOwner)
		return nil
	})
}

// TransferOwnership hands the session to another participant; only the
// owner may.
func (s *Store) TransferOwnership(ctx context.Context, uid, sessionID, newOwnerID string) (Session, error) {
	if err := checkIDs(newOwnerID); err != nil {
		return Session{}, err
	}
	return s.mutate(ctx, uid, sessionID, callMembers, func(sess *Session, c *change) error {
		switch {
		case sess.Status != StatusActive:
			return ErrInactive
		case sess.OwnerID != uid:
			return ErrNotOwner
		case !sess.IsParticipant(newOwnerID):
			return ErrNotParticipant
		case newOwnerID == uid:
			return nil
		}
		c.emit(eventOwnerChanged, uid, map[string]string{"previousOwnerId": uid, "newOwnerId": newOwnerID, "userId": newOwnerID})
		sess.OwnerID = newOwnerID
		c.update = append(c.update, firestore.Update{Path: "ownerId", Value: newOwnerID})
		return nil
	})
}

// Who may change a session through mutate.
type access int

const (
	// callMembers: members of the session's call only.
	callMembers access = iota
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
func (s *Store) mutate(ctx context.Context, uid, sessionID string, who access, f func(*Session, *change) error) (Session, error) {
	if err := checkIDs(uid, sessionID); err != nil {
		return Session{}, err
	}
	var out Session
	err := s.transact(ctx, "session/"+sessionID, func(ctx context.Context, tx *firestore.Transaction) error {
		ref, sess, err := s.session(tx, sessionID)
		if errors.Is(err, ErrNotFound) {
			return ErrNotCallMember
		}
		if err != nil {
			return err
		}
		if who != participantsOrCallMembers || !sess.IsParticipant(uid) {
			if err := s.requireCallMemberTx(ctx, tx, uid, sess.CallID); err != nil {
				return err
			}
		}
		c := &change{}
		if err := f(sess, c); err != nil {
			return err
		}
		out = *sess
		return s.commit(tx, ref, c, time.Now().UTC())
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
