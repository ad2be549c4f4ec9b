package callable

import (
	"fmt"

	"firebase.google.com/go/v4/appcheck"
)

// AppCheckVerifier checks a Firebase App Check token; *appcheck.Client
// satisfies it.
type AppCheckVerifier interface {
	VerifyToken(token string) (*appcheck.DecodedAppCheckToken, error)
}

// appCheckHeader is where every client SDK sends the App Check token.
const appCheckHeader = "X-Firebase-AppCheck"

// App Check outcomes, as the Node server names them in its
// "callable-request-verification" log (people build log-based metrics on
// them before turning enforcement on).
const (
	appCheckMissing    = "MISSING"
	appCheckValid      = "VALID"
	appCheckInvalid    = "INVALID"
	appCheckUnverified = "UNVERIFIED" // a token, and no verifier to check it
)

// verifyAppCheck calls v, turning a panic into an error: firebase-admin-go
// (v4.19 to v4.21) asserts the types of a signed token's claims, so a token
// whose signature verifies but whose "aud" is a string, or which lacks
// "iss", "exp" or "iat", would panic inside VerifyToken.
func verifyAppCheck(v AppCheckVerifier, token string) (tok *appcheck.DecodedAppCheckToken, err error) {
	defer func() {
		if p := recover(); p != nil {
			tok, err = nil, fmt.Errorf("malformed App Check token claims: %v", p)
		}
	}()
	return v.VerifyToken(token)
}
