package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCloudLoggingShape(t *testing.T) {
	tests := []struct {
		log      func(*slog.Logger)
		severity string
	}{
		{func(l *slog.Logger) { l.Debug("m") }, "DEBUG"},
		{func(l *slog.Logger) { l.Info("m") }, "INFO"},
		{func(l *slog.Logger) { l.Warn("m") }, "WARNING"},
		{func(l *slog.Logger) { l.Error("m") }, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.severity, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(New(&buf, slog.LevelDebug, "p").With(KeySessionID, "s1"))
			var got map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
			require.Equal(t, tt.severity, got["severity"])
			require.Equal(t, "m", got["message"])
			require.Equal(t, "s1", got[KeySessionID])
			require.NotContains(t, got, "level")
			require.NotContains(t, got, "msg")
		})
	}
}

func TestTraceParsing(t *testing.T) {
	id := "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name   string
		header string
		value  string
		want   Trace
	}{
		{"traceparent", "traceparent", "00-" + id + "-00f067aa0ba902b7-01", Trace{id, "00f067aa0ba902b7", true}},
		{"traceparent not sampled", "traceparent", "00-" + id + "-00f067aa0ba902b7-00", Trace{id, "00f067aa0ba902b7", false}},
		{"traceparent all zero", "traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", Trace{}},
		{"traceparent junk", "traceparent", "00-xyz-1-01", Trace{}},
		{"cloud trace context", "X-Cloud-Trace-Context", id + "/123;o=1", Trace{id, "123", true}},
		{"cloud trace context, trace only", "X-Cloud-Trace-Context", id, Trace{TraceID: id}},
		{"cloud trace context junk", "X-Cloud-Trace-Context", "nope/1;o=1", Trace{}},
		{"none", "", "", Trace{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			if tt.header != "" {
				r.Header.Set(tt.header, tt.value)
			}
			require.Equal(t, tt.want, TraceOfRequest(r))
		})
	}
}

func TestTraceInLogLines(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo, "proj").With(KeySessionID, "s1")
	ctx := ContextWithTrace(context.Background(), Trace{TraceID: "abc", SpanID: "7", Sampled: true})
	log.InfoContext(ctx, "with")
	log.InfoContext(context.Background(), "without")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	require.Len(t, lines, 2)
	var with, without map[string]any
	require.NoError(t, json.Unmarshal(lines[0], &with))
	require.NoError(t, json.Unmarshal(lines[1], &without))
	require.Equal(t, "projects/proj/traces/abc", with["logging.googleapis.com/trace"])
	require.Equal(t, "7", with["logging.googleapis.com/spanId"])
	require.Equal(t, true, with["logging.googleapis.com/trace_sampled"])
	require.Equal(t, "s1", with[KeySessionID], "attributes of With survive the trace handler")
	require.NotContains(t, without, "logging.googleapis.com/trace")
}
