package experiences

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Schema is the shape of one event type's data: every field it allows, each
// with its check. Data with a field the schema does not name is invalid.
type Schema map[string]Field

// Field checks one data value.
type Field struct {
	Optional bool
	Check    func(string) error
}

// Check validates data against the schema; the error names the field.
func (s Schema) Check(data map[string]string) error {
	for _, name := range sortedKeys(data) {
		if _, ok := s[name]; !ok {
			return fmt.Errorf("%w: unexpected field %q", ErrInvalidData, name)
		}
	}
	for _, name := range sortedKeys(s) {
		f := s[name]
		v, ok := data[name]
		if !ok {
			if f.Optional {
				continue
			}
			return fmt.Errorf("%w: missing field %q", ErrInvalidData, name)
		}
		if f.Check != nil {
			if err := f.Check(v); err != nil {
				return fmt.Errorf("%w: field %q: %v", ErrInvalidData, name, err)
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// ID accepts an identifier of 1..max characters from [A-Za-z0-9_.:-].
func ID(max int) Field {
	return Field{Check: func(v string) error {
		if len(v) == 0 || len(v) > max || !idPattern.MatchString(v) {
			return fmt.Errorf("must be 1..%d characters of [A-Za-z0-9_.:-]", max)
		}
		return nil
	}}
}

// IntRange accepts a decimal integer in [lo, hi], written canonically (no
// sign on zero, no leading zeros, no spaces), so one value has one spelling.
func IntRange(lo, hi int) Field {
	return Field{Check: func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || strconv.Itoa(n) != v || n < lo || n > hi {
			return fmt.Errorf("must be an integer %d..%d as a decimal string", lo, hi)
		}
		return nil
	}}
}

var colorPattern = regexp.MustCompile(`^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$`)

// Color accepts #RRGGBB or #RRGGBBAA.
func Color() Field {
	return Field{Check: func(v string) error {
		if !colorPattern.MatchString(v) {
			return fmt.Errorf("must be #RRGGBB or #RRGGBBAA")
		}
		return nil
	}}
}

// Points accepts "x,y;x,y;..." with 1..max points, each coordinate a
// decimal number in [0, 1] (canvas-relative, so devices of any size agree).
func Points(max int) Field {
	return Field{Check: func(v string) error {
		_, err := ParsePoints(v, max)
		return err
	}}
}

// ParsePoints decodes a Points value.
func ParsePoints(v string, max int) ([][2]float64, error) {
	if v == "" {
		return nil, fmt.Errorf("must have at least one point")
	}
	parts := strings.Split(v, ";")
	if len(parts) > max {
		return nil, fmt.Errorf("must have at most %d points", max)
	}
	out := make([][2]float64, len(parts))
	for i, p := range parts {
		xs, ys, ok := strings.Cut(p, ",")
		if len(xs) > MaxCoordinateChars || len(ys) > MaxCoordinateChars {
			return nil, fmt.Errorf("point %d: each coordinate has at most %d characters (\"0.1234\")", i, MaxCoordinateChars)
		}
		x, errX := strconv.ParseFloat(xs, 64)
		y, errY := strconv.ParseFloat(ys, 64)
		if !ok || errX != nil || errY != nil || !(x >= 0 && x <= 1) || !(y >= 0 && y <= 1) {
			return nil, fmt.Errorf("point %d must be \"x,y\" with 0 <= x, y <= 1", i)
		}
		out[i] = [2]float64{x, y}
	}
	return out, nil
}
