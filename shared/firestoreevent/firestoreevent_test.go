package firestoreevent

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/googleapis/google-cloudevents-go/cloud/firestoredata"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func sample(t testing.TB) []byte {
	t.Helper()
	created := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	b, err := proto.Marshal(&firestoredata.DocumentEventData{Value: &firestoredata.Document{
		Name: "projects/demo-x/databases/(default)/documents/experience_sessions/s1/events/e1",
		Fields: map[string]*firestoredata.Value{
			"type":                 {ValueType: &firestoredata.Value_StringValue{StringValue: "page_changed"}},
			"clientSequenceNumber": {ValueType: &firestoredata.Value_IntegerValue{IntegerValue: 7}},
			"createdAt":            {ValueType: &firestoredata.Value_TimestampValue{TimestampValue: timestamppb.New(created)}},
			"data": {ValueType: &firestoredata.Value_MapValue{MapValue: &firestoredata.MapValue{Fields: map[string]*firestoredata.Value{
				"pageIndex": {ValueType: &firestoredata.Value_StringValue{StringValue: "3"}},
			}}}},
		},
	}})
	require.NoError(t, err)
	return b
}

func TestDecode(t *testing.T) {
	data, err := Decode(sample(t))
	require.NoError(t, err)
	path, err := DocumentPath(data.GetValue().GetName())
	require.NoError(t, err)
	require.Equal(t, "experience_sessions/s1/events/e1", path)
	require.Equal(t, "page_changed", data.GetValue().GetFields()["type"].GetStringValue())
}

func TestDecodeMalformed(t *testing.T) {
	for _, payload := range [][]byte{
		// The emulator's base64 text: the runner decodes it before delivery.
		[]byte(base64.StdEncoding.EncodeToString(sample(t))),
		{0x0a, 0xff, 0xff},
	} {
		_, err := Decode(payload)
		require.ErrorIs(t, err, ErrMalformed, "%q", payload)
	}
	_, err := DocumentPath("projects/p/databases/(default)")
	require.ErrorIs(t, err, ErrMalformed)
}

// FuzzDecode: no payload may panic; anything that decodes has a usable shape.
func FuzzDecode(f *testing.F) {
	raw := sample(f)
	f.Add(raw)
	f.Add([]byte(base64.StdEncoding.EncodeToString(raw)))
	f.Add([]byte{})
	f.Add([]byte("QUJD"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		data, err := Decode(payload)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		// Whatever decodes can be asked for its document's path, and read
		// as the sequencer reads a trigger's copy.
		_, _ = DocumentPath(data.GetValue().GetName())
		_ = Values(data.GetValue().GetFields())
		_ = UpdateTime(data.GetValue())
	})
}

// TestValuesAsTheClientReads: every value type comes out as the Go
// Firestore client returns it from a read, so a document carried by a
// CloudEvent decodes like the same document read.
func TestValuesAsTheClientReads(t *testing.T) {
	ts := time.Date(2026, 12, 2, 10, 0, 0, 5000, time.UTC)
	fields := map[string]*firestoredata.Value{
		"s":    {ValueType: &firestoredata.Value_StringValue{StringValue: "x"}},
		"i":    {ValueType: &firestoredata.Value_IntegerValue{IntegerValue: -3}},
		"f":    {ValueType: &firestoredata.Value_DoubleValue{DoubleValue: 1.5}},
		"b":    {ValueType: &firestoredata.Value_BooleanValue{BooleanValue: true}},
		"n":    {ValueType: &firestoredata.Value_NullValue{}},
		"t":    {ValueType: &firestoredata.Value_TimestampValue{TimestampValue: timestamppb.New(ts)}},
		"m":    {ValueType: &firestoredata.Value_MapValue{MapValue: &firestoredata.MapValue{Fields: map[string]*firestoredata.Value{"k": {ValueType: &firestoredata.Value_StringValue{StringValue: "v"}}}}}},
		"a":    {ValueType: &firestoredata.Value_ArrayValue{ArrayValue: &firestoredata.ArrayValue{Values: []*firestoredata.Value{{ValueType: &firestoredata.Value_IntegerValue{IntegerValue: 1}}}}}},
		"y":    {ValueType: &firestoredata.Value_BytesValue{BytesValue: []byte("ab")}},
		"r":    {ValueType: &firestoredata.Value_ReferenceValue{ReferenceValue: "projects/p/databases/(default)/documents/a/b"}},
		"none": {},
	}
	require.Equal(t, map[string]any{
		"s": "x", "i": int64(-3), "f": 1.5, "b": true, "n": nil, "t": ts,
		"m": map[string]any{"k": "v"}, "a": []any{int64(1)}, "y": []byte("ab"),
		"r": Unsupported{}, "none": Unsupported{},
	}, Values(fields))
}

// TestUpdateTime: a document with no update time has the zero time, which
// the sequencer takes as "do not trust this copy"; protobuf's AsTime on a
// nil timestamp gives 1970 instead, a precondition that always fails.
func TestUpdateTime(t *testing.T) {
	ts := time.Date(2026, 12, 4, 21, 0, 0, 1000, time.UTC)
	for _, tc := range []struct {
		name string
		doc  *firestoredata.Document
		want time.Time
	}{
		{"set", &firestoredata.Document{UpdateTime: timestamppb.New(ts)}, ts},
		{"absent", &firestoredata.Document{}, time.Time{}},
		{"no document", nil, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, tc.want.Equal(UpdateTime(tc.doc)), "got %v", UpdateTime(tc.doc))
			require.Equal(t, tc.want.IsZero(), UpdateTime(tc.doc).IsZero())
		})
	}
}
