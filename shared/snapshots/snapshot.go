// Package snapshots is the seed's state snapshot on the server:
// experience_sessions/{id}/state_snapshots/latest holds a session's whole
// state at lastEventSequenceNumber, so that snapshot + the accepted events
// after it = the current state.
package snapshots

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/pajama-app/sharedexperiences/shared/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Snapshot is state_snapshots/latest. ExperienceState is stored as a JSON
// string, read back as an object, so its numbers keep their type whatever
// Firestore does with map values.
type Snapshot struct {
	ExperienceID            string    `firestore:"experienceId" json:"experienceId"`
	ExperienceState         string    `firestore:"experienceState" json:"-"`
	Participants            []string  `firestore:"participants" json:"participants"`
	OwnerID                 string    `firestore:"ownerId" json:"ownerId"`
	LastEventSequenceNumber int64     `firestore:"lastEventSequenceNumber" json:"lastEventSequenceNumber"`
	SchemaVersion           int       `firestore:"schemaVersion" json:"schemaVersion"`
	UpdatedAt               time.Time `firestore:"updatedAt" json:"updatedAt"`
}

// MarshalJSON shows experienceState as the JSON object it is.
func (s Snapshot) MarshalJSON() ([]byte, error) {
	type plain Snapshot
	state := json.RawMessage(s.ExperienceState)
	if !json.Valid(state) {
		state = json.RawMessage("null")
	}
	return json.Marshal(struct {
		plain
		ExperienceState json.RawMessage `json:"experienceState"`
	}{plain(s), state})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Snapshot) UnmarshalJSON(b []byte) error {
	type plain Snapshot
	var v struct {
		plain
		ExperienceState json.RawMessage `json:"experienceState"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Snapshot(v.plain)
	s.ExperienceState = string(v.ExperienceState)
	return nil
}

// Read returns the latest snapshot, or nil when there is none yet. Within a
// transaction, pass it as tx.
func Read(ctx context.Context, tx *firestore.Transaction, session *firestore.DocumentRef) (*Snapshot, error) {
	var snap *firestore.DocumentSnapshot
	var err error
	if tx != nil {
		snap, err = tx.Get(model.SnapshotRef(session))
	} else {
		snap, err = model.SnapshotRef(session).Get(ctx)
	}
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	return decode(snap)
}

// decode returns the snapshot a document holds, or nil when it does not
// exist (as a batch get reports a missing document).
func decode(snap *firestore.DocumentSnapshot) (*Snapshot, error) {
	if !snap.Exists() {
		return nil, nil
	}
	var s Snapshot
	if err := snap.DataTo(&s); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	return &s, nil
}
