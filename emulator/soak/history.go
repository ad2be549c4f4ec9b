package soak

import (
	"encoding/json"
	"os"
	"time"
)

// History is what a run observed: the committed documents as read back
// from Firestore after the run settled, the reads taken during it, the
// messages Pub/Sub delivered, and what each client was answered. The
// invariants are a function of a History alone, so a saved one can be
// checked again without the emulators.
type History struct {
	Seed   uint64 `json:"seed"`
	Script Script `json:"script"`
	Config Config `json:"config"`
	// Crashes counts functions-host kills during the run; Drops the
	// triggers the fault injection lost; CallTriggersLost says an
	// onCallWritten delivery may have been lost or given up.
	Crashes          int  `json:"crashes"`
	Drops            int  `json:"drops"`
	CallTriggersLost bool `json:"callTriggersLost"`

	Calls    map[string]CallDoc `json:"calls"`
	Sessions []SessionHistory   `json:"sessions"`
	// Observations are consistent reads of sessions taken during the run.
	Observations []Observation `json:"observations"`
	// Published are the experience-events messages, in receipt order.
	Published []Message `json:"published"`
	// Writes are each user's acknowledged event writes, in the order
	// acknowledged (one after the other per user).
	Writes map[string][]Write `json:"writes"`
	// Joins are the successful joinSession answers.
	Joins []JoinAnswer `json:"joins"`
	// Sweeps are the sweepPendingEvents runs that answered 2xx, on the
	// test's clock; SweepAge is PENDING_SWEEP_AGE.
	Sweeps   []Span        `json:"sweeps"`
	SweepAge time.Duration `json:"sweepAge"`
}

// Span is when something ran.
type Span struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Config is the functions' settings the model needs.
type Config struct {
	MaxEventBytes          int     `json:"maxEventBytes"`
	SenderEventsPerSecond  float64 `json:"senderEventsPerSecond"`
	SessionEventsPerSecond float64 `json:"sessionEventsPerSecond"`
}

// CallDoc is calls/{id} at the end (Exists false when deleted).
type CallDoc struct {
	Exists  bool     `json:"exists"`
	Members []string `json:"members"`
	Status  string   `json:"status"`
}

// SessionHistory is one session's documents after the run settled.
type SessionHistory struct {
	ID      string     `json:"id"`
	Session SessionDoc `json:"session"`
	// Events in document-id order (commit order is the model's job).
	Events   []EventDoc   `json:"events"`
	Snapshot *SnapshotDoc `json:"snapshot,omitempty"`
}

// SessionDoc is the part of experience_sessions/{id} the invariants read.
type SessionDoc struct {
	CallID                  string     `firestore:"callId" json:"callId"`
	ExperienceID            string     `firestore:"experienceId" json:"experienceId"`
	OwnerID                 string     `firestore:"ownerId" json:"ownerId"`
	Status                  string     `firestore:"status" json:"status"`
	Participants            []string   `firestore:"participants" json:"participants"`
	LastEventID             string     `firestore:"lastEventId" json:"lastEventId"`
	LastEventSequenceNumber int64      `firestore:"lastEventSequenceNumber" json:"lastEventSequenceNumber"`
	EndedAt                 *time.Time `firestore:"endedAt" json:"endedAt,omitempty"`
	EndReason               string     `firestore:"endReason" json:"endReason,omitempty"`
}

// EventDoc is one event document as stored: its client fields as read,
// each with whether it had the contract's type (so a malformed value stays
// visible), and the server's fields.
type EventDoc struct {
	DocID      string    `json:"docId"`
	CreateTime time.Time `json:"createTime"`
	UpdateTime time.Time `json:"updateTime"`

	ID        string            `json:"id"`
	Type      string            `json:"type"`
	SenderID  string            `json:"senderId"`
	Data      map[string]string `json:"data"`
	ClientSeq int64             `json:"clientSequenceNumber"`
	CreatedAt time.Time         `json:"createdAt"`
	Origin    string            `json:"origin,omitempty"`
	Bytes     int               `json:"bytes"` // lengths of the strings of the client fields
	BadFields []string          `json:"badFields,omitempty"`

	Status         string `json:"status,omitempty"`
	SequenceNumber int64  `json:"sequenceNumber,omitempty"`
	HasNumber      bool   `json:"hasNumber,omitempty"`
	RejectReason   string `json:"rejectReason,omitempty"`
}

// SnapshotDoc is state_snapshots/latest.
type SnapshotDoc struct {
	ExperienceID            string   `json:"experienceId"`
	ExperienceState         string   `json:"experienceState"`
	Participants            []string `json:"participants"`
	OwnerID                 string   `json:"ownerId"`
	LastEventSequenceNumber int64    `json:"lastEventSequenceNumber"`
	SchemaVersion           int      `json:"schemaVersion"`
}

// Observation is a consistent read, during the run, of the sessions that
// existed then.
type Observation struct {
	At       time.Time             `json:"at"`
	Sessions map[string]ObsSession `json:"sessions"`
}

// ObsSession is one session in an Observation.
type ObsSession struct {
	CallID                  string           `json:"callId"`
	Status                  string           `json:"status"`
	LastEventSequenceNumber int64            `json:"lastEventSequenceNumber"`
	Participants            []string         `json:"participants"`
	OwnerID                 string           `json:"ownerId"`
	Numbers                 map[string]int64 `json:"numbers"` // accepted event id -> number
	Rejected                map[string]string
	Pending                 map[string]time.Time `json:"pending"` // undecided event id -> createdAt
}

// Message is one experience-events message as received.
type Message struct {
	SessionID      string            `json:"sessionId"`
	SequenceNumber int64             `json:"sequenceNumber"`
	EventID        string            `json:"eventId"`
	Type           string            `json:"type"`
	Data           map[string]string `json:"data"`
	Attributes     map[string]string `json:"attributes"`
}

// Write is one acknowledged event write: "sessionId/eventId", when it was
// sent and when its acknowledgement came back (the test's clock).
type Write struct {
	Path  string    `json:"path"`
	Sent  time.Time `json:"sent"`
	Acked time.Time `json:"acked"`
}

// JoinAnswer is a joinSession result.
type JoinAnswer struct {
	User                    string       `json:"user"`
	SessionID               string       `json:"sessionId"`
	Snapshot                *SnapshotDoc `json:"snapshot"`
	Events                  []JoinEvent  `json:"events"`
	LastEventSequenceNumber int64        `json:"lastEventSequenceNumber"`
	// Participants are the answer's session's.
	Participants []string `json:"participants"`
}

// JoinEvent is one event of a joinSession answer.
type JoinEvent struct {
	ID             string            `json:"id"`
	Type           string            `json:"type"`
	SenderID       string            `json:"senderId"`
	Data           map[string]string `json:"data"`
	SequenceNumber int64             `json:"sequenceNumber"`
}

// Save writes h as JSON to path.
func (h *History) Save(path string) error {
	b, err := json.MarshalIndent(h, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// LoadHistory reads a History written by Save.
func LoadHistory(path string) (*History, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var h History
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, err
	}
	return &h, nil
}
