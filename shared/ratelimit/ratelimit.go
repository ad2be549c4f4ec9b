// Package ratelimit is a token bucket whose state is a plain value stored in
// Firestore and advanced by the time of the thing being limited, not by the
// clock of the machine deciding. Replaying the same events therefore gives
// the same decisions (the event pipeline's exactly-once outcome depends on
// it), and a bucket read and written in a transaction is one limit across
// every function instance.
package ratelimit

import "time"

// Limit is a sustained rate with a burst.
type Limit struct {
	PerSecond float64
	Burst     float64
}

// PerMinute is a limit of n per minute with bursts of n.
func PerMinute(n int) Limit { return Limit{PerSecond: float64(n) / 60, Burst: float64(n)} }

// Bucket is the stored state of one limited subject.
type Bucket struct {
	Tokens float64   `firestore:"tokens"`
	At     time.Time `firestore:"at"`
}

// Take reports whether something at t fits in the bucket, and takes a
// token if so. Time never runs backwards for a bucket: a t older than the
// bucket's last one refills nothing. A zero Limit allows everything.
func (b *Bucket) Take(l Limit, t time.Time) bool {
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

// Full reports whether the bucket has refilled completely by t, so that
// forgetting it changes no decision.
func (b *Bucket) Full(l Limit, t time.Time) bool {
	return l.PerSecond <= 0 || b.Tokens+t.Sub(b.At).Seconds()*l.PerSecond >= l.Burst
}
