// Package logging builds slog loggers whose JSON lines Cloud Logging reads as
// structured entries: "severity" instead of "level", "message" instead of
// "msg", and the attribute names the rest of the backend uses
// (sessionId, eventId, sequenceNumber...).
package logging

import (
	"io"
	"log/slog"
)

// Attribute keys shared by every package, so a query in Cloud Logging finds
// one session's story across functions.
const (
	KeySessionID      = "sessionId"
	KeyEventID        = "eventId"
	KeySequenceNumber = "sequenceNumber"
	KeyOutcome        = "outcome"
	KeyReason         = "reason"
	KeyFunction       = "function"
	// KeyFromCopy says an event was decided from its trigger's copy of
	// the document, not from a read of it.
	KeyFromCopy = "fromCopy"
)

// New returns a logger writing one JSON object per line to w. Lines logged
// with a context that carries a trace (see TraceFrom) name it as
// projects/{projectID}/traces/{id}, which Cloud Logging groups by request.
func New(w io.Writer, level slog.Leveler, projectID string) *slog.Logger {
	return slog.New(traceHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: cloudLoggingAttr,
	}), projectID})
}

// cloudLoggingAttr renames slog's built-in keys to the LogEntry fields that
// Cloud Logging's agent lifts out of a JSON payload.
func cloudLoggingAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		return slog.String("severity", severity(a.Value.Any().(slog.Level)))
	case slog.MessageKey:
		a.Key = "message"
	}
	return a
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}
