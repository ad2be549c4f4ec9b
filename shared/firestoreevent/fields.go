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
