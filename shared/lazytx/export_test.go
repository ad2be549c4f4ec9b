package lazytx

import "time"

// IsPlaceholder reports whether id is one this package handed out.
var IsPlaceholder = isPlaceholder

// KeepEnded is how long an ended transaction is kept.
const KeepEnded = keepEnded

// SetClock replaces t's clock.
func (t *Transactions) SetClock(now func() time.Time) { t.now = now }

// Passthrough is a Transactions that changes nothing, for side-by-side
// measurements.
func Passthrough() *Transactions {
	t := New()
	t.off = true
	return t
}
