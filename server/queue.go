package server

import (
	"context"
	"errors"
	"sync"
)

// errQueueFull is returned by fairQueue.acquire when too many requests wait.
var errQueueFull = errors.New("too many requests are waiting")

// fairQueue hands out one slot (the engine) to one request at a time. Waiting
// requests are served round-robin across clients, and in arrival order
// within a client, so that a client sending many requests at once cannot
// starve the others. A waiter whose context ends leaves the queue.
type fairQueue struct {
	mu      sync.Mutex
	busy    bool
	limit   int // most waiters (0: no limit)
	waiters int
	// rotation lists the clients with waiters, the next to be served first.
	rotation []string
	pending  map[string][]*waiter
}

type waiter struct {
	ready   chan struct{}
	granted bool
}

func newFairQueue(limit int) *fairQueue {
	return &fairQueue{limit: limit, pending: map[string][]*waiter{}}
}

// acquire waits for the slot on behalf of client and returns the function
// that gives it back. It fails with ctx's error when ctx ends first, or
// errQueueFull when the queue holds its limit.
func (q *fairQueue) acquire(ctx context.Context, client string) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	if !q.busy && q.waiters == 0 {
		q.busy = true
		q.mu.Unlock()
		return q.releaser(), nil
	}
	if q.limit > 0 && q.waiters >= q.limit {
		q.mu.Unlock()
		return nil, errQueueFull
	}
	w := &waiter{ready: make(chan struct{})}
	if len(q.pending[client]) == 0 {
		q.rotation = append(q.rotation, client)
	}
	q.pending[client] = append(q.pending[client], w)
	q.waiters++
	q.mu.Unlock()

	select {
	case <-w.ready:
		return q.releaser(), nil
	case <-ctx.Done():
		q.mu.Lock()
		if w.granted {
			// Granted while leaving: pass the slot on.
			q.mu.Unlock()
			q.releaser()()
			return nil, ctx.Err()
		}
		q.remove(client, w)
		q.mu.Unlock()
		return nil, ctx.Err()
	}
}

// releaser returns a function that gives the slot back once.
func (q *fairQueue) releaser() func() {
	var once sync.Once
	return func() { once.Do(q.release) }
}

// release hands the slot to the next waiter, round-robin across clients.
func (q *fairQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.rotation) == 0 {
		q.busy = false
		return
	}
	client := q.rotation[0]
	q.rotation = q.rotation[1:]
	ws := q.pending[client]
	w := ws[0]
	if len(ws) > 1 {
		q.pending[client] = ws[1:]
		q.rotation = append(q.rotation, client)
	} else {
		delete(q.pending, client)
	}
	q.waiters--
	w.granted = true
	close(w.ready)
}

// remove takes a waiter that gave up out of the queue. q.mu is held.
func (q *fairQueue) remove(client string, w *waiter) {
	ws := q.pending[client]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			q.waiters--
			break
		}
	}
	if len(ws) > 0 {
		q.pending[client] = ws
		return
	}
	delete(q.pending, client)
	for i, c := range q.rotation {
		if c == client {
			q.rotation = append(q.rotation[:i:i], q.rotation[i+1:]...)
			break
		}
	}
}

// waiting returns how many requests wait for the slot.
func (q *fairQueue) waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiters
}
