package events

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBucket(t *testing.T) {
	l := Limit{PerSecond: 10, Burst: 3}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		at    []time.Duration
		allow []bool
	}{
		{"burst then refuse", []time.Duration{0, 0, 0, 0}, []bool{true, true, true, false}},
		{"refills with event time", []time.Duration{0, 0, 0, 0, 100 * time.Millisecond}, []bool{true, true, true, false, true}},
		{"refill capped at burst", []time.Duration{0, 10 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second}, []bool{true, true, true, true, false}},
		{"older event refills nothing", []time.Duration{time.Second, 0, 0, 0}, []bool{true, true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bucket
			for i, d := range tt.at {
				require.Equal(t, tt.allow[i], b.take(l, t0.Add(d)), "event %d", i)
			}
		})
	}
	var b bucket
	require.True(t, b.take(Limit{}, t0), "no limit allows everything")
}

func TestOrder(t *testing.T) {
	t0 := time.Now()
	a := Event{CreatedAt: t0, ClientSequenceNumber: 2, DocID: "a"}
	tests := []struct {
		name string
		x, y Event
	}{
		{"createdAt first", Event{CreatedAt: t0, ClientSequenceNumber: 9, DocID: "z"}, Event{CreatedAt: t0.Add(time.Microsecond), DocID: "a"}},
		{"then clientSequenceNumber", Event{CreatedAt: t0, ClientSequenceNumber: 1, DocID: "z"}, a},
		{"then id", a, Event{CreatedAt: t0, ClientSequenceNumber: 2, DocID: "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.True(t, before(tt.x, tt.y))
			require.False(t, before(tt.y, tt.x))
		})
	}
	require.False(t, before(a, a))
	c := cursor{CreatedAt: a.CreatedAt, ClientSequenceNumber: a.ClientSequenceNumber, EventID: a.DocID}
	require.False(t, c.after(a), "the cursor's own event is not after it")
	require.True(t, cursor{}.after(a), "everything is after the zero cursor")
}
