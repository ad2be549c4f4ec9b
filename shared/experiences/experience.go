// Package experiences is the server side of the seed's ExperienceRegistry:
// one Go type per shared experience, with its event types and their data
// schemas, its initial state, a pure reducer and a versioned snapshot
// encoding.
//
// # Adding an experience
//
// Write one file that declares a [Definition] for the experience's state
// type and wraps it with [Define], then add it to the list in [Default]:
//
//	var Quiz = Define(Definition[QuizState]{ID: "quiz", SchemaVersion: 1, ...})
//
// Nothing else changes: validation, sequencing, snapshots and joins all go
// through the [Experience] interface.
//
// # System events
//
// participant_joined, participant_left, owner_changed and experience_ended
// are the server's own; [Fold] applies them to the session part of the state
// (participants, owner) for every experience alike, and hands every other
// event to the experience's reducer. A client may not send them.
package experiences

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pajama-app/sharedexperiences/shared/model"
)

// Event is what a reducer sees of an accepted StateSyncEvent.
type Event struct {
	Type     string
	SenderID string
	Data     map[string]string
}

// Validation errors, matched with errors.Is by the pipeline to choose the
// event's rejectReason.
var (
	ErrUnknownType = errors.New("unknown event type")
	ErrInvalidData = errors.New("invalid event data")
)

// Experience is one registered experience, its state type erased. State
// values are those of the experience's own Definition.
type Experience interface {
	ID() string
	// SchemaVersion is the version of EncodeState's output.
	SchemaVersion() int
	// Validate checks an event's type and data against the schema only; it
	// never looks at the state.
	Validate(eventType string, data map[string]string) error
	// Initial is the state of a new session.
	Initial() any
	// Reduce applies an accepted event (one Validate accepted when it was
	// decided); an unknown type, and an event that does not apply to the
	// state, return it unchanged. It never mutates its input.
	Reduce(state any, e Event) any
	// EncodeState and DecodeState convert the state for snapshots; decoding
	// a version older than SchemaVersion migrates it or fails with
	// ErrSchemaVersion, never misreads it.
	EncodeState(state any) (json.RawMessage, error)
	DecodeState(version int, raw json.RawMessage) (any, error)
	// MaxStateBytes bounds EncodeState's output for any sequence of valid
	// events, so a snapshot stays well under Firestore's 1 MiB document
	// limit. Validation of each event alone must guarantee it.
	MaxStateBytes() int
}

// ErrSchemaVersion reports a snapshot this code cannot read; the snapshot is
// then rebuilt from events.
var ErrSchemaVersion = errors.New("unsupported snapshot schema version")

// Definition declares an experience whose state is S.
type Definition[S any] struct {
	ID            string
	SchemaVersion int
	// Events maps each client event type to the schema of its data.
	Events map[string]Schema
	// Initial returns the state of a new session.
	Initial func() S
	// Reduce is pure: (state, event) -> state. It must not keep references
	// to the input state that it then changes.
	Reduce func(S, Event) S
	// Migrate decodes a snapshot written with an older SchemaVersion; nil
	// means older snapshots are rebuilt from events.
	Migrate func(version int, raw json.RawMessage) (S, error)
	// MaxStateBytes bounds the encoded state (see Experience); required,
	// and at most MaxSnapshotStateBytes.
	MaxStateBytes int
}

// MaxSnapshotStateBytes is the largest MaxStateBytes an experience may
// declare: half of Firestore's 1 MiB document limit, leaving room for the
// snapshot's other fields and for the map encoding's overhead.
const MaxSnapshotStateBytes = 512 << 10

// Define checks a definition and returns it as an Experience.
func Define[S any](d Definition[S]) Experience {
	if d.ID == "" || d.SchemaVersion < 1 || d.Initial == nil || d.Reduce == nil {
		panic(fmt.Sprintf("experiences: incomplete definition %q", d.ID)) // programming error at init
	}
	if d.MaxStateBytes <= 0 || d.MaxStateBytes > MaxSnapshotStateBytes {
		panic(fmt.Sprintf("experiences: %s must bound its state: MaxStateBytes in (0, %d]", d.ID, MaxSnapshotStateBytes))
	}
	for t := range d.Events {
		if model.IsSystemType(t) {
			panic(fmt.Sprintf("experiences: %s declares reserved type %q", d.ID, t))
		}
	}
	return definition[S]{d}
}

type definition[S any] struct{ d Definition[S] }

func (x definition[S]) ID() string         { return x.d.ID }
func (x definition[S]) SchemaVersion() int { return x.d.SchemaVersion }
func (x definition[S]) Initial() any       { return x.d.Initial() }
func (x definition[S]) MaxStateBytes() int { return x.d.MaxStateBytes }

func (x definition[S]) Validate(eventType string, data map[string]string) error {
	schema, ok := x.d.Events[eventType]
	if !ok {
		return fmt.Errorf("%w %q for %s", ErrUnknownType, eventType, x.d.ID)
	}
	return schema.Check(data)
}

func (x definition[S]) Reduce(state any, e Event) any {
	s, ok := state.(S)
	if !ok {
		s = x.d.Initial()
	}
	// Validation is not repeated here: an accepted event was valid under
	// the schema of its day, and every client folds it as it was accepted.
	// Refusing it now, under a tighter schema, would make the server's
	// snapshot differ from what the devices show.
	if _, known := x.d.Events[e.Type]; !known {
		return s
	}
	return x.d.Reduce(s, e)
}

func (x definition[S]) EncodeState(state any) (json.RawMessage, error) {
	s, ok := state.(S)
	if !ok {
		return nil, fmt.Errorf("experiences: %s state has type %T", x.d.ID, state)
	}
	return json.Marshal(s)
}

func (x definition[S]) DecodeState(version int, raw json.RawMessage) (any, error) {
	switch {
	case version == x.d.SchemaVersion:
		var s S
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("experiences: decode %s state v%d: %w", x.d.ID, version, err)
		}
		return s, nil
	case version < x.d.SchemaVersion && version >= 1 && x.d.Migrate != nil:
		return x.d.Migrate(version, raw)
	default:
		return nil, fmt.Errorf("%w: %s v%d (this code reads v%d)", ErrSchemaVersion, x.d.ID, version, x.d.SchemaVersion)
	}
}
