package sessions

import (
	"context"
	"sync"
)

// keyLocks serialises, within this process, the transactions that would
// contend on one document (a call's marker, a session): twenty members
// tapping "start" at once then queue here rather than in Firestore, whose
// server SDK transactions lock pessimistically, so that simultaneous
// read-then-write transactions deadlock until the lock times out and all
// but one are aborted and retried. Correctness never depends on it: the
// transactions still decide across processes.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	held chan struct{} // a token while someone holds the key
	refs int           // guarded by keyLocks.mu
}

func newKeyLocks() *keyLocks { return &keyLocks{m: map[string]*keyLock{}} }

// lock takes the key's lock and returns its release, or fails with the
// context's error: a caller whose deadline passes while queued gives up
// rather than run a transaction nobody waits for.
func (k *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	l, ok := k.m[key]
	if !ok {
		l = &keyLock{held: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()

	release := func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.held <- struct{}{}:
		return func() { <-l.held; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
