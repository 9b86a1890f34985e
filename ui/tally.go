package ui

import "sync"

// tally counts running work and lets a goroutine wait until none is left.
// Unlike sync.WaitGroup, work may start at any time, even while someone
// waits (the bridge starts work for events from goroutines the window
// does not count): Wait returns at a moment when nothing runs.
type tally struct {
	mu   sync.Mutex
	n    int
	zero *sync.Cond
}

// Add counts delta more pieces of work (negative: fewer).
func (t *tally) Add(delta int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n = max(t.n+delta, 0) // more Done than Add is a bug, but not worth a crash
	if t.n == 0 && t.zero != nil {
		t.zero.Broadcast()
	}
}

// Done counts one piece of work as finished.
func (t *tally) Done() { t.Add(-1) }

// Wait blocks until no work is counted.
func (t *tally) Wait() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.zero == nil {
		t.zero = sync.NewCond(&t.mu)
	}
	for t.n > 0 {
		t.zero.Wait()
	}
}
