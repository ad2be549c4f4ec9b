package rulestest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/emulator"
	"github.com/pajama-app/sharedexperiences/emulator/emulatortest"
)

var stack *emulator.Stack

func TestMain(m *testing.M) { os.Exit(emulatortest.MainStack(m, &stack)) }

// role is who a case acts as.
type role int

const (
	anon        role = iota // no Authorization header
	stranger                // signed in, in neither the call nor the session
	member                  // in the session's call, not in the session
	participant             // in the call and in participants
	owner                   // the session's ownerId, and a participant
	former                  // was a participant, left the session (still in the call)
	other                   // participant of another session, in another call
	admin                   // the emulator's "Bearer owner": rules do not apply
)

var roleNames = [...]string{"unauthenticated", "stranger", "call_member", "participant", "owner", "former_participant", "other_session", "admin"}

func (r role) String() string { return roleNames[r] }

var everyone = []role{anon, stranger, member, participant, owner, former, other, admin}

type op string

const (
	opGet    op = "get"
	opList   op = "list"
	opCreate op = "create"
	opUpdate op = "update"
	opDelete op = "delete"
)

// verdict is what the rules answer.
type verdict bool

const (
	allowed verdict = true
	denied  verdict = false
)

func (v verdict) String() string {
	if v {
		return "allowed"
	}
	return "denied"
}

// doc is a document's fields as a case writes them. Strings may hold
// placeholders ({me}, {id}, {s}, {c}, {owner}...; see world.replacer), and
// the value requestTime is the SDKs' serverTimestamp() (a REQUEST_TIME
// transform), so rules see it as request.time.
type doc map[string]any

type serverTimestamp struct{}

var requestTime = serverTimestamp{}

// with returns a copy of d with k set to v.
func (d doc) with(k string, v any) doc {
	out := make(doc, len(d)+1)
	for key, val := range d {
		out[key] = val
	}
	out[k] = v
	return out
}

// without returns a copy of d without k.
func (d doc) without(k string) doc {
	out := d.with(k, nil)
	delete(out, k)
	return out
}

// validEvent is a StateSyncEvent exactly as an app writes it.
func validEvent() doc {
	return doc{
		"id": "{id}", "type": "page_changed", "senderId": "{me}",
		"data": map[string]any{"pageIndex": "1"}, "clientSequenceNumber": int64(1),
		"createdAt": requestTime,
	}
}

func dataOf(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m["k"+strconv.Itoa(i)] = "v"
	}
	return m
}

// where is a list query's single filter (a structured query field filter).
type where struct {
	field, op string // op as in the REST API: EQUAL, ARRAY_CONTAINS, GREATER_THAN...
	value     any
}

// rulesCase is one line of the matrix.
type rulesCase struct {
	name string
	as   role
	op   op
	// path is a document path, or for list a collection path; "**/name"
	// is a collection-group query.
	path     string
	body     doc    // create, update
	filter   *where // list
	inactive bool   // the session has ended
	want     verdict
}

// grant says who may do op on path, per SPEC "Security"; every other role
// is denied. Expanded over every role, it is the role x path x operation
// matrix.
type grant struct {
	op     op
	path   string
	body   doc
	filter *where
	who    []role
}

var (
	adminOnly = []role{admin}
	// Participants read what they take part in.
	participants = []role{participant, owner, admin}
	// The session document is also readable by members of its call
	// (discovery); a former participant still in the call is one.
	sessionReaders = []role{participant, owner, member, former, admin}
)

func matrix() []rulesCase {
	grants := []grant{
		// calls/{c}: the call service's, no client access.
		{opGet, "calls/{c}", nil, nil, adminOnly},
		{opList, "calls", nil, &where{"members", "ARRAY_CONTAINS", "{me}"}, adminOnly},
		{opCreate, "calls/{new}", doc{"members": []any{"{me}"}}, nil, adminOnly},
		{opUpdate, "calls/{c}", doc{"members": []any{"{me}"}}, nil, adminOnly},
		{opDelete, "calls/{c}", nil, nil, adminOnly},

		// experience_sessions/{s}: read by participants and call members
		// (the list as discovery does it, by callId), written by the server.
		{opGet, "experience_sessions/{s}", nil, nil, sessionReaders},
		{opList, "experience_sessions", nil, &where{"callId", "EQUAL", "{c}"}, sessionReaders},
		{opCreate, "experience_sessions/{new}", doc{
			"id": "{id}", "callId": "{c}", "experienceId": "co_reading", "ownerId": "{me}",
			"status": "active", "participants": []any{"{me}"},
		}, nil, adminOnly},
		// Adding oneself to participants is the obvious attack.
		{opUpdate, "experience_sessions/{s}", doc{"participants": []any{"{owner}", "{participant}", "{me}"}}, nil, adminOnly},
		{opDelete, "experience_sessions/{s}", nil, nil, adminOnly},

		// events: read by participants, created by participants of an
		// active session, never changed by a client.
		{opGet, "experience_sessions/{s}/events/{e}", nil, nil, participants},
		{opList, "experience_sessions/{s}/events", nil, nil, participants},
		{opCreate, "experience_sessions/{s}/events/{new}", validEvent(), nil, participants},
		{opUpdate, "experience_sessions/{s}/events/{e}", doc{"status": "accepted", "sequenceNumber": int64(7)}, nil, adminOnly},
		{opDelete, "experience_sessions/{s}/events/{e}", nil, nil, adminOnly},

		// state_snapshots: read by participants, written by compaction.
		{opGet, "experience_sessions/{s}/state_snapshots/latest", nil, nil, participants},
		{opList, "experience_sessions/{s}/state_snapshots", nil, nil, participants},
		{opCreate, "experience_sessions/{s}/state_snapshots/{new}", doc{"lastEventSequenceNumber": int64(0)}, nil, adminOnly},
		{opUpdate, "experience_sessions/{s}/state_snapshots/latest", doc{"lastEventSequenceNumber": int64(99)}, nil, adminOnly},
		{opDelete, "experience_sessions/{s}/state_snapshots/latest", nil, nil, adminOnly},

		// presence/{me}: read by participants; each participant writes its
		// own heartbeat; nobody deletes.
		{opGet, "experience_sessions/{s}/presence/{me}", nil, nil, participants},
		{opList, "experience_sessions/{s}/presence", nil, nil, participants},
		{opCreate, "experience_sessions/{s}/presence/{me}", doc{"lastSeenAt": requestTime}, nil, participants},
		{opUpdate, "experience_sessions/{s}/presence/{me}", doc{"lastSeenAt": requestTime}, nil, participants},
		{opDelete, "experience_sessions/{s}/presence/{me}", nil, nil, adminOnly},
	}
	var out []rulesCase
	for _, g := range grants {
		for _, r := range everyone {
			want := denied
			for _, w := range g.who {
				if w == r {
					want = allowed
				}
			}
			out = append(out, rulesCase{
				name: fmt.Sprintf("%s %s as %s", g.op, g.path, r),
				as:   r, op: g.op, path: g.path, body: g.body, filter: g.filter, want: want,
			})
		}
	}
	return out
}

// fieldCases are what a participant (who may write) must still not write,
// and the edges of what they may.
func fieldCases() []rulesCase {
	const newEvent = "experience_sessions/{s}/events/{new}"
	const myPresence = "experience_sessions/{s}/presence/{me}"
	ev := validEvent()
	c := func(name string, body doc, want verdict) rulesCase {
		return rulesCase{name: "event: " + name, as: participant, op: opCreate, path: newEvent, body: body, want: want}
	}
	return []rulesCase{
		c("valid", ev, allowed),
		c("forged senderId", ev.with("senderId", "{owner}"), denied),
		c("senderId system", ev.with("senderId", "system"), denied),
		c("server field status", ev.with("status", "accepted"), denied),
		c("server field sequenceNumber", ev.with("sequenceNumber", int64(1)), denied),
		c("server field origin", ev.with("origin", "server"), denied),
		c("server field rejectReason", ev.with("rejectReason", "x"), denied),
		c("server field sequencedAt", ev.with("sequencedAt", requestTime), denied),
		c("extra field", ev.with("foo", "bar"), denied),
		c("missing id", ev.without("id"), denied),
		c("missing type", ev.without("type"), denied),
		c("missing senderId", ev.without("senderId"), denied),
		c("missing data", ev.without("data"), denied),
		c("missing clientSequenceNumber", ev.without("clientSequenceNumber"), denied),
		c("missing createdAt", ev.without("createdAt"), denied),
		c("id is not the doc id", ev.with("id", "another-id"), denied),
		c("type not a string", ev.with("type", int64(3)), denied),
		c("type empty", ev.with("type", ""), denied),
		c("type 64 chars", ev.with("type", strings.Repeat("t", 64)), allowed),
		c("type 65 chars", ev.with("type", strings.Repeat("t", 65)), denied),
		c("data a string", ev.with("data", "pageIndex=1"), denied),
		c("data a list", ev.with("data", []any{"1"}), denied),
		c("data empty map", ev.with("data", map[string]any{}), allowed),
		c("data 32 entries", ev.with("data", dataOf(32)), allowed),
		c("data 33 entries", ev.with("data", dataOf(33)), denied),
		// Rules cannot check every value of a map; the trigger rejects
		// this one as malformed_event (see firestore.rules).
		c("data value not a string (left to the trigger)", ev.with("data", map[string]any{"pageIndex": int64(1)}), allowed),
		c("clientSequenceNumber a string", ev.with("clientSequenceNumber", "1"), denied),
		c("clientSequenceNumber a double", ev.with("clientSequenceNumber", 1.5), denied),
		c("clientSequenceNumber negative", ev.with("clientSequenceNumber", int64(-1)), allowed),
		c("createdAt the client's clock", ev.with("createdAt", time.Now()), denied),
		c("createdAt in the past", ev.with("createdAt", time.Now().Add(-time.Hour)), denied),
		c("createdAt a string", ev.with("createdAt", "now"), denied),
		{name: "event: inactive session, participant", as: participant, op: opCreate, path: newEvent, body: ev, inactive: true, want: denied},
		{name: "event: inactive session, owner", as: owner, op: opCreate, path: newEvent, body: ev, inactive: true, want: denied},
		{name: "event: unknown session", as: participant, op: opCreate, path: "experience_sessions/missing-{new}/events/{new}", body: ev, want: denied},
		{name: "event: other session's participant, in their own session", as: other, op: opCreate, path: "experience_sessions/{s2}/events/{new}", body: ev, want: allowed},
		{name: "event: overwrite an existing event", as: participant, op: opUpdate, path: "experience_sessions/{s}/events/{e}", body: doc{"data": map[string]any{"pageIndex": "9"}}, want: denied},
		{name: "event: inactive session, participant reads", as: participant, op: opGet, path: "experience_sessions/{s}/events/{e}", inactive: true, want: allowed},
		{name: "events: live listener query", as: participant, op: opList, path: "experience_sessions/{s}/events", filter: &where{"sequenceNumber", "GREATER_THAN", int64(0)}, want: allowed},
		{name: "events: collection group", as: participant, op: opList, path: "**/events", want: denied},

		{name: "presence: for another uid (create)", as: participant, op: opCreate, path: "experience_sessions/{s}/presence/{owner}", body: doc{"lastSeenAt": requestTime}, want: denied},
		{name: "presence: for another uid (update)", as: participant, op: opUpdate, path: "experience_sessions/{s}/presence/{owner}", body: doc{"lastSeenAt": requestTime}, want: denied},
		{name: "presence: extra key", as: participant, op: opCreate, path: myPresence, body: doc{"lastSeenAt": requestTime, "status": "here"}, want: denied},
		{name: "presence: extra key on update", as: participant, op: opUpdate, path: myPresence, body: doc{"lastSeenAt": requestTime, "away": true}, want: denied},
		{name: "presence: empty", as: participant, op: opCreate, path: myPresence, body: doc{}, want: denied},
		{name: "presence: the client's clock", as: participant, op: opCreate, path: myPresence, body: doc{"lastSeenAt": time.Now()}, want: denied},
		{name: "presence: in the future", as: participant, op: opUpdate, path: myPresence, body: doc{"lastSeenAt": time.Now().Add(time.Hour)}, want: denied},
		{name: "presence: inactive session (create)", as: participant, op: opCreate, path: myPresence, body: doc{"lastSeenAt": requestTime}, inactive: true, want: denied},
		{name: "presence: inactive session (update)", as: participant, op: opUpdate, path: myPresence, body: doc{"lastSeenAt": requestTime}, inactive: true, want: denied},
		{name: "presence: in another's session", as: other, op: opCreate, path: myPresence, body: doc{"lastSeenAt": requestTime}, want: denied},

		{name: "sessions: participant's own list", as: participant, op: opList, path: "experience_sessions", filter: &where{"participants", "ARRAY_CONTAINS", "{me}"}, want: allowed},
		{name: "sessions: stranger's own list (provably theirs, empty)", as: stranger, op: opList, path: "experience_sessions", filter: &where{"participants", "ARRAY_CONTAINS", "{me}"}, want: allowed},
		{name: "sessions: someone else's list", as: stranger, op: opList, path: "experience_sessions", filter: &where{"participants", "ARRAY_CONTAINS", "{participant}"}, want: denied},
		{name: "sessions: member lists everything", as: member, op: opList, path: "experience_sessions", want: denied},
		{name: "sessions: member lists by status only", as: member, op: opList, path: "experience_sessions", filter: &where{"status", "EQUAL", "active"}, want: denied},
		{name: "sessions: other session's member lists its own call", as: other, op: opList, path: "experience_sessions", filter: &where{"callId", "EQUAL", "{c2}"}, want: allowed},
		{name: "sessions: inactive session, member reads", as: member, op: opGet, path: "experience_sessions/{s}", inactive: true, want: allowed},
		{name: "sessions: owner ends it by hand", as: owner, op: opUpdate, path: "experience_sessions/{s}", body: doc{"status": "inactive"}, want: denied},

		{name: "server-only: fan-out cursor read", as: participant, op: opGet, path: "experience_sessions/{s}/server/cursor", want: denied},
		{name: "server-only: fan-out cursor write", as: owner, op: opCreate, path: "experience_sessions/{s}/server/{new}", body: doc{"published": int64(99)}, want: denied},
		{name: "server-only: fan-out cursor admin", as: admin, op: opGet, path: "experience_sessions/{s}/server/cursor", want: allowed},
		{name: "server-only: call_sessions read", as: member, op: opGet, path: "call_sessions/{c}", want: denied},
		{name: "server-only: call_sessions write", as: member, op: opCreate, path: "call_sessions/{new}", body: doc{"sessionId": "{s}"}, want: denied},
		{name: "server-only: unknown top-level", as: participant, op: opCreate, path: "anything/{new}", body: doc{"x": "y"}, want: denied},
	}
}

// TestRules runs the matrix and the field cases, each on its own freshly
// seeded world, in parallel.
func TestRules(t *testing.T) {
	if stack == nil {
		t.Skip("emulators not running: run `make test`")
	}
	r := newRunner(t)
	cases := append(matrix(), fieldCases()...)
	require.GreaterOrEqual(t, len(cases), 60)
	t.Logf("rules matrix: %d cases (%d role x path x operation, %d field cases)", len(cases), len(matrix()), len(fieldCases()))
	seen := map[string]bool{}
	for _, tc := range cases {
		require.False(t, seen[tc.name], "duplicate case name %q", tc.name)
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			w := r.seed(t, ctx, tc)
			got, err := r.do(ctx, w, tc)
			require.NoError(t, err)
			require.Equal(t, tc.want, got, "%s %s %s as %s", tc.op, tc.path, w.resolve(tc.path), tc.as)
		})
	}
}

// TestRunnerSeesDenials guards the harness itself: a request the emulator
// refuses for another reason than the rules (here a create over an existing
// document, with the admin) must be a test failure, never "denied".
func TestRunnerSeesDenials(t *testing.T) {
	if stack == nil {
		t.Skip("emulators not running: run `make test`")
	}
	r := newRunner(t)
	ctx := context.Background()
	tc := rulesCase{as: admin, op: opCreate, path: "experience_sessions/{s}", body: doc{"x": "y"}}
	w := r.seed(t, ctx, tc)
	_, err := r.do(ctx, w, tc)
	require.Error(t, err)
}

// ---- The runner: acts as a user against the Firestore REST API ----------

type runner struct {
	http   *http.Client
	docs   string // .../databases/(default)/documents
	name   string // projects/p/databases/(default)/documents
	tokens map[role]string
	uids   map[role]string
}

func newRunner(t *testing.T) *runner {
	t.Helper()
	r := &runner{
		http:   &http.Client{Timeout: 30 * time.Second},
		name:   fmt.Sprintf("projects/%s/databases/(default)/documents", stack.ProjectID),
		tokens: map[role]string{admin: "owner"},
		uids:   map[role]string{anon: "nobody", admin: "admin"},
	}
	r.docs = "http://" + stack.FirestoreHost + "/v1/" + r.name
	for _, ro := range everyone {
		if ro == anon || ro == admin {
			continue
		}
		uid, token := signUp(t, r.http, ro.String())
		r.uids[ro], r.tokens[ro] = uid, token
	}
	return r
}

// signUp creates a user with the Auth emulator's REST API, as the client
// SDKs' createUserWithEmailAndPassword does, and returns its uid and ID token.
func signUp(t *testing.T, c *http.Client, name string) (uid, idToken string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"email": emulatortest.ID(name+"-") + "@example.com", "password": "password-123", "returnSecureToken": true,
	})
	resp, err := c.Post("http://"+stack.AuthHost+"/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key",
		"application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	var out struct {
		IDToken string `json:"idToken"`
		LocalID string `json:"localId"`
	}
	require.NoError(t, json.Unmarshal(b, &out))
	require.NotEmpty(t, out.IDToken)
	return out.LocalID, out.IDToken
}

// world is one case's data: a call with its active session (owner and
// participant in it, member and former in the call only), an accepted
// event, the snapshot, and another call and session for other. Unique ids
// keep the cases independent.
type world struct {
	call, otherCall, session, otherSession, event, fresh string
	uids                                                 map[role]string
	me                                                   string
}

func (w *world) resolve(s string) string {
	return strings.NewReplacer(
		"{c}", w.call, "{c2}", w.otherCall, "{s}", w.session, "{s2}", w.otherSession,
		"{e}", w.event, "{new}", w.fresh, "{me}", w.me,
		"{owner}", w.uids[owner], "{participant}", w.uids[participant], "{other}", w.uids[other],
	).Replace(s)
}

// resolveDoc replaces placeholders in every string of d; {id} is the last
// segment of the document's path.
func (w *world) resolveDoc(d doc, path string) doc {
	id := path[strings.LastIndex(path, "/")+1:]
	var res func(v any) any
	res = func(v any) any {
		switch v := v.(type) {
		case string:
			return strings.ReplaceAll(w.resolve(v), "{id}", id)
		case []any:
			out := make([]any, len(v))
			for i, x := range v {
				out[i] = res(x)
			}
			return out
		case map[string]any:
			out := make(map[string]any, len(v))
			for k, x := range v {
				out[k] = res(x)
			}
			return out
		}
		return v
	}
	out := make(doc, len(d))
	for k, v := range d {
		out[k] = res(v)
	}
	return out
}

// seed writes the case's world as the admin, plus the document the case
// reads, updates or deletes when the world does not already hold it.
func (r *runner) seed(t *testing.T, ctx context.Context, tc rulesCase) *world {
	t.Helper()
	w := &world{
		call: emulatortest.ID("call-"), otherCall: emulatortest.ID("call-"),
		session: emulatortest.ID("s-"), otherSession: emulatortest.ID("s-"),
		event: emulatortest.ID("e-"), fresh: emulatortest.ID("new-"),
		uids: r.uids, me: r.uids[tc.as],
	}
	now := time.Now()
	status := "active"
	if tc.inactive {
		status = "inactive"
	}
	u := r.uids
	docs := map[string]doc{
		"calls/" + w.call:      {"members": []any{u[owner], u[participant], u[member], u[former]}},
		"calls/" + w.otherCall: {"members": []any{u[other]}},
		"experience_sessions/" + w.session: {
			"id": w.session, "callId": w.call, "experienceId": "co_reading", "ownerId": u[owner],
			"status": status, "participants": []any{u[owner], u[participant]},
			"lastEventId": w.event, "lastEventSequenceNumber": int64(1),
			"createdAt": now, "updatedAt": now, "lastActivityAt": now,
		},
		"experience_sessions/" + w.otherSession: {
			"id": w.otherSession, "callId": w.otherCall, "experienceId": "co_reading", "ownerId": u[other],
			"status": "active", "participants": []any{u[other]},
			"createdAt": now, "updatedAt": now, "lastActivityAt": now,
		},
		"experience_sessions/" + w.session + "/events/" + w.event: {
			"id": w.event, "type": "page_changed", "senderId": u[participant],
			"data": map[string]any{"pageIndex": "1"}, "clientSequenceNumber": int64(1), "createdAt": now,
			"status": "accepted", "sequenceNumber": int64(1), "sequencedAt": now,
		},
		"experience_sessions/" + w.session + "/state_snapshots/latest": {
			"experienceId": "co_reading", "experienceState": `{"selectedStoryId":""}`,
			"participants": []any{u[owner], u[participant]}, "ownerId": u[owner],
			"lastEventSequenceNumber": int64(1), "schemaVersion": int64(1), "updatedAt": now,
		},
	}
	if target := w.resolve(tc.path); tc.op == opGet || tc.op == opUpdate || tc.op == opDelete {
		if _, ok := docs[target]; !ok {
			seed := doc{"seeded": true}
			if strings.Contains(target, "/presence/") {
				seed = doc{"lastSeenAt": now.Add(-5 * time.Second)}
			}
			docs[target] = seed
		}
	}
	writes := make([]any, 0, len(docs))
	for path, d := range docs {
		writes = append(writes, r.write(path, d, nil))
	}
	code, body, err := r.call(ctx, admin, http.MethodPost, r.docs+":commit", map[string]any{"writes": writes})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "seed: %s", body)
	return w
}

// do runs the case's operation as its role and reports the rules' verdict:
// 200 is allowed, 403 PERMISSION_DENIED is denied, and anything else is an
// error (a broken case must never pass as "denied").
func (r *runner) do(ctx context.Context, w *world, tc rulesCase) (verdict, error) {
	path := w.resolve(tc.path)
	var code int
	var body string
	var err error
	switch tc.op {
	case opGet:
		code, body, err = r.call(ctx, tc.as, http.MethodGet, r.docs+"/"+path, nil)
	case opDelete:
		code, body, err = r.call(ctx, tc.as, http.MethodDelete, r.docs+"/"+path, nil)
	case opCreate, opUpdate:
		exists := tc.op == opUpdate
		write := r.write(path, w.resolveDoc(tc.body, path), &exists)
		code, body, err = r.call(ctx, tc.as, http.MethodPost, r.docs+":commit", map[string]any{"writes": []any{write}})
	case opList:
		code, body, err = r.runQuery(ctx, w, tc)
	default:
		return denied, fmt.Errorf("unknown op %q", tc.op)
	}
	if err != nil {
		return denied, err
	}
	switch {
	case code == http.StatusOK && !strings.Contains(body, `"error"`):
		return allowed, nil
	case code == http.StatusForbidden && strings.Contains(body, "PERMISSION_DENIED"):
		return denied, nil
	}
	return denied, fmt.Errorf("%s %s as %s: HTTP %d: %s", tc.op, path, tc.as, code, body)
}

// runQuery lists a collection (or a collection group, "**/name") with the
// case's filter, as the SDKs' getDocs(query(...)) does.
func (r *runner) runQuery(ctx context.Context, w *world, tc rulesCase) (int, string, error) {
	path := w.resolve(tc.path)
	from := map[string]any{}
	parent := ""
	if group, ok := strings.CutPrefix(path, "**/"); ok {
		from["collectionId"], from["allDescendants"] = group, true
	} else {
		i := strings.LastIndex(path, "/")
		from["collectionId"] = path[i+1:]
		if i > 0 {
			parent = "/" + path[:i]
		}
	}
	q := map[string]any{"from": []any{from}}
	if f := tc.filter; f != nil {
		v := f.value
		if s, ok := v.(string); ok {
			v = w.resolve(s)
		}
		q["where"] = map[string]any{"fieldFilter": map[string]any{
			"field": map[string]any{"fieldPath": f.field}, "op": f.op, "value": emulatortest.RESTValue(v),
		}}
	}
	return r.call(ctx, tc.as, http.MethodPost, r.docs+parent+":runQuery", map[string]any{"structuredQuery": q})
}

// write is a commit Write of d at path: a set without precondition (seed),
// or with exists=false (create) or exists=true and an update mask (update).
// requestTime values become REQUEST_TIME transforms.
func (r *runner) write(path string, d doc, exists *bool) map[string]any {
	fields := map[string]any{}
	mask := []string{}
	var transforms []any
	for k, v := range d {
		if v == requestTime {
			transforms = append(transforms, map[string]any{"fieldPath": k, "setToServerValue": "REQUEST_TIME"})
			continue
		}
		fields[k] = emulatortest.RESTValue(v)
		mask = append(mask, k)
	}
	w := map[string]any{"update": map[string]any{"name": r.name + "/" + path, "fields": fields}}
	if exists != nil {
		w["currentDocument"] = map[string]any{"exists": *exists}
		if *exists {
			w["updateMask"] = map[string]any{"fieldPaths": mask}
		}
	}
	if len(transforms) > 0 {
		w["updateTransforms"] = transforms
	}
	return w
}

// call sends one request as role.
func (r *runner) call(ctx context.Context, as role, method, url string, in any) (int, string, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, "", err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, "", err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := r.tokens[as]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
