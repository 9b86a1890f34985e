package cpu

import (
	"runtime"
	"sync/atomic"
	"time"
)

// spinFor is how long an idle worker polls for the next job before it
// parks. Layers issue jobs microseconds apart, so a worker that has just
// finished one almost always finds the next while spinning; parking (and
// waking through the scheduler) costs tens of microseconds.
const spinFor = 200 * time.Microsecond

// pool is a persistent set of worker goroutines that split loops between
// them. The calling goroutine takes part as worker 0, so a pool of size n
// starts n-1 goroutines. Workers spin briefly between jobs, then park on a
// channel until the next one. A pool is used by one goroutine at a time.
type pool struct {
	size    int
	workers []*poolWorker
	gen     atomic.Uint64 // generation of the published job
	quit    atomic.Bool
	stop    atomic.Bool // set: jobs skip the chunks they have not started
	cur     job         // the one job in flight (reused; run waits for every worker)
}

// poolWorker is the parking state of one worker goroutine.
type poolWorker struct {
	parked atomic.Bool
	wake   chan struct{} // capacity 1: one wake token
}

// job is one parallel loop: chunks of [0,total) handed out through next.
type job struct {
	fn      func(worker, lo, hi int)
	total   int
	chunk   int
	next    atomic.Int64
	pending atomic.Int32 // helper workers that have not finished
}

func newPool(size int) *pool {
	p := &pool{size: max(size, 1)}
	for i := 1; i < p.size; i++ {
		w := &poolWorker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go p.loop(i, w)
	}
	return p
}

// loop is the body of helper worker id.
func (p *pool) loop(id int, w *poolWorker) {
	var seen uint64
	for {
		g := p.gen.Load()
		if g == seen {
			g = p.wait(w, seen)
		}
		if p.quit.Load() {
			return
		}
		seen = g
		p.cur.work(id, &p.stop)
		p.cur.pending.Add(-1)
	}
}

// wait returns once the generation moves past seen or the pool closes:
// it spins for spinFor, then parks until run or close wakes it.
func (p *pool) wait(w *poolWorker, seen uint64) uint64 {
	start := time.Now()
	for spins := 1; ; spins++ {
		if g := p.gen.Load(); g != seen || p.quit.Load() {
			return g
		}
		if spins%256 != 0 {
			continue
		}
		if spins%4096 == 0 {
			runtime.Gosched() // let other goroutines run if Ps are short
		}
		if time.Since(start) < spinFor {
			continue
		}
		w.parked.Store(true)
		if g := p.gen.Load(); g != seen || p.quit.Load() {
			if !w.parked.CompareAndSwap(true, false) {
				<-w.wake // a waker took the flag: its token is on the way
			}
			return g
		}
		<-w.wake
		start = time.Now()
	}
}

// wakeAll wakes the parked workers.
func (p *pool) wakeAll() {
	for _, w := range p.workers {
		if w.parked.CompareAndSwap(true, false) {
			w.wake <- struct{}{}
		}
	}
}

func (j *job) work(worker int, stop *atomic.Bool) {
	for {
		if stop.Load() {
			return
		}
		lo := int(j.next.Add(int64(j.chunk))) - j.chunk
		if lo >= j.total {
			return
		}
		j.fn(worker, lo, min(lo+j.chunk, j.total))
	}
}

// run calls fn over [0,total) in chunks whose size is a multiple of grain
// (except the last), spread over the workers, and returns when all chunks
// are done. fn receives the index of the worker running it (0..size-1), so
// it can use per-worker scratch memory.
func (p *pool) run(total, grain int, fn func(worker, lo, hi int)) {
	if total <= 0 {
		return
	}
	grain = max(grain, 1)
	// About four chunks per worker balances uneven work without much overhead.
	chunk := (total + 4*p.size - 1) / (4 * p.size)
	chunk = (chunk + grain - 1) / grain * grain
	if p.size == 1 || total <= grain {
		// Alone: still in chunks, so that a stop takes effect between them.
		for lo := 0; lo < total && !p.stop.Load(); lo += chunk {
			fn(0, lo, min(lo+chunk, total))
		}
		return
	}
	j := &p.cur
	j.fn, j.total, j.chunk = fn, total, chunk
	j.next.Store(0)
	j.pending.Store(int32(p.size - 1))
	p.gen.Add(1)
	p.wakeAll()
	j.work(0, &p.stop)
	for spins := 1; j.pending.Load() != 0; spins++ {
		if spins%4096 == 0 {
			runtime.Gosched()
		}
	}
	j.fn = nil
}

// close stops the workers; the pool must not be used afterwards.
func (p *pool) close() {
	if p.quit.Swap(true) {
		return
	}
	p.gen.Add(1)
	for _, w := range p.workers {
		if w.parked.CompareAndSwap(true, false) {
			w.wake <- struct{}{}
		}
	}
}
