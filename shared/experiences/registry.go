package experiences

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrUnknownExperience reports an experience id no registry entry has.
var ErrUnknownExperience = errors.New("unknown experience")

// Registry finds an experience by id.
type Registry struct {
	byID map[string]Experience
}

// NewRegistry returns a registry of the given experiences; ids must be
// unique.
func NewRegistry(xs ...Experience) (*Registry, error) {
	r := &Registry{byID: make(map[string]Experience, len(xs))}
	for _, x := range xs {
		if n := x.MaxStateBytes(); n <= 0 || n > MaxSnapshotStateBytes {
			return nil, fmt.Errorf("experiences: %q must bound its state (MaxStateBytes %d not in (0, %d])", x.ID(), n, MaxSnapshotStateBytes)
		}
		if _, dup := r.byID[x.ID()]; dup {
			return nil, fmt.Errorf("experiences: %q registered twice", x.ID())
		}
		r.byID[x.ID()] = x
	}
	return r, nil
}

// Default is the registry of every experience the product ships. Adding an
// experience adds one line here.
func Default() *Registry {
	r, err := NewRegistry(
		CoReading,
		CoDrawing,
	)
	if err != nil {
		panic(err) // a duplicate id is a programming error caught by every test
	}
	return r
}

// Lookup returns the experience with id.
func (r *Registry) Lookup(id string) (Experience, bool) {
	x, ok := r.byID[id]
	return x, ok
}

// IDs lists the registered experience ids.
func (r *Registry) IDs() []string { return sortedKeys(r.byID) }

// atoi parses a value the schema has already checked.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
