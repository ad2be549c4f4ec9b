package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestFromLookup(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr bool
		check   func(t *testing.T, c Config)
	}{
		{"defaults", map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}, false, func(t *testing.T, c Config) {
			require.Equal(t, Default().StaleSessionAfter, c.StaleSessionAfter)
			require.True(t, c.PublishEvents)
			require.Equal(t, "us-central1", c.Region)
			require.True(t, c.CheckTokenRevocation)
			require.False(t, c.EnforceAppCheck, "App Check is enforced only when asked")
		}},
		{"app check enforced", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "ENFORCE_APP_CHECK": "true"}, false, func(t *testing.T, c Config) {
			require.True(t, c.EnforceAppCheck)
		}},
		{"revocation off", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "CHECK_TOKEN_REVOCATION": "false"}, false, func(t *testing.T, c Config) {
			require.False(t, c.CheckTokenRevocation)
		}},
		{"GCLOUD_PROJECT fallback", map[string]string{"GCLOUD_PROJECT": "q"}, false, func(t *testing.T, c Config) {
			require.Equal(t, "q", c.ProjectID)
		}},
		{"overrides", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "PUBLISH_EVENTS": "false", "STALE_SESSION_AFTER": "1s", "MAX_EVENT_BYTES": "10"}, false, func(t *testing.T, c Config) {
			require.False(t, c.PublishEvents)
			require.Equal(t, time.Second, c.StaleSessionAfter)
			require.Equal(t, 10, c.MaxEventBytes)
		}},
		{"no settle in production", map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}, false, func(t *testing.T, c Config) {
			require.Zero(t, c.EventSettle)
		}},
		{"settle on the emulator", map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-x", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080"}, false, func(t *testing.T, c Config) {
			require.Equal(t, EmulatorEventSettle, c.EventSettle)
			require.Equal(t, EmulatorEventSettle, c.SequencerOptions().Settle)
		}},
		{"settle set on the emulator", map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-x", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080", "EVENT_SETTLE": "0s"}, false, func(t *testing.T, c Config) {
			require.Zero(t, c.EventSettle)
		}},
		{"negative settle", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "EVENT_SETTLE": "-1ms"}, true, nil},
		{"settle too long", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "EVENT_SETTLE": "1h"}, true, nil},
		{"no project", map[string]string{}, true, nil},
		{"bad duration", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "PRESENCE_GRACE": "soon"}, true, nil},
		{"bad bool", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "PUBLISH_EVENTS": "maybe"}, true, nil},
		{"negative timeout", map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "PRESENCE_GRACE": "-1s"}, true, nil},
		{"emulator auth on demo project", map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-x", "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}, false, nil},
		{"emulator auth on real project refused", map[string]string{"GOOGLE_CLOUD_PROJECT": "prod-app", "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromLookup(lookup(tt.env))
			if tt.wantErr {
				require.ErrorIs(t, err, ErrInvalid)
				return
			}
			require.NoError(t, err)
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// TestSettingsTable: every setting parses into its own field, and the
// README's configuration table documents each one with its default.
func TestSettingsTable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	rows := map[string][]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = cells
	}
	seen := map[string]bool{}
	for _, s := range Settings() {
		require.False(t, seen[s.Name], "%s listed twice", s.Name)
		seen[s.Name] = true
		cells, ok := rows[s.Name]
		require.True(t, ok, "README's configuration table lacks %s", s.Name)
		require.True(t, strings.HasPrefix(strings.TrimSpace(cells[3]), "`"+s.Default()+"`"),
			"README gives %s the default %q; the code has %q", s.Name, strings.TrimSpace(cells[3]), s.Default())

		// Setting the variable changes its field and nothing else.
		c := Default()
		var value string
		switch s.field(&c).(type) {
		case *string:
			value = "elsewhere-1"
		case *bool:
			value = strconv.FormatBool(!*s.field(&c).(*bool))
		case *int:
			value = "7"
		case *float64:
			value = "3.5"
		case *time.Duration:
			value = "7s"
		}
		got, err := FromLookup(lookup(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", s.Name: value}))
		require.NoError(t, err, s.Name)
		want := Default()
		want.ProjectID = "p"
		switch f := s.field(&want).(type) {
		case *string:
			*f = value
		case *bool:
			*f = !*f
		case *int:
			*f = 7
		case *float64:
			*f = 3.5
		case *time.Duration:
			*f = 7 * time.Second
		}
		require.Equal(t, want, got, s.Name)
	}
	require.Equal(t, len(Settings()), len(Variables()))
}
