package inspector

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pajama-app/sharedexperiences/shared/model"
)

// Reading Firestore, with shared/model's names (the SPEC's layout).
// Documents are decoded leniently, field by field, so that a malformed one
// (a rejected event's data may be anything a client wrote) shows as it is
// instead of hiding its session.

// SessionSummary is a session in the list.
type SessionSummary struct {
	ID                      string    `json:"id"`
	CallID                  string    `json:"callId"`
	ExperienceID            string    `json:"experienceId"`
	Status                  string    `json:"status"`
	OwnerID                 string    `json:"ownerId"`
	Participants            []string  `json:"participants"`
	LastEventSequenceNumber int64     `json:"lastEventSequenceNumber"`
	CreatedAt               time.Time `json:"createdAt"`
	LastActivityAt          time.Time `json:"lastActivityAt"`
	EndReason               string    `json:"endReason,omitempty"`
}

// Call is a call with its sessions, newest first.
type Call struct {
	ID       string           `json:"id"`
	Members  []string         `json:"members"`
	Status   string           `json:"status,omitempty"`
	Missing  bool             `json:"missing,omitempty"` // sessions name it, the document is gone
	Sessions []SessionSummary `json:"sessions"`
}

// maxSessions bounds the sessions listed: the newest are what a developer
// looks at.
const maxSessions = 200

// readCalls lists the calls and their sessions.
func readCalls(ctx context.Context, fs *firestore.Client) ([]Call, error) {
	callDocs, err := fs.Collection(model.CallsCollection).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("read calls: %w", err)
	}
	sessDocs, err := fs.Collection(model.SessionsCollection).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	byID := map[string]*Call{}
	var order []string
	for _, d := range callDocs {
		m := d.Data()
		byID[d.Ref.ID] = &Call{ID: d.Ref.ID, Members: stringList(m["members"]), Status: str(m[model.FieldStatus]), Sessions: []SessionSummary{}}
		order = append(order, d.Ref.ID)
	}
	summaries := make([]SessionSummary, 0, len(sessDocs))
	for _, d := range sessDocs {
		summaries = append(summaries, decodeSession(d))
	}
	slices.SortFunc(summaries, func(a, b SessionSummary) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if len(summaries) > maxSessions {
		summaries = summaries[:maxSessions]
	}
	for _, s := range summaries {
		c, ok := byID[s.CallID]
		if !ok {
			c = &Call{ID: s.CallID, Members: []string{}, Missing: true, Sessions: []SessionSummary{}}
			byID[s.CallID] = c
			order = append(order, s.CallID)
		}
		c.Sessions = append(c.Sessions, s)
	}
	calls := make([]Call, 0, len(order))
	for _, id := range order {
		calls = append(calls, *byID[id])
	}
	// The calls with the newest session first, then the others by id.
	newest := func(c Call) time.Time {
		if len(c.Sessions) == 0 {
			return time.Time{}
		}
		return c.Sessions[0].CreatedAt
	}
	slices.SortStableFunc(calls, func(a, b Call) int { return cmp.Or(newest(b).Compare(newest(a)), cmp.Compare(a.ID, b.ID)) })
	return calls, nil
}

func decodeSession(d *firestore.DocumentSnapshot) SessionSummary {
	m := d.Data()
	return SessionSummary{
		ID: d.Ref.ID, CallID: str(m[model.FieldCallID]), ExperienceID: str(m[model.FieldExperienceID]), Status: str(m[model.FieldStatus]),
		OwnerID: str(m[model.FieldOwnerID]), Participants: stringList(m[model.FieldParticipants]),
		LastEventSequenceNumber: integer(m[model.FieldLastEventSequenceNumber]),
		CreatedAt:               timestamp(m[model.FieldCreatedAt]), LastActivityAt: timestamp(m[model.FieldLastActivityAt]),
		EndReason: str(m[model.FieldEndReason]),
	}
}

// sessionData is everything the page shows of one session, as read.
type sessionData struct {
	session  SessionSummary
	events   []Event
	snapshot *Snapshot
	lastSeen map[string]time.Time
}

// errNoSession reports a session id with no document.
var errNoSession = fmt.Errorf("no such session")

func readSession(ctx context.Context, fs *firestore.Client, id string) (sessionData, error) {
	ref := fs.Collection(model.SessionsCollection).Doc(id)
	var out sessionData
	doc, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return out, errNoSession
	}
	if err != nil {
		return out, fmt.Errorf("read session %s: %w", id, err)
	}
	out.session = decodeSession(doc)
	evDocs, err := ref.Collection(model.EventsCollection).Documents(ctx).GetAll()
	if err != nil {
		return out, fmt.Errorf("read events of %s: %w", id, err)
	}
	for _, d := range evDocs {
		out.events = append(out.events, decodeEvent(d))
	}
	snapDoc, err := ref.Collection(model.SnapshotsCollection).Doc(model.LatestSnapshotID).Get(ctx)
	switch {
	case status.Code(err) == codes.NotFound:
	case err != nil:
		return out, fmt.Errorf("read snapshot of %s: %w", id, err)
	default:
		m := snapDoc.Data()
		out.snapshot = &Snapshot{
			ExperienceState: str(m[model.FieldExperienceState]), Participants: stringList(m[model.FieldParticipants]), OwnerID: str(m[model.FieldOwnerID]),
			LastEventSequenceNumber: integer(m[model.FieldLastEventSequenceNumber]), SchemaVersion: int(integer(m["schemaVersion"])),
			UpdatedAt: timestamp(m[model.FieldUpdatedAt]),
		}
	}
	presDocs, err := ref.Collection(model.PresenceCollection).Documents(ctx).GetAll()
	if err != nil {
		return out, fmt.Errorf("read presence of %s: %w", id, err)
	}
	out.lastSeen = map[string]time.Time{}
	for _, d := range presDocs {
		out.lastSeen[d.Ref.ID] = timestamp(d.Data()[model.FieldLastSeenAt])
	}
	return out, nil
}

func decodeEvent(d *firestore.DocumentSnapshot) Event {
	m := d.Data()
	e := Event{
		DocID: d.Ref.ID, Type: str(m[model.FieldType]), SenderID: str(m[model.FieldSenderID]), Data: stringMap(m[model.FieldData]),
		ClientSequenceNumber: integer(m[model.FieldClientSequenceNumber]), CreatedAt: timestamp(m[model.FieldCreatedAt]),
		Status: str(m[model.FieldStatus]), SequenceNumber: integer(m[model.FieldSequenceNumber]), RejectReason: str(m[model.FieldRejectReason]),
		SequencedAt: timestamp(m[model.FieldSequencedAt]),
	}
	e.System = str(m[model.FieldOrigin]) == model.OriginServer || model.IsSystemType(e.Type)
	return e
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func integer(v any) int64 {
	n, _ := v.(int64)
	return n
}

func timestamp(v any) time.Time {
	t, _ := v.(time.Time)
	return t
}

func stringList(v any) []string {
	out := []string{}
	vs, _ := v.([]any)
	for _, x := range vs {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// stringMap returns data as the map of strings the SPEC says it is, or as
// read when it is not one.
func stringMap(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		s, ok := x.(string)
		if !ok {
			return v
		}
		out[k] = s
	}
	return out
}
