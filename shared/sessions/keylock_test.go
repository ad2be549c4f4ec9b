package sessions

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeyLocks(t *testing.T) {
	k := newKeyLocks()
	var inside [2]atomic.Int32
	var most [2]atomic.Int32
	var wg sync.WaitGroup
	for i := range 64 {
		key := []string{"call/a", "session/b"}[i%2]
		wg.Go(func() {
			unlock := k.lock(key)
			defer unlock()
			n := inside[i%2].Add(1)
			for {
				m := most[i%2].Load()
				if n <= m || most[i%2].CompareAndSwap(m, n) {
					break
				}
			}
			inside[i%2].Add(-1)
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), most[0].Load(), "one holder at a time per key")
	require.Equal(t, int32(1), most[1].Load(), "one holder at a time per key")
	require.Empty(t, k.m, "released keys are forgotten")
}
