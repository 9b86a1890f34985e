//go:build linux && cgo

package gl_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
	"github.com/llamadesk/llamadesk/gpu/gl"
	"github.com/llamadesk/llamadesk/gpu/internal/gputest"
)

// BenchmarkDispatch measures the cost of one small dependent dispatch
// (each waits for the previous one's writes), 500 to a flush as in a
// decode token.
func BenchmarkDispatch(b *testing.B) {
	g := newBackend(b, gl.Options{})
	x, y := gputest.Must(g.Alloc(4096)), gputest.Must(g.Alloc(4096))
	out := make([]float32, 1)
	for b.Loop() {
		for range 500 {
			g.Add(x, y, 4096)
		}
		gputest.MustOK(g.Read(out, x))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(500*b.N), "ns/dispatch")
}

// BenchmarkMatMul measures products with a 7B-shaped 4096×4096 weight: one
// token (decode) and a batch of 64 (prompt), reporting weight bytes read
// per second for one token.
func BenchmarkMatMul(b *testing.B) {
	g := newBackend(b, gl.Options{})
	const rows, cols = 4096, 4096
	rng := rand.New(rand.NewPCG(1, 2))
	for _, typ := range []gguf.TensorType{gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ6_K, gguf.TypeQ8_0, gguf.TypeF16} {
		data := make([]byte, rows*typ.RowBytes(cols))
		quant.RandomBlocks(typ, data, rng)
		w, err := g.LoadWeight("w", typ, rows, cols, data)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/n=%d", typ, n), func(b *testing.B) {
				benchMatMul(b, g, w, n, len(data))
			})
		}
	}
}

func benchMatMul(b *testing.B, g engine.Backend, w engine.Weight, n, bytes int) {
	x := gputest.Upload(g, gputest.RandomFloats(rand.New(rand.NewPCG(3, 4)), n*w.Cols(), 1))
	y := gputest.Must(g.Alloc(n * w.Rows()))
	out := make([]float32, 1)
	for b.Loop() {
		g.MatMul(y, w, x, n)
		gputest.MustOK(g.Read(out, y))
	}
	if n == 1 {
		b.SetBytes(int64(bytes))
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
