package events

import "time"

// bucket is a token bucket advanced by event time (createdAt), not by the
// clock, so replaying the same events always gives the same decisions. It
// is stored on the session document between batches.
type bucket struct {
	Tokens float64   `firestore:"tokens"`
	At     time.Time `firestore:"at"`
}

// Limit is a sustained rate with a burst.
type Limit struct {
	PerSecond float64
	Burst     float64
}

// take reports whether an event at t fits in the bucket, and takes a token
// if so. Time never runs backwards for a bucket: an event older than the
// bucket's last one refills nothing.
func (b *bucket) take(l Limit, t time.Time) bool {
	if l.PerSecond <= 0 {
		return true
	}
	if b.At.IsZero() {
		b.Tokens, b.At = l.Burst, t
	}
	if t.After(b.At) {
		b.Tokens = min(l.Burst, b.Tokens+t.Sub(b.At).Seconds()*l.PerSecond)
		b.At = t
	}
	if b.Tokens < 1 {
		return false
	}
	b.Tokens--
	return true
}
