//go:build linux || darwin

package cpu

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// cacheBytes returns n zeroed bytes for a KV cache, mapped from the
// operating system outside Go's heap, and unmaps them once owner is
// unreachable. A cache in the heap would count as live data to the
// garbage collector, which lets garbage grow to the heap's live size
// before it collects: with a 2 GiB cache, up to 2 GiB of each token's
// discarded logits would stay resident over a long chat. Pages are only
// resident once written, as with a heap allocation.
func cacheBytes[T any](owner *T, n int64) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if int64(int(n)) != n {
		return nil, fmt.Errorf("cpu: a KV cache of %d bytes does not fit in this address space", n)
	}
	mem, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("cpu: mapping a KV cache of %d bytes: %w", n, err)
	}
	runtime.AddCleanup(owner, func(mem []byte) { _ = unix.Munmap(mem) }, mem)
	return mem, nil
}
