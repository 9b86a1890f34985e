package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
)

// TestInterrupt: an interrupted backend skips the row chunks of a product
// (so that Stop takes effect within a fraction of a layer), and computes
// them all again after ResetInterrupt. Checked on every pool: the portable
// kernels' Go pool, the native kernels' C pool, alone and with workers.
func TestInterrupt(t *testing.T) {
	var _ engine.Interruptible = (*Backend)(nil)
	for _, level := range testLevels(t) {
		for _, threads := range []int{1, 2} {
			t.Run(levelName(level), func(t *testing.T) {
				b := newBackend(threads, level)
				defer b.Close()
				const rows, cols = 4096, 256
				w := make([]byte, rows*gguf.TypeQ8_0.RowBytes(cols))
				quant.RandomBlocks(gguf.TypeQ8_0, w, rand.New(rand.NewPCG(3, 4)))
				wt, err := b.LoadWeight("w", gguf.TypeQ8_0, rows, cols, w)
				if err != nil {
					t.Fatal(err)
				}
				x, dst := must(b.Alloc(cols)), must(b.Alloc(rows))
				b.Write(x, randomFloats(rand.New(rand.NewPCG(5, 6)), cols))
				computed := func() int {
					out := make([]float32, rows)
					mustOK(b.Read(out, dst))
					n := 0
					for _, v := range out {
						if !math.IsNaN(float64(v)) {
							n++
						}
					}
					return n
				}
				nan := make([]float32, rows)
				for i := range nan {
					nan[i] = float32(math.NaN())
				}
				b.Write(dst, nan)
				b.Interrupt()
				b.MatMul(dst, wt, x, 1)
				if n := computed(); n == rows {
					t.Fatalf("interrupted product computed all %d rows", n)
				}
				b.ResetInterrupt()
				b.Write(dst, nan)
				b.MatMul(dst, wt, x, 1)
				if n := computed(); n != rows {
					t.Fatalf("after ResetInterrupt %d of %d rows computed", n, rows)
				}
			})
		}
	}
}
