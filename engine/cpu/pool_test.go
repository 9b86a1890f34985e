package cpu

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
)

// TestPoolCoversEveryIndex runs loops of many sizes and grains on pools of
// several sizes and checks each index is visited exactly once, in chunks
// that are multiples of the grain, by valid workers.
func TestPoolCoversEveryIndex(t *testing.T) {
	for _, size := range []int{1, 2, 3, 5} {
		p := newPool(size)
		for _, total := range []int{0, 1, 7, 48, 1000, 4096, 11008} {
			for _, grain := range []int{1, 12, 48, 4096} {
				seen := make([]atomic.Int32, total)
				var bad atomic.Int32
				p.run(total, grain, func(worker, lo, hi int) {
					if worker < 0 || worker >= size || (hi < total && (hi-lo)%grain != 0) || lo >= hi {
						bad.Add(1)
					}
					for i := lo; i < hi; i++ {
						seen[i].Add(1)
					}
				})
				if bad.Load() != 0 {
					t.Fatalf("size %d total %d grain %d: %d bad chunks", size, total, grain, bad.Load())
				}
				for i := range seen {
					if n := seen[i].Load(); n != 1 {
						t.Fatalf("size %d total %d grain %d: index %d visited %d times", size, total, grain, i, n)
					}
				}
			}
		}
		p.close()
	}
}

// TestPoolWakesParkedWorkers lets the workers park between jobs (they spin
// for spinFor first) and checks that jobs still run on all of them.
func TestPoolWakesParkedWorkers(t *testing.T) {
	p := newPool(3)
	defer p.close()
	for round := 0; round < 5; round++ {
		time.Sleep(2 * spinFor)
		var workers [3]atomic.Int32
		p.run(3000, 1, func(worker, lo, hi int) {
			workers[worker].Add(1)
			time.Sleep(10 * time.Microsecond)
		})
		for w := range workers {
			if workers[w].Load() == 0 {
				t.Errorf("round %d: worker %d ran no chunk", round, w)
			}
		}
	}
}

// TestBackendAfterIdle checks that products stay right across pauses long
// enough for every worker (Go or native) to go to sleep.
func TestBackendAfterIdle(t *testing.T) {
	for _, level := range testLevels(t) {
		t.Run(levelName(level), func(t *testing.T) {
			b := newBackend(2, level)
			defer b.Close()
			rng := rand.New(rand.NewPCG(12, 13))
			const rows, cols = 200, 256
			w := make([]byte, rows*gguf.TypeQ4_K.RowBytes(cols))
			quant.RandomBlocks(gguf.TypeQ4_K, w, rng)
			x := randomFloats(rng, 3*cols)
			want := product(t, b, gguf.TypeQ4_K, w, rows, cols, x, 3)
			for i := 0; i < 3; i++ {
				time.Sleep(2 * time.Millisecond)
				if got := product(t, b, gguf.TypeQ4_K, w, rows, cols, x, 3); !equalFloats(got, want) {
					t.Fatalf("after a pause the product changed")
				}
			}
		})
	}
}

func TestDefaultThreads(t *testing.T) {
	n := DefaultThreads()
	if n < 1 {
		t.Fatalf("DefaultThreads() = %d", n)
	}
	if pc := physicalCores(); pc > 0 && n > pc {
		t.Errorf("DefaultThreads() = %d exceeds the %d physical cores", n, pc)
	}
}

// TestThreadsBounded: an absurd thread count (from a flag or a setting) gets
// MaxThreads workers, not an abort in pthread_create.
func TestThreadsBounded(t *testing.T) {
	b := New(100_000)
	defer b.Close()
	if n := b.Threads(); n < 1 || n > MaxThreads {
		t.Errorf("New(100000) has %d threads, want 1..%d", n, MaxThreads)
	}
}
