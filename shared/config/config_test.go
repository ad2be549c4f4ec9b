package config

import (
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
