package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/require"

	"github.com/pajama-app/sharedexperiences/functions"
	"github.com/pajama-app/sharedexperiences/shared/firestoreevent"
	"github.com/pajama-app/sharedexperiences/shared/model"
)

// TestTriggerCarriesTheStoredEvent: the document the Firestore emulator's
// created trigger carries decodes to the same event as the document read
// back, to the microsecond of a server timestamp, with the same update
// time, so that the sequencer
// may decide a carried copy without reading it (events.SequenceCreated).
// Events as clients write them and with every value type the decoder meets.
func TestTriggerCarriesTheStoredEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	payloads := make(chan []byte, 16)
	ln, err := net.Listen("tcp", loopbackHost+":0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		// As the runner takes it (see serveTrigger): base64 text.
		if raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b))); err == nil {
			b = raw
		}
		payloads <- b
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	const project = "demo-trigger-copy"
	s := startTestStack(t, StackOptions{ProjectID: project, FunctionsAddr: ln.Addr().String()})
	defer s.Stop()
	l := &Local{Stack: s, client: http.DefaultClient, decls: map[string]functions.Declaration{
		"onEventCreated": {Name: "onEventCreated", Kind: functions.FirestoreTrigger, EventType: functions.EventCreated,
			Document: model.SessionsCollection + "/{sessionId}/" + model.EventsCollection + "/{eventId}"},
	}}
	require.NoError(t, l.registerTriggers(ctx))

	t.Setenv("FIRESTORE_EMULATOR_HOST", s.FirestoreHost)
	fs, err := firestore.NewClient(ctx, project)
	require.NoError(t, err)
	defer fs.Close()
	col := fs.Collection(model.SessionsCollection).Doc("s1").Collection(model.EventsCollection)
	for _, tc := range []struct {
		name string
		doc  map[string]any
	}{
		{"a client's event", map[string]any{"id": "e1", "type": "page_changed", "senderId": "u1",
			"data": map[string]any{"pageIndex": "3"}, "clientSequenceNumber": int64(7), "createdAt": firestore.ServerTimestamp}},
		{"an admin's time to the microsecond", map[string]any{"id": "e2", "type": "page_changed", "senderId": "u1",
			"data": map[string]any{"pageIndex": "3"}, "clientSequenceNumber": int64(8),
			"createdAt": time.Date(2026, 12, 4, 5, 0, 0, 123456000, time.UTC)}},
		{"odd values", map[string]any{"id": "e3", "type": "page_changed", "senderId": "u1",
			"data":                 map[string]any{"n": 1.5, "b": []byte("xy"), "l": []any{"a", int64(2)}, "z": nil, "t": true},
			"clientSequenceNumber": "9", "createdAt": firestore.ServerTimestamp}},
	} {
		ref := col.NewDoc()
		_, err := ref.Create(ctx, tc.doc)
		require.NoError(t, err, tc.name)
		var payload []byte
		select {
		case payload = <-payloads:
		case <-ctx.Done():
			t.Fatalf("%s: no trigger delivered", tc.name)
		}
		data, err := firestoreevent.Decode(payload)
		require.NoError(t, err, tc.name)
		carried := model.DecodeEventData(ref.ID, firestoreevent.Values(data.GetValue().GetFields()), data.GetValue().GetUpdateTime().AsTime())
		snap, err := ref.Get(ctx)
		require.NoError(t, err, tc.name)
		stored := model.DecodeEvent(snap)
		require.Equal(t, stored.CreatedAt.UnixMicro(), carried.CreatedAt.UnixMicro(), tc.name)
		require.True(t, stored.CreatedAt.Equal(carried.CreatedAt), tc.name)
		require.True(t, stored.UpdateTime.Equal(carried.UpdateTime), "%s: update time %v, carried %v", tc.name, stored.UpdateTime, carried.UpdateTime)
		// Which field a malformed event's error names depends on map order.
		require.Equal(t, stored.Malformed == nil, carried.Malformed == nil, tc.name)
		stored.CreatedAt, carried.CreatedAt = time.Time{}, time.Time{}
		stored.UpdateTime, carried.UpdateTime = time.Time{}, time.Time{}
		stored.Malformed, carried.Malformed = nil, nil
		require.Equal(t, stored, carried, tc.name)
	}
}
