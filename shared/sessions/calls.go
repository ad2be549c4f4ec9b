package sessions

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// CallChange is what SyncCall did to one session of the call.
type CallChange struct {
	SessionID string   `json:"sessionId"`
	Removed   []string `json:"removed,omitempty"`
	Ended     bool     `json:"ended,omitempty"`
}

// SyncCall brings the call's active sessions in line with calls/{callID},
// the source of truth for who is in the call: participants no longer in
// members leave (participant_left, ownership handed on as on any leave;
// the last one leaving ends the session), and a call deleted or marked
// ended ends them (model.EndReasonCallEnded). It reads the call's current state,
// not the change that triggered it, so a redelivered or reordered trigger
// finds nothing left to do.
func (s *Store) SyncCall(ctx context.Context, callID string) ([]CallChange, error) {
	docs, err := s.fs.Collection(model.SessionsCollection).
		Where(model.FieldCallID, "==", callID).
		Where(model.FieldStatus, "==", model.StatusActive).
		Select().Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("query active sessions of call %s: %w", callID, err)
	}
	var out []CallChange
	for _, d := range docs {
		ch, err := s.syncSession(ctx, callID, d.Ref.ID)
		if err != nil {
			return out, err
		}
		if len(ch.Removed) > 0 || ch.Ended {
			out = append(out, ch)
		}
	}
	return out, nil
}

// syncSession applies the call's current state to one session, reading the
// call again inside the transaction: a member added back meanwhile stays.
func (s *Store) syncSession(ctx context.Context, callID, sessionID string) (CallChange, error) {
	var out CallChange
	err := s.transact(ctx, "session/"+sessionID, func(ctx context.Context, tx *firestore.Transaction) error {
		out = CallChange{SessionID: sessionID}
		ref, sess, err := s.session(tx, sessionID)
		if errors.Is(err, ErrNotFound) {
			return nil // deleted since the query: nothing to sync
		}
		if err != nil {
			return err
		}
		call, exists, err := s.callTx(tx, callID)
		if err != nil {
			return err
		}
		if sess.CallID != callID {
			return nil
		}
		c := s.newChange(s.now())
		out = syncWithCall(sess, c, call, exists)
		return s.commit(tx, ref, c)
	})
	if err != nil {
		return CallChange{}, fmt.Errorf("sync session %s with call %s: %w", sessionID, callID, err)
	}
	return out, nil
}

// callTx reads calls/{callID} in tx; exists is false when it was deleted.
func (s *Store) callTx(tx *firestore.Transaction, callID string) (call model.Call, exists bool, err error) {
	snap, err := tx.Get(model.CallRef(s.fs, callID))
	if status.Code(err) == codes.NotFound {
		return model.Call{}, false, nil
	}
	if err != nil {
		return model.Call{}, false, fmt.Errorf("read call %s: %w", callID, err)
	}
	if err := snap.DataTo(&call); err != nil {
		return model.Call{}, false, fmt.Errorf("decode call %s: %w", callID, err)
	}
	return call, true, nil
}
