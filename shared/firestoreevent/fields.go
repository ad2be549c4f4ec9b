package firestoreevent

import (
	"fmt"
	"time"

	"github.com/googleapis/google-cloudevents-go/cloud/firestoredata"
)

// Fields reads typed values out of a document's fields. Every getter reports
// whether the field was present with that type, so a caller can tell a
// missing field from a mistyped one.
type Fields map[string]*firestoredata.Value

// String returns a string field.
func (f Fields) String(name string) (string, bool) {
	v, ok := f[name].GetValueType().(*firestoredata.Value_StringValue)
	if !ok {
		return "", false
	}
	return v.StringValue, true
}

// Int returns an integer field.
func (f Fields) Int(name string) (int64, bool) {
	v, ok := f[name].GetValueType().(*firestoredata.Value_IntegerValue)
	if !ok {
		return 0, false
	}
	return v.IntegerValue, true
}

// Time returns a timestamp field.
func (f Fields) Time(name string) (time.Time, bool) {
	v, ok := f[name].GetValueType().(*firestoredata.Value_TimestampValue)
	if !ok || v.TimestampValue == nil {
		return time.Time{}, false
	}
	return v.TimestampValue.AsTime(), true
}

// StringMap returns a map field whose values are all strings; an error names
// the first value that is not.
func (f Fields) StringMap(name string) (map[string]string, bool, error) {
	v, ok := f[name].GetValueType().(*firestoredata.Value_MapValue)
	if !ok {
		return nil, false, nil
	}
	out := make(map[string]string, len(v.MapValue.GetFields()))
	for k, val := range v.MapValue.GetFields() {
		s, ok := val.GetValueType().(*firestoredata.Value_StringValue)
		if !ok {
			return nil, true, fmt.Errorf("%s.%s is not a string", name, k)
		}
		out[k] = s.StringValue
	}
	return out, true, nil
}

// Has reports whether the field is present, whatever its type.
func (f Fields) Has(name string) bool { _, ok := f[name]; return ok }

// Unsupported stands, in Values, for a value of a type the server never
// interprets (bytes, a reference, a geo point): present, but of no use.
type Unsupported struct{}

// Values is the fields as the Go Firestore client returns a document's data
// (string, int64, float64, bool, time.Time, nil, map[string]any, []any), so
// that a document carried by a CloudEvent decodes exactly like one read.
func (f Fields) Values() map[string]any {
	out := make(map[string]any, len(f))
	for k, v := range f {
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
	case *firestoredata.Value_TimestampValue:
		if x.TimestampValue == nil {
			return Unsupported{}
		}
		return x.TimestampValue.AsTime()
	case *firestoredata.Value_MapValue:
		return Fields(x.MapValue.GetFields()).Values()
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
