// Package docid checks strings that become Firestore document ids: user
// ids from ID tokens, and the call, session and user ids of requests. A
// string that breaks Firestore's rules either fails deep in a transaction
// (an INTERNAL error for what is the caller's mistake) or, with a "/",
// silently names another document: "x/presence/y" as a uid would write
// user_limits/x/presence/y. Every such id goes through [Check] first.
package docid

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxBytes is Firestore's limit on a document id.
const MaxBytes = 1500

// ErrInvalid is the cause of every refusal.
var ErrInvalid = errors.New("not a valid document id")

// Problem says what is wrong with id as a Firestore document id
// (https://firebase.google.com/docs/firestore/quotas#collections_documents_and_fields),
// or "" when it is fine.
func Problem(id string) string {
	switch {
	case id == "":
		return "must not be empty"
	case len(id) > MaxBytes:
		return fmt.Sprintf("must be at most %d bytes", MaxBytes)
	case !utf8.ValidString(id):
		return "must be valid UTF-8"
	case strings.Contains(id, "/"):
		return `must not contain "/"`
	case id == "." || id == "..":
		return `must not be "." or ".."`
	case len(id) >= 4 && strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__"):
		return "must not start and end with __ (reserved by Firestore)"
	}
	return ""
}

// Check returns an error wrapping ErrInvalid when id cannot be a document
// id.
func Check(id string) error {
	if p := Problem(id); p != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, p)
	}
	return nil
}
