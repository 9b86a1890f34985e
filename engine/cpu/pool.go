package cpu

import (
	"sync"
	"sync/atomic"
)

// pool is a fixed set of worker goroutines that split loops between them.
// The calling goroutine takes part as one of the workers, so a pool of size
// n starts n-1 goroutines.
type pool struct {
	size  int
	wake  []chan *job
	close func()
}

// job is one parallel loop: chunks of [0,total) handed out through next.
type job struct {
	fn    func(lo, hi int)
	total int
	chunk int
	next  atomic.Int64
	wg    sync.WaitGroup
}

func newPool(size int) *pool {
	p := &pool{size: size}
	quit := make(chan struct{})
	for i := 1; i < size; i++ {
		ch := make(chan *job, 1)
		p.wake = append(p.wake, ch)
		go func() {
			for {
				select {
				case j := <-ch:
					j.work()
					j.wg.Done()
				case <-quit:
					return
				}
			}
		}()
	}
	var once sync.Once
	p.close = func() { once.Do(func() { close(quit) }) }
	return p
}

func (j *job) work() {
	for {
		lo := int(j.next.Add(int64(j.chunk))) - j.chunk
		if lo >= j.total {
			return
		}
		j.fn(lo, min(lo+j.chunk, j.total))
	}
}

// run calls fn over [0,total) in chunks of at least grain items, spread over
// the workers, and returns when all chunks are done.
func (p *pool) run(total, grain int, fn func(lo, hi int)) {
	if total <= 0 {
		return
	}
	grain = max(grain, 1)
	workers := min(p.size, (total+grain-1)/grain)
	if workers <= 1 {
		fn(0, total)
		return
	}
	// About four chunks per worker balances uneven rows without much overhead.
	chunk := max(grain, (total+4*workers-1)/(4*workers))
	j := &job{fn: fn, total: total, chunk: chunk}
	j.wg.Add(workers - 1)
	for i := 0; i < workers-1; i++ {
		p.wake[i] <- j
	}
	j.work()
	j.wg.Wait()
}
