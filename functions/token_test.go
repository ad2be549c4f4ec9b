package functions_test

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// forgeToken builds an unsigned token shaped like the Auth emulator's for
// another project: the emulator-mode verifier still checks aud and iss.
func forgeToken(project, uid string) string {
	return forgeTokenAt(project, uid, time.Now())
}

// forgeTokenAt is forgeToken issued at a given time (an hour's validity).
func forgeTokenAt(project, uid string, issued time.Time) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := issued.Unix()
	return enc(map[string]any{"alg": "none", "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": "https://securetoken.google.com/" + project, "aud": project,
		"sub": uid, "user_id": uid, "iat": now, "exp": now + 3600, "auth_time": now,
	}) + "."
}
