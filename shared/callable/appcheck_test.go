package callable

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/appcheck"
	"github.com/stretchr/testify/require"
)

// The App Check fixture: a JWKS served over HTTP and tokens signed with its
// key, carrying the claims the App Check service issues (RS256, typ JWT, a
// kid; iss https://firebaseappcheck.googleapis.com/<project number>, aud
// ["projects/<number>", "projects/<id>"], sub the app id, iat, exp), so the
// real firebase-admin-go verifier runs offline. appcheck.JWKSUrl is a
// package variable of the SDK; it is set here, in this test binary only,
// before any client exists (the client fetches the keys once, at creation).
const (
	testProjectID     = "demo-callable"
	testProjectNumber = "123456789"
	testAppID         = "1:123456789:web:abc"
	testKeyID         = "test-key"
)

var (
	appCheckKey      *rsa.PrivateKey
	appCheckVerifier *appcheck.Client
)

func TestMain(m *testing.M) {
	os.Exit(runWithAppCheck(m))
}

func runWithAppCheck(m *testing.M) int {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	appCheckKey = key
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": testKeyID,
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	defer jwks.Close()
	appcheck.JWKSUrl = jwks.URL
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the key refresher
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: testProjectID})
	if err != nil {
		panic(err)
	}
	if appCheckVerifier, err = app.AppCheck(ctx); err != nil {
		panic(err)
	}
	return m.Run()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// appToken signs claims as the App Check service would; edit changes the
// valid claims (a wrong audience, an expired token...).
func appToken(edit func(header, claims map[string]any)) string {
	now := time.Now()
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": testKeyID}
	claims := map[string]any{
		"iss": "https://firebaseappcheck.googleapis.com/" + testProjectNumber,
		"aud": []string{"projects/" + testProjectNumber, "projects/" + testProjectID},
		"sub": testAppID,
		"iat": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	if edit != nil {
		edit(header, claims)
	}
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	signed := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, appCheckKey, crypto.SHA256, sum[:])
	if err != nil {
		panic(fmt.Sprintf("sign: %v", err))
	}
	return signed + "." + b64(sig)
}

// unsignedAppToken is the Node spec's generateUnsignedAppCheckToken: the
// right claims, "Invalid signature" for a signature.
func unsignedAppToken() string {
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT"})
	c, _ := json.Marshal(map[string]any{"aud": []string{"projects/" + testProjectID}, "sub": testAppID})
	return base64.StdEncoding.EncodeToString(h) + "." + base64.StdEncoding.EncodeToString(c) + "." +
		base64.StdEncoding.EncodeToString([]byte(`"Invalid signature"`))
}

var (
	validAppToken   = func() string { return appToken(nil) }
	expiredAppToken = func() string {
		return appToken(func(_, c map[string]any) {
			c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			c["exp"] = time.Now().Add(-time.Hour).Unix()
		})
	}
	wrongAudienceAppToken = func() string {
		return appToken(func(_, c map[string]any) {
			c["aud"] = []string{"projects/987654321", "projects/another-project"}
		})
	}
	// A string audience is valid JWT; firebase-admin-go asserts an array
	// and panics on it (appcheck.go, VerifyToken), after the signature
	// checked out.
	stringAudienceAppToken = func() string {
		return appToken(func(_, c map[string]any) { c["aud"] = "projects/" + testProjectID })
	}
	noExpiryAppToken = func() string {
		return appToken(func(_, c map[string]any) { delete(c, "exp") })
	}
)

// TestAppCheckVerifierDirect pins what the fixture relies on: the SDK's
// verifier accepts the valid token and refuses the others, so the handler
// tests below exercise the real verification.
func TestAppCheckVerifierDirect(t *testing.T) {
	tok, err := appCheckVerifier.VerifyToken(validAppToken())
	if err != nil || tok.AppID != testAppID {
		t.Fatalf("valid token: %v, %+v", err, tok)
	}
	for name, bad := range map[string]string{
		"expired": expiredAppToken(), "wrong audience": wrongAudienceAppToken(),
		"unsigned": unsignedAppToken(), "not a JWT": "FAKE",
	} {
		if _, err := verifyAppCheck(appCheckVerifier, bad); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	// The SDK defect verifyAppCheck guards against; when this fails, the
	// SDK has fixed it and the recover can go.
	for name, tok := range map[string]string{"string audience": stringAudienceAppToken(), "no exp": noExpiryAppToken()} {
		require.Panics(t, func() { _, _ = appCheckVerifier.VerifyToken(tok) }, name)
		_, err := verifyAppCheck(appCheckVerifier, tok)
		require.Error(t, err, name)
	}
}
