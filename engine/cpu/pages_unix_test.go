//go:build linux || darwin

package cpu

import (
	"runtime"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
)

// TestKVCacheOutsideHeap: a KV cache is not Go heap, so the garbage
// collector does not let garbage grow to its size before collecting.
func TestKVCacheOutsideHeap(t *testing.T) {
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	b := New(1)
	defer b.Close()
	for _, typ := range []engine.KVType{engine.KVF16, engine.KVF32, engine.KVQ8_0} {
		before := heap()
		cache, err := b.AllocKV(16384, 4096, typ) // 136 MiB (q8_0) to 512 MiB (f32)
		if err != nil {
			t.Fatal(err)
		}
		c := cache.(*kvCache)
		c.k[len(c.k)-1], c.v[0] = 1, 2 // both ends are writable
		if grown := int64(heap()) - int64(before); grown > 16<<20 {
			t.Errorf("%s: a cache of %d MiB grew the Go heap by %d MiB", typ, (len(c.k)+len(c.v))>>20, grown>>20)
		}
		runtime.KeepAlive(c)
	}
}
