package model

import (
	"errors"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// stored is doc with the server's transforms applied, as a read returns it.
func stored(doc map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range doc {
		if v == firestore.ServerTimestamp {
			v = t0
		}
		if m, ok := v.(map[string]string); ok {
			a := map[string]any{}
			for k, s := range m {
				a[k] = s
			}
			v = a
		}
		out[k] = v
	}
	return out
}

func TestDecodeEvent(t *testing.T) {
	valid := func() map[string]any {
		return map[string]any{
			FieldID: "e1", FieldType: "page_changed", FieldSenderID: "u1",
			FieldData: map[string]any{"pageIndex": "2"}, FieldClientSequenceNumber: int64(7), FieldCreatedAt: t0,
		}
	}
	with := func(k string, v any) map[string]any { m := valid(); m[k] = v; return m }
	without := func(k string) map[string]any { m := valid(); delete(m, k); return m }
	tests := []struct {
		name      string
		doc       map[string]any
		malformed string // "" when well-formed
	}{
		{"valid", valid(), ""},
		{"createdAt not a timestamp", with(FieldCreatedAt, "now"), "createdAt must be a timestamp"},
		{"no id", without(FieldID), "id must be a string"},
		{"type a number", with(FieldType, int64(1)), "type must be a string"},
		{"no senderId", without(FieldSenderID), "senderId must be a string"},
		{"clientSequenceNumber a double", with(FieldClientSequenceNumber, 1.5), "clientSequenceNumber must be an integer"},
		{"data a list", with(FieldData, []any{"x"}), "data must be a map of strings"},
		{"data value not a string", with(FieldData, map[string]any{"pageIndex": int64(2)}), "data.pageIndex must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := decodeEvent("e1", tt.doc)
			if tt.malformed == "" {
				require.NoError(t, e.Malformed)
				require.Equal(t, "page_changed", e.Type)
				require.Equal(t, map[string]string{"pageIndex": "2"}, e.Data)
				require.Equal(t, int64(7), e.ClientSequenceNumber)
				require.True(t, e.Ordered())
				return
			}
			require.True(t, errors.Is(e.Malformed, ErrMalformed))
			require.Contains(t, e.Malformed.Error(), tt.malformed)
		})
	}
	// The first problem is the one reported, and the raw order value is
	// kept whatever its type.
	e := decodeEvent("e1", with(FieldClientSequenceNumber, "x"))
	require.Equal(t, "x", e.RawClientSequenceNumber)
}

func TestEncodersRoundTrip(t *testing.T) {
	client := Event{ID: "e1", Type: "page_changed", SenderID: "u1", Data: map[string]string{"pageIndex": "3"}, ClientSequenceNumber: 4}
	got := decodeEvent("e1", stored(client.ClientDocument()))
	require.NoError(t, got.Malformed)
	require.Equal(t, client.Data, got.Data)
	require.Equal(t, t0, got.CreatedAt)
	require.Empty(t, got.Origin)

	for _, se := range []SystemEvent{Joined("u1", true), Joined("u2", false), Left("u2", SystemSender), OwnerChange("u1", "u3", "u1"), Ended("u1", EndReasonByOwner)} {
		got := decodeEvent("s1", stored(se.Document("s1", 2)))
		require.NoError(t, got.Malformed, se.Type)
		require.Equal(t, se.Type, got.Type)
		require.Equal(t, se.By, got.SenderID)
		require.Equal(t, se.Data, got.Data)
		require.Equal(t, OriginServer, got.Origin)
		require.Equal(t, int64(2), got.ClientSequenceNumber)
		require.True(t, IsSystemType(got.Type))
		require.NotEmpty(t, got.Data[DataUserID], "every system event names a user")
	}
	require.Equal(t, "true", Joined("u1", true).Data[DataCreated])
	require.NotContains(t, Joined("u1", false).Data, DataCreated)
}

func TestDecisionUpdates(t *testing.T) {
	paths := func(us []firestore.Update) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Path)
		}
		return out
	}
	require.Equal(t, []string{FieldStatus, FieldSequencedAt, FieldSequenceNumber}, paths(Decision{Status: EventAccepted, SequenceNumber: 3}.Updates()))
	require.Equal(t, []string{FieldStatus, FieldSequencedAt, FieldRejectReason}, paths(Decision{Status: EventRejected, RejectReason: "x"}.Updates()))
}

// FuzzDecodeEvent: whatever a client stores, decoding never panics, and an
// event it calls well-formed has every client field.
func FuzzDecodeEvent(f *testing.F) {
	f.Add("e1", "page_changed", "u1", "pageIndex", "2", int64(1), true, uint8(0))
	f.Fuzz(func(t *testing.T, id, typ, sender, key, val string, seq int64, stamp bool, kinds uint8) {
		doc := map[string]any{FieldID: id, FieldType: typ, FieldSenderID: sender,
			FieldData: map[string]any{key: val}, FieldClientSequenceNumber: seq}
		if stamp {
			doc[FieldCreatedAt] = t0
		}
		// Each bit swaps one field for a value of another type.
		odd := []any{int64(1), 1.5, true, nil, []any{}, map[string]any{"x": int64(1)}}
		fields := []string{FieldID, FieldType, FieldSenderID, FieldData, FieldClientSequenceNumber, FieldCreatedAt}
		for i, k := range fields {
			if kinds&(1<<i) != 0 {
				doc[k] = odd[(int(kinds)+i)%len(odd)]
			}
		}
		e := decodeEvent(id, doc)
		if e.Malformed == nil {
			require.True(t, e.Ordered())
			require.NotNil(t, e.Data)
			require.GreaterOrEqual(t, e.Size, len(key)+len(val))
		}
	})
}

func TestCheckNumbers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		numbers []int64
		last    int64
		want    string // "" for none
	}{
		{"none", nil, 0, ""},
		{"in order", []int64{1, 2, 3}, 3, ""},
		{"any order", []int64{3, 1, 2}, 3, ""},
		{"gap", []int64{1, 3, 4}, 4, "number 2 missing (next is 3)"},
		{"no 1", []int64{2}, 2, "number 1 missing"},
		{"twice", []int64{1, 2, 2, 3}, 4, "number 2 given twice"},
		{"session behind", []int64{1, 2}, 1, "session says 1 accepted, the events 2"},
		{"session ahead", nil, 1, "session says 1 accepted, the events 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckNumbers(tc.numbers, tc.last)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestDropDataUpdates(t *testing.T) {
	paths := func(us []firestore.Update) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Path)
		}
		return out
	}
	require.Equal(t, []string{FieldStatus, FieldSequencedAt, FieldData, FieldRejectReason},
		paths(Decision{Status: EventRejected, RejectReason: "too_large", DropData: true}.Updates()))
	require.Equal(t, []string{FieldStatus, FieldSequencedAt, FieldSequenceNumber},
		paths(Decision{Status: EventAccepted, SequenceNumber: 1, DropData: true}.Updates()), "an accepted event keeps its data")
}

func TestEventSizeCountsEveryValue(t *testing.T) {
	base := map[string]any{FieldID: "e", FieldType: "t", FieldSenderID: "u", FieldClientSequenceNumber: int64(1), FieldCreatedAt: time.Now()}
	with := func(data any) int {
		m := map[string]any{FieldData: data}
		for k, v := range base {
			m[k] = v
		}
		return decodeEvent("e", m).Size
	}
	strs := with(map[string]any{"k": "vvvv"})
	require.Equal(t, with(map[string]any{})+len("k")+len("vvvv")+2, strs, "strings as before")
	require.Greater(t, with(map[string]any{"k": make([]byte, 1<<20)}), DropDataAbove, "a malformed value counts")
	require.Greater(t, with(map[string]any{"k": map[string]any{"n": make([]byte, 1<<20)}}), DropDataAbove, "nested")
}
