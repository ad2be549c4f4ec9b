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

func TestDecodeBothEncodings(t *testing.T) {
	raw := sample(t)
	tests := []struct {
		name    string
		payload []byte
	}{
		{"raw protobuf (production Eventarc)", raw},
		{"base64 text (Firestore emulator)", []byte(base64.StdEncoding.EncodeToString(raw))},
		{"base64 text with trailing newline", []byte(base64.StdEncoding.EncodeToString(raw) + "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Decode(tt.payload)
			require.NoError(t, err)
			path, err := DocumentPath(data.GetValue().GetName())
			require.NoError(t, err)
			require.Equal(t, "experience_sessions/s1/events/e1", path)

			f := Fields(data.GetValue().GetFields())
			typ, ok := f.String("type")
			require.True(t, ok)
			require.Equal(t, "page_changed", typ)
			n, ok := f.Int("clientSequenceNumber")
			require.True(t, ok)
			require.EqualValues(t, 7, n)
			at, ok := f.Time("createdAt")
			require.True(t, ok)
			require.Equal(t, 2026, at.Year())
			m, ok, err := f.StringMap("data")
			require.True(t, ok)
			require.NoError(t, err)
			require.Equal(t, map[string]string{"pageIndex": "3"}, m)
			_, ok = f.Int("type")
			require.False(t, ok, "a string is not an int")
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, payload := range [][]byte{
		[]byte("not base64 !!"),
		[]byte("QUJD"), // base64 of "ABC": not a protobuf
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
		f := Fields(data.GetValue().GetFields())
		_, _ = f.String("type")
		_, _, _ = f.StringMap("data")
	})
}
