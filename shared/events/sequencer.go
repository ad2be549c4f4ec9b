package events

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/sessions"
)

// Outcome is what the sequencer decided for one event.
type Outcome struct {
	Status         string
	Reason         RejectReason
	SequenceNumber int64
	// AlreadyDone is true when an earlier delivery had decided the event.
	AlreadyDone bool
}

// Sequencer decides events and numbers the accepted ones.
//
// This first version numbers one event per transaction, which serialises on
// the session document; batching the pending events of a session into one
// transaction is the pipeline's next step.
type Sequencer struct {
	fs  *firestore.Client
	now func() time.Time
}

// NewSequencer returns a Sequencer over fs.
func NewSequencer(fs *firestore.Client) *Sequencer {
	return &Sequencer{fs: fs, now: time.Now}
}

// Sequence decides the event docID of session sessionID. decodeErr is the
// error from decoding the document, if any: such an event is rejected.
func (s *Sequencer) Sequence(ctx context.Context, sessionID, docID string, ev Event, decodeErr error) (Outcome, error) {
	sessRef := s.fs.Collection(sessions.SessionsCollection).Doc(sessionID)
	evRef := sessRef.Collection(sessions.EventsCollection).Doc(docID)
	var out Outcome
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		out = Outcome{}
		evSnap, err := tx.Get(evRef)
		if err != nil {
			return fmt.Errorf("read event: %w", err)
		}
		if st, _ := evSnap.DataAt("status"); st != nil {
			out.AlreadyDone = true
			out.Status, _ = st.(string)
			if n, _ := evSnap.DataAt("sequenceNumber"); n != nil {
				out.SequenceNumber, _ = n.(int64)
			}
			return nil
		}
		var sess sessions.Session
		sessSnap, err := tx.Get(sessRef)
		switch {
		case status.Code(err) == codes.NotFound:
			out.Reason = ReasonUnknownSession
		case err != nil:
			return fmt.Errorf("read session: %w", err)
		default:
			if err := sessSnap.DataTo(&sess); err != nil {
				return fmt.Errorf("decode session: %w", err)
			}
			out.Reason = check(&sess, docID, ev, decodeErr)
		}
		now := s.now()
		if out.Reason != "" {
			out.Status = StatusRejected
			return tx.Update(evRef, []firestore.Update{
				{Path: "status", Value: StatusRejected},
				{Path: "rejectReason", Value: string(out.Reason)},
				{Path: "sequencedAt", Value: now},
			})
		}
		out.Status = StatusAccepted
		out.SequenceNumber = sess.LastEventSequenceNumber + 1
		if err := tx.Update(evRef, []firestore.Update{
			{Path: "status", Value: StatusAccepted},
			{Path: "sequenceNumber", Value: out.SequenceNumber},
			{Path: "sequencedAt", Value: now},
		}); err != nil {
			return err
		}
		return tx.Update(sessRef, []firestore.Update{
			{Path: "lastEventId", Value: docID},
			{Path: "lastEventSequenceNumber", Value: out.SequenceNumber},
			{Path: "lastActivityAt", Value: now},
			{Path: "updatedAt", Value: now},
		})
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("sequence event %s/%s: %w", sessionID, docID, err)
	}
	return out, nil
}

// check validates an event against its session; "" means accepted.
func check(sess *sessions.Session, docID string, ev Event, decodeErr error) RejectReason {
	switch {
	case decodeErr != nil:
		return ReasonMalformed
	case sess.Status != sessions.StatusActive:
		return ReasonSessionInactive
	case ev.ID != docID:
		return ReasonIDMismatch
	case !sess.IsParticipant(ev.SenderID):
		return ReasonNotParticipant
	}
	return ""
}
