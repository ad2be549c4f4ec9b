package firestoreevent

import (
	"time"

	"github.com/googleapis/google-cloudevents-go/cloud/firestoredata"
)

// Unsupported stands, in Values, for a value of a type the backend never
// interprets (a reference, a geo point): present, but of no use.
type Unsupported struct{}

// Values is a CloudEvent document's fields as the Go Firestore client
// returns a document's data (string, int64, float64, bool, time.Time, nil,
// map[string]any, []any, []byte), so that the document a trigger carries decodes
// exactly like the same document read.
func Values(fields map[string]*firestoredata.Value) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		out[k] = value(v)
	}
	return out
}

func value(v *firestoredata.Value) any {
	switch x := v.GetValueType().(type) {
	case *firestoredata.Value_NullValue:
		return nil
	case *firestoredata.Value_BooleanValue:
		return x.BooleanValue
	case *firestoredata.Value_IntegerValue:
		return x.IntegerValue
	case *firestoredata.Value_DoubleValue:
		return x.DoubleValue
	case *firestoredata.Value_StringValue:
		return x.StringValue
	case *firestoredata.Value_BytesValue:
		// Sized like the stored value (see model's event size).
		return x.BytesValue
	case *firestoredata.Value_TimestampValue:
		if x.TimestampValue == nil {
			return Unsupported{}
		}
		return x.TimestampValue.AsTime()
	case *firestoredata.Value_MapValue:
		return Values(x.MapValue.GetFields())
	case *firestoredata.Value_ArrayValue:
		vs := x.ArrayValue.GetValues()
		out := make([]any, len(vs))
		for i, e := range vs {
			out[i] = value(e)
		}
		return out
	}
	return Unsupported{}
}

// UpdateTime is doc's update time, or the zero time when the payload has
// none (protobuf's AsTime would give the Unix epoch instead).
func UpdateTime(doc *firestoredata.Document) time.Time {
	if ut := doc.GetUpdateTime(); ut != nil {
		return ut.AsTime()
	}
	return time.Time{}
}
