package functions

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/pajama-app/sharedexperiences/shared/fanout"
	"github.com/pajama-app/sharedexperiences/shared/logging"
	"github.com/pajama-app/sharedexperiences/shared/snapshots"
)

// messagePublished is the data of Eventarc's
// google.cloud.pubsub.topic.v1.messagePublished event. It is decoded with
// encoding/json rather than protojson because Pub/Sub's push payload
// carries some fields twice (messageId and message_id), which protojson
// rejects as duplicates.
type messagePublished struct {
	Message struct {
		Data        []byte            `json:"data"`
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		OrderingKey string            `json:"orderingKey"`
	} `json:"message"`
}

// compactOnEvents consumes experience-events and compacts a session each
// time its sequence passes a multiple of COMPACTION_THRESHOLD, so a busy
// session's snapshot never lags far behind, between scheduled runs. It
// reads nothing for the other events. A failed compaction returns an error
// and Pub/Sub redelivers; compaction is idempotent.
func (a *App) compactOnEvents(ctx context.Context, e event.Event) error {
	ctx = traced(ctx, e)
	var msg messagePublished
	if err := json.Unmarshal(e.Data(), &msg); err != nil {
		a.log.ErrorContext(ctx, "undecodable Pub/Sub event; dropped", "ceId", e.ID(), "error", err.Error())
		return nil
	}
	attrs := msg.Message.Attributes
	n, err := strconv.ParseInt(attrs[fanout.AttrSequenceNumber], 10, 64)
	if err != nil || !a.cfg.SnapshotsEnabled || n%int64(a.cfg.CompactionThreshold) != 0 {
		return nil
	}
	sessionID := attrs[fanout.AttrSessionID]
	_, _, err = a.compactAndPrune(ctx, sessionID)
	switch {
	case errors.Is(err, snapshots.ErrStateTooLarge), errors.Is(err, snapshots.ErrNewerSnapshot):
		// No redelivery can succeed: acknowledged, and left to the logs.
		a.log.ErrorContext(ctx, "compaction cannot succeed; message acknowledged", logging.KeySessionID, sessionID, "error", err.Error())
		return nil
	case err != nil:
		a.log.ErrorContext(ctx, "compaction failed; will be retried", logging.KeySessionID, sessionID, "error", err.Error())
		return err
	}
	return nil
}
