package functions

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/pajama-app/sharedexperiences/shared/fanout"
	"github.com/pajama-app/sharedexperiences/shared/logging"
	"github.com/pajama-app/sharedexperiences/shared/sessions"
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
	return a.compactSession(ctx, sessionID, func(pruneBefore time.Time) (snapshots.Result, error) {
		return a.compact.CompactAndPrune(ctx, sessionID, pruneBefore)
	})
}

// compactSession compacts and prunes one session, for compactOnEvents and
// the compactSnapshots work alike. A failure that no retry can mend
// (ErrStateTooLarge, ErrNewerSnapshot) is logged at ERROR and returns nil,
// so the message is acknowledged instead of redelivered for ever; any
// other failure returns its error, and Pub/Sub redelivers that session's
// message alone.
func (a *App) compactSession(ctx context.Context, sessionID string, compact func(pruneBefore time.Time) (snapshots.Result, error)) error {
	res, err := compact(a.now().Add(-a.cfg.EventRetention))
	switch {
	case errors.Is(err, snapshots.ErrStateTooLarge), errors.Is(err, snapshots.ErrNewerSnapshot):
		a.log.ErrorContext(ctx, "compaction cannot succeed; message acknowledged", logging.KeySessionID, sessionID, "error", err.Error())
		return nil
	case err != nil:
		a.log.ErrorContext(ctx, "compaction failed; will be retried", logging.KeySessionID, sessionID, "error", err.Error())
		return err
	}
	a.log.InfoContext(ctx, "compacted", logging.KeySessionID, sessionID, "from", res.From, "to", res.To,
		"folded", res.Folded, "rebuilt", res.Rebuilt, "written", res.Written, "pruned", res.Pruned)
	return nil
}

// maintainSession does one session's share of a scheduled run (a
// session-work message, see Work). Each task decides on the session's
// state as it is now, so a redelivery or a duplicate changes nothing. A
// message no retry can mend is logged and acknowledged; any other failure
// returns its error, and Pub/Sub redelivers this session's message alone.
func (a *App) maintainSession(ctx context.Context, e event.Event) error {
	var msg messagePublished
	var w Work
	if err := json.Unmarshal(e.Data(), &msg); err != nil {
		a.log.ErrorContext(ctx, "undecodable Pub/Sub event; dropped", "ceId", e.ID(), "error", err.Error())
		return nil
	}
	if err := json.Unmarshal(msg.Message.Data, &w); err != nil {
		a.log.ErrorContext(ctx, "undecodable session work; dropped", "ceId", e.ID(), "error", err.Error())
		return nil
	}
	now := a.now()
	var result any
	var err error
	switch w.Task {
	case TaskPresence:
		result, err = a.sessions.RemoveAbsent(ctx, w.SessionID, w.UIDs, now.Add(-a.cfg.PresenceGrace))
	case TaskStale:
		result, err = a.sessions.EndIfStale(ctx, w.SessionID, now.Add(-a.cfg.StaleSessionAfter))
	case TaskFinalize:
		result, err = a.sessions.Finalize(ctx, w.SessionID, now.Add(-a.cfg.CleanupGrace))
	case TaskCompact:
		if !a.cfg.SnapshotsEnabled {
			return nil
		}
		return a.compactSession(ctx, w.SessionID, func(pruneBefore time.Time) (snapshots.Result, error) {
			if w.Due != nil && w.Due.SessionID == w.SessionID {
				return a.compact.CompactDue(ctx, *w.Due, pruneBefore)
			}
			return a.compact.CompactAndPrune(ctx, w.SessionID, pruneBefore)
		})
	default:
		a.log.ErrorContext(ctx, "unknown session work; dropped", "ceId", e.ID(), "task", w.Task)
		return nil
	}
	log := a.log.With(logging.KeySessionID, w.SessionID, "task", w.Task)
	switch {
	case errors.Is(err, sessions.ErrInvalidID):
		log.ErrorContext(ctx, "session work names an invalid id; dropped", "error", err.Error())
		return nil
	case err != nil:
		log.ErrorContext(ctx, "session work failed; will be retried", "error", err.Error())
		return err
	}
	log.InfoContext(ctx, "session work done", "result", result)
	return nil
}
