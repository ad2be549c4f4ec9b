// Package seed prepares the local stack for manual testing: a call with
// members, as the app's call service writes it (admin only; the rules let
// no client write calls), and Auth emulator users to be those members, with
// what a client needs to sign in as each. Every session call and event
// write is refused (PERMISSION_DENIED) until the caller is a member of the
// session's call, so this comes first in a manual test.
package seed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"firebase.google.com/go/v4/auth"
)

// Password is every seeded user's password (the Auth emulator's minimum
// is 6 characters).
const Password = "password-123"

// ErrBadInput reports a call or user id the backend would not accept.
var ErrBadInput = errors.New("seed: bad input")

// Firestore document ids: no slash, not "." or "..", at most 1500 bytes;
// Auth uids: at most 128 characters. A narrower, typeable set keeps the
// printed emails and paths valid.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// Request is one seeding.
type Request struct {
	// CallID is the calls/{callId} document to write.
	CallID string
	// UIDs become the call's members and Auth users (uid = name, email
	// {uid}@example.com, password Password).
	UIDs []string
	// Status is the call's status: "active" (default) or "ended".
	Status string
}

// User is one seeded user and how a client signs in as them.
type User struct {
	UID      string `json:"uid"`
	Email    string `json:"email"`
	Password string `json:"password"`
	// CustomToken signs in with signInWithCustomToken (Auth.auth().signIn(withCustomToken:)).
	CustomToken string `json:"customToken"`
	// IDToken is what an SDK would send after signing in, for curl
	// (Authorization: Bearer); it expires after an hour.
	IDToken string `json:"idToken"`
}

// Result is what was seeded.
type Result struct {
	ProjectID string   `json:"projectId"`
	CallPath  string   `json:"callPath"`
	Members   []string `json:"members"`
	Status    string   `json:"status"`
	Users     []User   `json:"users"`
}

// Seeder writes to the emulators with admin clients.
type Seeder struct {
	ProjectID string
	Firestore *firestore.Client
	Auth      *auth.Client
	// AuthHost (host:port) is the Auth emulator, for the ID tokens: the
	// admin SDK mints custom tokens but does not sign in.
	AuthHost string
	HTTP     *http.Client
}

// ParseUIDs splits "alice,bob" into uids, refusing empty or duplicate ones.
func ParseUIDs(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, u := range strings.Split(s, ",") {
		u = strings.TrimSpace(u)
		if !idPattern.MatchString(u) {
			return nil, fmt.Errorf("%w: user %q: want letters, digits, _ or -", ErrBadInput, u)
		}
		if seen[u] {
			return nil, fmt.Errorf("%w: user %q given twice", ErrBadInput, u)
		}
		seen[u] = true
		out = append(out, u)
	}
	return out, nil
}

// Seed creates or updates the users, then writes the call with them as its
// members, replacing the call's previous members: seeding again with fewer
// users removes the others from the call (and, through onCallWritten, from
// its sessions), as the call service would. It can be run again at will.
func (s *Seeder) Seed(ctx context.Context, r Request) (Result, error) {
	if r.Status == "" {
		r.Status = "active"
	}
	if r.Status != "active" && r.Status != "ended" {
		return Result{}, fmt.Errorf("%w: status %q: want active or ended", ErrBadInput, r.Status)
	}
	if !idPattern.MatchString(r.CallID) {
		return Result{}, fmt.Errorf("%w: call %q: want letters, digits, _ or -", ErrBadInput, r.CallID)
	}
	if len(r.UIDs) == 0 {
		return Result{}, fmt.Errorf("%w: no users", ErrBadInput)
	}
	res := Result{ProjectID: s.ProjectID, CallPath: "calls/" + r.CallID, Members: r.UIDs, Status: r.Status}
	for _, uid := range r.UIDs {
		u, err := s.user(ctx, uid)
		if err != nil {
			return Result{}, err
		}
		res.Users = append(res.Users, u)
	}
	// Users first: a member without an account could not sign in, and the
	// call's trigger may act on its members at once.
	if _, err := s.Firestore.Doc(res.CallPath).Set(ctx, map[string]any{
		"members": r.UIDs,
		"status":  r.Status,
	}); err != nil {
		return Result{}, fmt.Errorf("seed: write %s: %w", res.CallPath, err)
	}
	return res, nil
}

// user creates uid, or resets its email and password, and signs it in.
func (s *Seeder) user(ctx context.Context, uid string) (User, error) {
	u := User{UID: uid, Email: strings.ToLower(uid) + "@example.com", Password: Password}
	_, err := s.Auth.GetUser(ctx, uid)
	switch {
	case auth.IsUserNotFound(err):
		_, err = s.Auth.CreateUser(ctx, (&auth.UserToCreate{}).UID(uid).Email(u.Email).Password(u.Password).DisplayName(uid))
	case err == nil:
		_, err = s.Auth.UpdateUser(ctx, uid, (&auth.UserToUpdate{}).Email(u.Email).Password(u.Password).DisplayName(uid))
	}
	if err != nil {
		return User{}, fmt.Errorf("seed: user %s: %w", uid, err)
	}
	if u.CustomToken, err = s.Auth.CustomToken(ctx, uid); err != nil {
		return User{}, fmt.Errorf("seed: custom token for %s: %w", uid, err)
	}
	if u.IDToken, err = s.signIn(ctx, u); err != nil {
		return User{}, err
	}
	return u, nil
}

// signIn signs u in with email and password on the Auth emulator's REST API,
// as the client SDKs do.
func (s *Seeder) signIn(ctx context.Context, u User) (string, error) {
	body, _ := json.Marshal(map[string]any{"email": u.Email, "password": u.Password, "returnSecureToken": true})
	url := "http://" + s.AuthHost + "/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=fake-api-key"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	client := s.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("seed: sign in %s: %w", u.UID, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("seed: sign in %s: %w", u.UID, err)
	}
	var out struct {
		IDToken string `json:"idToken"`
		LocalID string `json:"localId"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.LocalID != u.UID {
		return "", fmt.Errorf("seed: sign in %s: %s: %.300s", u.UID, resp.Status, b)
	}
	return out.IDToken, nil
}
