package ratelimit

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
			var b Bucket
			for i, d := range tt.at {
				require.Equal(t, tt.allow[i], b.Take(l, t0.Add(d)), "event %d", i)
			}
		})
	}
	var b Bucket
	require.True(t, b.Take(Limit{}, t0), "no limit allows everything")
}

func TestFull(t *testing.T) {
	l := Limit{PerSecond: 1, Burst: 2}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b Bucket
	require.True(t, b.Take(l, t0))
	require.False(t, b.Full(l, t0))
	require.True(t, b.Full(l, t0.Add(time.Second)))
}
