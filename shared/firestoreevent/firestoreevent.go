// Package firestoreevent decodes the Firestore CloudEvents that Eventarc
// delivers (google.cloud.firestore.document.v1.*) into the
// google-cloudevents-go types.
//
// # Payload encoding
//
// Eventarc sends the DocumentEventData protobuf as raw bytes, and that is
// all Decode reads. The Firestore emulator sends the same protobuf as base64
// text; the local runner decodes it before delivery (as firebase-tools'
// functions emulator does for a Node function), so production code never
// guesses which encoding it was given.
package firestoreevent

import (
	"errors"
	"fmt"
	"strings"

	"github.com/googleapis/google-cloudevents-go/cloud/firestoredata"
	"google.golang.org/protobuf/proto"
)

// ErrMalformed reports a payload that is not a DocumentEventData.
var ErrMalformed = errors.New("firestoreevent: malformed payload")

// Decode parses a DocumentEventData from its protobuf bytes.
func Decode(payload []byte) (*firestoredata.DocumentEventData, error) {
	var data firestoredata.DocumentEventData
	if err := proto.Unmarshal(payload, &data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &data, nil
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
