package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
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
			tt.log(New(&buf, slog.LevelDebug).With(KeySessionID, "s1"))
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
