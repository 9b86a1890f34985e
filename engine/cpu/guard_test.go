//go:build linux || darwin

package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/llamadesk/llamadesk/engine/quant"
)

// guardedBytes returns n bytes that end exactly where an inaccessible page
// begins, as the last tensor of a memory-mapped file may: a kernel that
// reads past its weights crashes the test.
func guardedBytes(t *testing.T, n int) []byte {
	t.Helper()
	page := unix.Getpagesize()
	size := (n + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, size+page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	if err := unix.Mprotect(mem[size:], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	return mem[size-n : size : size]
}

// TestKernelsStayInBounds runs every product with weights that end at a
// guard page, on every level, for row lengths that leave each kind of tail.
func TestKernelsStayInBounds(t *testing.T) {
	for _, level := range testLevels(t) {
		b := newBackend(2, level)
		defer b.Close()
		for _, typ := range productTypes {
			cols := []int{256, 256 * 3, 32 * 9, 32 * 17}
			if typ.BlockSize() == 256 {
				cols = cols[:2]
			}
			if typ.BlockSize() == 1 {
				cols = append(cols, 37)
			}
			for _, c := range cols {
				for _, n := range []int{1, 5} {
					t.Run(fmt.Sprintf("%s/%s/cols=%d/n=%d", levelName(level), typ, c, n), func(t *testing.T) {
						rng := rand.New(rand.NewPCG(uint64(c), uint64(n)))
						rows := 5
						w := guardedBytes(t, rows*typ.RowBytes(c))
						quant.RandomBlocks(typ, w, rng)
						x := randomFloats(rng, n*c)
						got := product(t, b, typ, w, rows, c, x, n)
						want, tol := referenceProduct(t, typ, w, rows, c, x, n)
						for i := range want {
							if d := got[i] - float32(want[i]); !(float64(d) <= tol[i] && float64(-d) <= tol[i]) {
								t.Fatalf("element %d: got %g, want %g", i, got[i], want[i])
							}
						}
					})
				}
			}
		}
	}
}
