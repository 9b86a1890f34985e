package gputest

import (
	"math/rand/v2"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
	"github.com/llamadesk/llamadesk/gpu/compute"
)

// LargeWeight multiplies by a 7B-shaped output matrix (32000×4096 in
// F16: 250 MiB, more than llvmpipe's 128 MiB storage blocks, so it is split
// into chunks at the driver's own limit) and compares with the CPU backend.
func (s Suite) LargeWeight(t *testing.T) {
	if testing.Short() {
		t.Skip("large weight: skipped in -short mode")
	}
	g, c := s.open(t, compute.Options{}), newCPU(t)
	const rows, cols = 32000, 4096
	typ := gguf.TypeF16
	rng := rand.New(rand.NewPCG(21, 22))
	data := make([]byte, rows*typ.RowBytes(cols))
	quant.RandomBlocks(typ, data, rng)
	gw, err := g.LoadWeight("output.weight", typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	cw, err := c.LoadWeight("output.weight", typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 3} {
		x := RandomFloats(rng, n*cols, 1)
		gy, cy := Must(g.Alloc(n*rows)), Must(c.Alloc(n*rows))
		g.MatMul(gy, gw, Upload(g, x), n)
		c.MatMul(cy, cw, Upload(c, x), n)
		closeTo(t, "output", download(g, gy, n*rows), download(c, cy, n*rows), 1e-3, 1e-4)
	}
}
