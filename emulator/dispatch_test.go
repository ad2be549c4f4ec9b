package emulator

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recorder is a send func that records the order of deliveries and fails
// the first failFirst attempts of each item.
type recorder struct {
	mu        sync.Mutex
	order     []int
	attempts  map[int]int
	failFirst int
	inFlight  atomic.Int32
	maxFlight atomic.Int32
}

func (r *recorder) send(item int, hold time.Duration) func(context.Context, int) error {
	return func(ctx context.Context, attempt int) error {
		n := r.inFlight.Add(1)
		defer r.inFlight.Add(-1)
		for {
			m := r.maxFlight.Load()
			if n <= m || r.maxFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(hold)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.attempts[item]++
		if r.attempts[item] <= r.failFirst {
			return errors.New("injected failure")
		}
		r.order = append(r.order, item)
		return nil
	}
}

func TestDispatcherFaults(t *testing.T) {
	const n = 40
	tests := []struct {
		name   string
		faults Faults
		fail   int
		retry  bool // the function is declared with Retry
		check  func(t *testing.T, r *recorder, s DeliveryStats)
	}{
		{"defaults deliver once, in arrival order", Faults{}, 0, false, func(t *testing.T, r *recorder, s DeliveryStats) {
			require.Len(t, r.order, n)
			for i, item := range r.order {
				require.Equal(t, i, item)
			}
			require.EqualValues(t, 1, r.maxFlight.Load())
		}},
		{"every delivery duplicated", Faults{DuplicateRate: 1, Seed: 1}, 0, false, func(t *testing.T, r *recorder, s DeliveryStats) {
			require.Len(t, r.order, 2*n)
			require.EqualValues(t, n, s.Duplicated)
		}},
		{"every delivery three times", Faults{Copies: 3}, 0, false, func(t *testing.T, r *recorder, s DeliveryStats) {
			require.Len(t, r.order, 3*n)
			require.EqualValues(t, 2*n, s.Duplicated)
		}},
		{"reorder window shuffles", Faults{ReorderWindow: 50 * time.Millisecond, Seed: 7}, 0, false, func(t *testing.T, r *recorder, s DeliveryStats) {
			require.Len(t, r.order, n)
			inOrder := true
			for i, item := range r.order {
				inOrder = inOrder && i == item
			}
			require.False(t, inOrder, "40 items released in arrival order")
		}},
		{"concurrent delivery", Faults{Concurrency: 8}, 0, false, func(t *testing.T, r *recorder, s DeliveryStats) {
			require.Len(t, r.order, n)
			require.Greater(t, r.maxFlight.Load(), int32(1))
		}},
		{"retries until success", Faults{MaxAttempts: 3, Concurrency: n}, 2, true, func(t *testing.T, r *recorder, s DeliveryStats) {
			require.Len(t, r.order, n)
			require.EqualValues(t, 3*n, s.Attempts)
			require.EqualValues(t, n, s.Succeeded)
		}},
		{"gives up after MaxAttempts", Faults{MaxAttempts: 2, Concurrency: n}, 5, true, func(t *testing.T, r *recorder, s DeliveryStats) {
			require.Empty(t, r.order)
			require.EqualValues(t, n, s.Failed)
		}},
		{"a function with Retry is retried by default, with back-off", Faults{Concurrency: n}, 2, true, func(t *testing.T, r *recorder, s DeliveryStats) {
			require.Len(t, r.order, n)
			require.EqualValues(t, 3*n, s.Attempts)
			require.EqualValues(t, n, s.Succeeded)
			require.Zero(t, s.Failed)
		}},
		{"a function without Retry gets one attempt", Faults{MaxAttempts: 5, Concurrency: n}, 1, false, func(t *testing.T, r *recorder, s DeliveryStats) {
			require.Empty(t, r.order)
			require.EqualValues(t, n, s.Attempts)
			require.EqualValues(t, n, s.Failed)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDispatcher(tt.faults)
			defer d.close()
			r := &recorder{attempts: map[int]int{}, failFirst: tt.fail}
			hold := time.Duration(0)
			if tt.faults.Concurrency > 1 && tt.fail == 0 {
				hold = 5 * time.Millisecond
			}
			for i := range n {
				d.enqueue(delivery{function: "f", retry: tt.retry, send: r.send(i, hold)})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, d.wait(ctx))
			s := d.Stats()
			require.EqualValues(t, n, s.Received)
			tt.check(t, r, s)
		})
	}
}
