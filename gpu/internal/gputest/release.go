package gputest

import (
	"runtime"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/gpu/compute"
)

// Release checks that buffers, caches and weights whose Go objects are
// collected are deleted on the GPU (at the next flush): the engine never
// frees them explicitly, and the app makes a new state per conversation.
func (s Suite) Release(t *testing.T) {
	b := s.open(t, compute.Options{})
	keep := Must(b.Alloc(4))
	out := make([]float32, 1)
	MustOK(b.Read(out, keep))
	base := b.MemoryUsed()
	func() {
		for range 10 {
			_ = Must(b.Alloc(1 << 16))
			if _, err := b.AllocKV(64, 256, engine.KVF32); err != nil {
				t.Fatal(err)
			}
			if _, err := b.LoadWeight("w", gguf.TypeF32, 8, 32, make([]byte, 8*32*4)); err != nil {
				t.Fatal(err)
			}
		}
	}()
	const each = 1<<16*4 + 2*64*256*4 + 8*32*4
	if got := b.MemoryUsed(); got != base+10*each {
		t.Fatalf("%d bytes in use after allocating %d more than %d", got, 10*each, base)
	}
	for deadline := time.Now().Add(5 * time.Second); b.MemoryUsed() > base && time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		MustOK(b.Read(out, keep))
	}
	if got := b.MemoryUsed(); got != base {
		t.Errorf("%d bytes in use after collection, want %d", got, base)
	}
}
