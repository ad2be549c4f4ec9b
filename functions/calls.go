package functions

import (
	"context"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/pajama-app/sharedexperiences/shared/logging"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// onCallWritten receives every write and delete of calls/{callId}, made by
// the app's call service, and brings the call's active sessions in line
// with it (sessions.Store.SyncCall). It acts on the call as it is now, not
// on the payload's before and after, so redelivered and reordered triggers
// change nothing more. An unusable payload is logged and answered with
// success, so Eventarc does not retry it forever; a transient failure
// returns the error, and Eventarc redelivers.
func (a *App) onCallWritten(ctx context.Context, e event.Event) error {
	ctx = traced(ctx, e)
	log := a.log.With(logging.KeyFunction, "onCallWritten", "ceId", e.ID())
	path, ok := documentPath(ctx, log, e)
	if !ok {
		return nil
	}
	callID, ok := callPath(path)
	if !ok {
		log.ErrorContext(ctx, "document is not a call; dropped", "path", path)
		return nil
	}
	log = log.With("callId", callID)
	changes, err := a.sessions.SyncCall(ctx, callID)
	if err != nil {
		log.ErrorContext(ctx, "syncing the call's sessions failed; will be retried", "error", err.Error())
		return err
	}
	if len(changes) > 0 {
		log.InfoContext(ctx, "call synced", "changes", changes)
	}
	return nil
}

// callPath splits "calls/{callId}".
func callPath(path string) (string, bool) {
	parts := strings.Split(path, "/")
	if len(parts) != 2 || parts[0] != model.CallsCollection || parts[1] == "" {
		return "", false
	}
	return parts[1], true
}
