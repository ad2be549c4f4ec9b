package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"cloud.google.com/go/pubsub/v2"

	"github.com/pajama-app/sharedexperiences/shared/snapshots"
)

// Tasks a session-work message asks maintainSession to do.
const (
	TaskPresence = "presence"
	TaskStale    = "stale"
	TaskCompact  = "compact"
	TaskFinalize = "finalize"
)

// Work is one session's share of a scheduled run: the data of a
// session-work message. Its handler decides on the session's state when it
// runs, so a redelivery or a duplicate (the next run finding the session
// before this one was handled) changes nothing.
type Work struct {
	Task      string `json:"task"`
	SessionID string `json:"sessionId"`
	// UIDs are the participants whose heartbeat the presence query found
	// silent (TaskPresence).
	UIDs []string `json:"uids,omitempty"`
	// Due is the session as the compaction query read it (TaskCompact),
	// so the work need not read it again.
	Due *snapshots.DueSession `json:"due,omitempty"`
}

// WorkQueue carries scheduled work to maintainSession, one message per
// session, so one run spreads over as many instances as it needs and a
// failing session is retried alone.
type WorkQueue interface {
	Enqueue(ctx context.Context, work []Work) error
}

// PubSubWork is the WorkQueue on the session-work topic.
type PubSubWork struct{ topic *pubsub.Publisher }

// NewPubSubWork publishes to topic (an id or a full name) through client.
func NewPubSubWork(client *pubsub.Client, topic string) *PubSubWork {
	return &PubSubWork{topic: client.Publisher(topic)}
}

// Enqueue publishes one message per Work and waits until Pub/Sub has them
// all; the error names how many were not published (the next run finds
// their sessions again).
func (p *PubSubWork) Enqueue(ctx context.Context, work []Work) error {
	results := make([]*pubsub.PublishResult, len(work))
	for i, w := range work {
		data, err := json.Marshal(w)
		if err != nil {
			return fmt.Errorf("encode work: %w", err)
		}
		results[i] = p.topic.Publish(ctx, &pubsub.Message{Data: data,
			Attributes: map[string]string{"task": w.Task, "sessionId": w.SessionID}})
	}
	var errs []error
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("publish session work: %d of %d failed: %w", len(errs), len(work), errors.Join(errs...))
	}
	return nil
}
