package functions

import (
	"context"
	"log/slog"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/googleapis/google-cloudevents-go/cloud/firestoredata"

	"github.com/pajama-app/sharedexperiences/shared/firestoreevent"
	"github.com/pajama-app/sharedexperiences/shared/logging"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// onEventCreated receives every created experience_sessions/*/events/*
// document and has it decided, with whatever else is pending in its
// session (see package events); the decision itself is logged there. A payload that can never be processed is logged and answered
// with success, so Eventarc does not retry it forever; a transient failure
// returns the error, and Eventarc redelivers.
func (a *App) onEventCreated(ctx context.Context, e event.Event) error {
	ctx = traced(ctx, e)
	log := a.log.With(logging.KeyFunction, "onEventCreated", "ceId", e.ID())
	data, err := firestoreevent.Decode(e.Data())
	if err != nil {
		log.ErrorContext(ctx, "undecodable Firestore event; dropped", "error", err.Error())
		return nil
	}
	path, ok := payloadPath(ctx, log, data)
	if !ok {
		return nil
	}
	sessionID, eventID, ok := eventPath(path)
	if !ok {
		log.ErrorContext(ctx, "document is not an event; dropped", "path", path)
		return nil
	}
	log = log.With(logging.KeySessionID, sessionID, logging.KeyEventID, eventID)

	// The created document rides in the CloudEvent: carried on the
	// session's lane, it spares the sequencer reading it (see
	// events.Sequencer.SequenceCreated).
	doc := data.GetValue()
	created := model.DecodeEventData(eventID, firestoreevent.Values(doc.GetFields()), firestoreevent.UpdateTime(doc))
	if _, err := a.seq.SequenceCreated(ctx, sessionID, created); err != nil {
		log.ErrorContext(ctx, "sequencing failed; will be retried", "error", err.Error())
		return err
	}
	return nil
}

// documentPath is the path of the document a Firestore CloudEvent is
// about: its value's, or its old value's for a delete (which carries only
// that). An undecodable payload is logged and reported as not ok, for the
// caller to answer with success: no redelivery can make it usable.
func documentPath(ctx context.Context, log *slog.Logger, e event.Event) (string, bool) {
	data, err := firestoreevent.Decode(e.Data())
	if err != nil {
		log.ErrorContext(ctx, "undecodable Firestore event; dropped", "error", err.Error())
		return "", false
	}
	return payloadPath(ctx, log, data)
}

// payloadPath is documentPath for a payload decoded already.
func payloadPath(ctx context.Context, log *slog.Logger, data *firestoredata.DocumentEventData) (string, bool) {
	name := data.GetValue().GetName()
	if name == "" {
		name = data.GetOldValue().GetName()
	}
	path, err := firestoreevent.DocumentPath(name)
	if err != nil {
		log.ErrorContext(ctx, "event without a document; dropped", "error", err.Error())
		return "", false
	}
	return path, true
}

// eventPath splits "experience_sessions/{s}/events/{e}".
func eventPath(path string) (sessionID, eventID string, ok bool) {
	parts := strings.Split(path, "/")
	if len(parts) != 4 || parts[0] != model.SessionsCollection || parts[2] != model.EventsCollection ||
		parts[1] == "" || parts[3] == "" {
		return "", "", false
	}
	return parts[1], parts[3], true
}
