package inspector

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRequestGuards: the controls cannot be reached from another site
// (a DNS-rebound host name, a cross-site form) before any handler runs.
func TestRequestGuards(t *testing.T) {
	s := New(nil, nil, nil)
	tests := []struct {
		name, method, host, contentType, path string
		want                                  int
	}{
		{"a rebound host name", http.MethodGet, "evil.example:4000", "", "/api/overview", http.StatusMisdirectedRequest},
		{"another address", http.MethodPost, "192.0.2.1:4000", "application/json", "/api/faults", http.StatusMisdirectedRequest},
		{"a form post", http.MethodPost, "127.0.0.1:4000", "application/x-www-form-urlencoded", "/api/faults", http.StatusUnsupportedMediaType},
		{"text/plain", http.MethodPost, "localhost:4000", "text/plain", "/api/fanout", http.StatusUnsupportedMediaType},
		{"the page itself", http.MethodGet, "127.0.0.1:4000", "", "/", http.StatusOK},
		{"the script", http.MethodGet, "[::1]:4000", "", "/app.js", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://"+tt.host+tt.path, strings.NewReader("{}"))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			require.Equal(t, tt.want, w.Code, w.Body.String())
		})
	}
}

func TestFaultsJSON(t *testing.T) {
	ok := FaultsJSON{Concurrency: 4, Copies: 1, DuplicateRate: 0.5, MinLatencyMs: 100, MaxLatencyMs: 1500, MaxAttempts: 3, MinBackoffMs: 10, MaxBackoffMs: 20}
	f, err := ok.faults(7)
	require.NoError(t, err)
	require.Equal(t, 1500*time.Millisecond, f.MaxLatency)
	require.Equal(t, int64(7), f.Seed)
	require.Equal(t, ok, toJSON(f))
	for name, bad := range map[string]func(*FaultsJSON){
		"no concurrency":     func(j *FaultsJSON) { j.Concurrency = 0 },
		"too much":           func(j *FaultsJSON) { j.Concurrency = 129 },
		"rate above 1":       func(j *FaultsJSON) { j.DuplicateRate = 1.5 },
		"negative drop rate": func(j *FaultsJSON) { j.DropRate = -0.1 },
		"latency inverted":   func(j *FaultsJSON) { j.MinLatencyMs = 2000 },
		"no attempt":         func(j *FaultsJSON) { j.MaxAttempts = 0 },
	} {
		j := ok
		bad(&j)
		_, err := j.faults(1)
		require.Error(t, err, name)
	}
}
