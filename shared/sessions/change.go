package sessions

import (
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pajama-app/sharedexperiences/shared/model"
)

// This file is the sessions' pure core: a session as read in a
// transaction in, its new state and the writes that record it (a change)
// out. No I/O and no clock: the transaction shells in lifecycle.go, calls.go
// and store.go read, call one of these, and commit the change; a retried
// attempt replays it on what it read again.

// change is the mutation one transaction applies to a session.
type change struct {
	events []model.SystemEvent
	update []firestore.Update
	// present are users whose presence the server records now (a join
	// counts as a first heartbeat).
	present []string
	// now is the transaction attempt's one time: updatedAt, endedAt and
	// the heartbeats it writes agree.
	now time.Time
	// retention is how long an ended session is kept (its expireAt).
	retention time.Duration
}

func (c *change) emit(e model.SystemEvent) { c.events = append(c.events, e) }

func (c *change) set(path string, v any) {
	c.update = append(c.update, firestore.Update{Path: path, Value: v})
}

// join makes uid a participant of an active session with room.
func join(sess *model.Session, c *change, uid string, maxPeople int) error {
	switch {
	case sess.Status != model.StatusActive:
		return ErrInactive
	case sess.IsParticipant(uid):
		return nil
	case len(sess.Participants) >= maxPeople:
		return fmt.Errorf("%w: the session has %d participants", ErrFull, len(sess.Participants))
	}
	sess.Participants = append(slices.Clone(sess.Participants), uid)
	c.set(model.FieldParticipants, sess.Participants)
	c.present = append(c.present, uid)
	c.emit(model.Joined(uid, false))
	return nil
}

// leave removes uid, if still there.
func leave(sess *model.Session, c *change, uid string) {
	if sess.Status != model.StatusActive || !sess.IsParticipant(uid) {
		return
	}
	removeParticipant(sess, c, uid, uid)
}

// removeParticipant removes uid on by's behalf. The owner's leaving hands
// the session to the longest-present participant (participants are kept in
// joining order); the last one's ends it.
func removeParticipant(sess *model.Session, c *change, uid, by string) {
	removeParticipantEnding(sess, c, uid, by, model.EndReasonEmpty)
}

func removeParticipantEnding(sess *model.Session, c *change, uid, by, reason string) {
	sess.Participants = slices.DeleteFunc(slices.Clone(sess.Participants), func(p string) bool { return p == uid })
	if sess.Participants == nil {
		sess.Participants = []string{}
	}
	c.set(model.FieldParticipants, sess.Participants)
	c.emit(model.Left(uid, by))
	switch {
	case len(sess.Participants) == 0:
		end(sess, c, by, reason)
	case sess.OwnerID == uid:
		next := sess.Participants[0]
		c.emit(model.OwnerChange(uid, next, by))
		sess.OwnerID = next
		c.set(model.FieldOwnerID, next)
	}
}

// end ends the session, with experience_ended as its last event.
func end(sess *model.Session, c *change, by, reason string) {
	now := c.now
	sess.Status, sess.EndedAt, sess.EndReason = model.StatusInactive, &now, reason
	c.set(model.FieldStatus, model.StatusInactive)
	c.set(model.FieldEndedAt, now)
	c.set(model.FieldEndReason, reason)
	// TTL deletes the session document after expireAt; FinalizeEnded
	// stamps its events and removes what TTL does not reach.
	c.set(model.FieldExpireAt, now.Add(c.retention))
	c.set(model.FieldFinalized, false)
	c.emit(model.Ended(by, reason))
}

// endByOwner ends an active session for its owner uid.
func endByOwner(sess *model.Session, c *change, uid string) error {
	if sess.Status != model.StatusActive {
		return nil
	}
	if sess.OwnerID != uid {
		return ErrNotOwner
	}
	end(sess, c, uid, model.EndReasonByOwner)
	return nil
}

// transfer hands the session from its owner uid to another participant.
func transfer(sess *model.Session, c *change, uid, newOwnerID string) error {
	switch {
	case sess.Status != model.StatusActive:
		return ErrInactive
	case sess.OwnerID != uid:
		return ErrNotOwner
	case !sess.IsParticipant(newOwnerID):
		return ErrNotParticipant
	case newOwnerID == uid:
		return nil
	}
	c.emit(model.OwnerChange(uid, newOwnerID, uid))
	sess.OwnerID = newOwnerID
	c.set(model.FieldOwnerID, newOwnerID)
	return nil
}

// removeAbsent removes, on the server's behalf, the participants last seen
// before cutoff (Absentees), and returns them; nobody left ends the session
// for want of anyone present.
func removeAbsent(sess *model.Session, c *change, lastSeen map[string]time.Time, cutoff time.Time) []string {
	if sess.Status != model.StatusActive {
		return nil
	}
	removed := Absentees(*sess, lastSeen, cutoff)
	for _, uid := range removed {
		removeParticipantEnding(sess, c, uid, model.SystemSender, model.EndReasonAbsent)
	}
	return removed
}

// Absentees is who the presence sweep removes, in order: the participants
// last seen before cutoff (a missing heartbeat counts as never seen), the
// others first and the owner last, so ownership passes straight to the
// longest-present participant still there.
func Absentees(sess model.Session, lastSeen map[string]time.Time, cutoff time.Time) []string {
	return othersFirst(sess, func(uid string) bool { return lastSeen[uid].Before(cutoff) })
}

// othersFirst lists the participants for which out holds, the owner last.
func othersFirst(sess model.Session, out func(uid string) bool) []string {
	var list []string
	for _, p := range sess.Participants {
		if p != sess.OwnerID && out(p) {
			list = append(list, p)
		}
	}
	if sess.IsParticipant(sess.OwnerID) && out(sess.OwnerID) {
		list = append(list, sess.OwnerID)
	}
	return list
}

// syncWithCall applies the call's current state to an active session of
// it: a call deleted (exists false) or marked ended ends the session; the
// participants the call no longer lists leave, the owner last.
func syncWithCall(sess *model.Session, c *change, call model.Call, exists bool) CallChange {
	out := CallChange{SessionID: sess.ID}
	if sess.Status != model.StatusActive {
		return out
	}
	if !exists || call.Status == model.CallStatusEnded {
		end(sess, c, model.SystemSender, model.EndReasonCallEnded)
		out.Ended = true
		return out
	}
	out.Removed = othersFirst(*sess, func(uid string) bool { return !call.IsMember(uid) })
	for _, uid := range out.Removed {
		removeParticipant(sess, c, uid, model.SystemSender)
	}
	out.Ended = sess.Status != model.StatusActive
	return out
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
