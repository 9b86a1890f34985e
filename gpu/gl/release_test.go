//go:build linux && cgo

package gl

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
)

// TestRelease checks that buffers, caches and weights whose Go objects are
// collected are deleted on the GPU (at the next flush): the engine never
// frees them explicitly, and the app makes a new state per conversation.
func TestRelease(t *testing.T) {
	b, err := New(Options{})
	if errors.Is(err, ErrUnavailable) && os.Getenv("CI") != "true" {
		t.Skipf("no OpenGL 4.3 compute context: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	keep := must(b.Alloc(4))
	out := make([]float32, 1)
	mustOK(b.Read(out, keep))
	base := b.live
	func() {
		for range 10 {
			_ = must(b.Alloc(1 << 16))
			if _, err := b.AllocKV(64, 256, engine.KVF32); err != nil {
				t.Fatal(err)
			}
			if _, err := b.LoadWeight("w", gguf.TypeF32, 8, 32, make([]byte, 8*32*4)); err != nil {
				t.Fatal(err)
			}
		}
	}()
	if b.live != base+10*(1+2+1) {
		t.Fatalf("%d buffers alive after allocating 40 more than %d", b.live, base)
	}
	for deadline := time.Now().Add(5 * time.Second); b.live > base && time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		mustOK(b.Read(out, keep))
	}
	if b.live != base {
		t.Errorf("%d buffers alive after collection, want %d", b.live, base)
	}
}
