// Package firestoreevent decodes the Firestore CloudEvents that Eventarc
// delivers (google.cloud.firestore.document.v1.*) into the
// google-cloudevents-go types, and reads typed fields out of the document.
//
// # Payload encodings
//
// Production Eventarc sends the DocumentEventData protobuf as raw bytes. The
// Firestore emulator sends the same protobuf as base64 text (firebase-tools'
// functions emulator decodes it before calling a Node function). [Decode]
// accepts both: a serialized DocumentEventData always starts with the tag
// byte of field 1, 2 or 3 (0x0a, 0x12, 0x1a), none of which is in the base64
// alphabet, so the first byte tells the encodings apart without guessing.
package firestoreevent

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/googleapis/google-cloudevents-go/cloud/firestoredata"
	"google.golang.org/protobuf/proto"
)

// ErrMalformed reports a payload that is not a DocumentEventData.
var ErrMalformed = errors.New("firestoreevent: malformed payload")

// Decode parses a DocumentEventData from raw protobuf or base64 text.
func Decode(payload []byte) (*firestoredata.DocumentEventData, error) {
	if isBase64Start(payload) {
		decoded := make([]byte, base64.StdEncoding.DecodedLen(len(payload)))
		n, err := base64.StdEncoding.Decode(decoded, trimSpace(payload))
		if err != nil {
			return nil, fmt.Errorf("%w: base64: %v", ErrMalformed, err)
		}
		payload = decoded[:n]
	}
	var data firestoredata.DocumentEventData
	if err := proto.Unmarshal(payload, &data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &data, nil
}

func isBase64Start(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	c := b[0]
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// DocumentPath returns the path of a document inside its database
// ("experience_sessions/s1/events/e1") from a full resource name
// ("projects/p/databases/(default)/documents/experience_sessions/s1/events/e1").
func DocumentPath(resourceName string) (string, error) {
	_, path, ok := strings.Cut(resourceName, "/documents/")
	if !ok || path == "" {
		return "", fmt.Errorf("%w: document name %q", ErrMalformed, resourceName)
	}
	return path, nil
}
