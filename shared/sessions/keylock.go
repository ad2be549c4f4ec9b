package sessions

import "sync"

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
	mu   sync.Mutex
	refs int // guarded by keyLocks.mu
}

func newKeyLocks() *keyLocks { return &keyLocks{m: map[string]*keyLock{}} }

// lock takes the key's lock and returns its release.
func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	l, ok := k.m[key]
	if !ok {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()

	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
