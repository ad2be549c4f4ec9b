package firestoreevent

import (
	"testing"
	"time"

	"github.com/googleapis/google-cloudevents-go/cloud/firestoredata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// BenchmarkDecode measures what every onEventCreated invocation does before
// it touches Firestore: decode the DocumentEventData of a created event, as
// Eventarc sends it (raw protobuf), then read the document path.
//
//	go test -run '^$' -bench . -benchmem ./shared/firestoreevent/
func BenchmarkDecode(b *testing.B) {
	raw := eventPayload(b)
	encodings := []struct {
		name    string
		payload []byte
	}{
		{"raw", raw},
	}
	for _, enc := range encodings {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(enc.payload)))
			for b.Loop() {
				data, err := Decode(enc.payload)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := DocumentPath(data.GetValue().GetName()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// eventPayload is a created StateSyncEvent as the trigger receives it: the
// six client fields of a page_changed event.
func eventPayload(tb testing.TB) []byte {
	tb.Helper()
	str := func(s string) *firestoredata.Value {
		return &firestoredata.Value{ValueType: &firestoredata.Value_StringValue{StringValue: s}}
	}
	created := timestamppb.New(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	b, err := proto.Marshal(&firestoredata.DocumentEventData{Value: &firestoredata.Document{
		Name: "projects/demo-shared-experiences/databases/(default)/documents/experience_sessions/" +
			"s0123456789abcdef0123/events/e0123456789abcdef0123",
		Fields: map[string]*firestoredata.Value{
			"id":                   str("e0123456789abcdef0123"),
			"type":                 str("page_changed"),
			"senderId":             str("Qm9iIHRoZSB1c2VyIGlkIDEyMzQ"),
			"clientSequenceNumber": {ValueType: &firestoredata.Value_IntegerValue{IntegerValue: 42}},
			"createdAt":            {ValueType: &firestoredata.Value_TimestampValue{TimestampValue: created}},
			"data": {ValueType: &firestoredata.Value_MapValue{MapValue: &firestoredata.MapValue{
				Fields: map[string]*firestoredata.Value{"pageIndex": str("12")},
			}}},
		},
		CreateTime: created,
		UpdateTime: created,
	}})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
