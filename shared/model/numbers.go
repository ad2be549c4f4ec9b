package model

import (
	"fmt"
	"slices"
)

// CheckNumbers says whether numbers, a session's accepted sequence numbers
// in any order, are exactly 1..last: no gap, no number given twice, and
// last, the session document's lastEventSequenceNumber, the highest. It is
// the pipeline's central promise, checked by the soak and the bench alike.
func CheckNumbers(numbers []int64, last int64) error {
	ns := slices.Clone(numbers)
	slices.Sort(ns)
	for i, n := range ns {
		switch want := int64(i + 1); {
		case i > 0 && n == ns[i-1]:
			return fmt.Errorf("sequence number %d given twice", n)
		case n != want:
			return fmt.Errorf("sequence number %d missing (next is %d)", want, n)
		}
	}
	if last != int64(len(ns)) {
		return fmt.Errorf("session says %d accepted, the events %d", last, len(ns))
	}
	return nil
}
