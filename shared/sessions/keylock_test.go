package sessions

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestKeyLocks(t *testing.T) {
	k := newKeyLocks()
	var inside, most [2]atomic.Int32
	var wg sync.WaitGroup
	for i := range 64 {
		key := []string{"call/a", "session/b"}[i%2]
		wg.Go(func() {
			unlock, err := k.lock(context.Background(), key)
			if err != nil {
				t.Error(err)
				return
			}
			defer unlock()
			n := inside[i%2].Add(1)
			for {
				m := most[i%2].Load()
				if n <= m || most[i%2].CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inside[i%2].Add(-1)
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), most[0].Load(), "one holder at a time per key")
	require.Equal(t, int32(1), most[1].Load(), "one holder at a time per key")
	require.Empty(t, k.m, "released keys are forgotten")
}

func TestKeyLocksContext(t *testing.T) {
	k := newKeyLocks()
	unlock, err := k.lock(context.Background(), "session/a")
	require.NoError(t, err)

	// Another key is free while this one is held.
	other, err := k.lock(context.Background(), "session/b")
	require.NoError(t, err)
	other()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = k.lock(ctx, "session/a")
	require.ErrorIs(t, err, context.DeadlineExceeded, "a queued caller gives up with its context")

	unlock()
	again, err := k.lock(context.Background(), "session/a")
	require.NoError(t, err, "free again once released")
	again()
	require.Empty(t, k.m)
}
