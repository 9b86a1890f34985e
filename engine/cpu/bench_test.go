package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
)

// BenchmarkMatMul measures one product of a 4096×4096 weight (a 7B
// attention matrix) with 1 token (generation) and 64 tokens (prompt
// processing), on every kernel level this CPU runs, with one thread and
// with the default thread count. Bytes/s counts weight bytes; the GMAC/s
// metric counts multiply-adds.
func BenchmarkMatMul(b *testing.B) {
	const rows, cols = 4096, 4096
	levels := supportedLevels()
	if len(levels) == 0 {
		levels = []int{levelGeneric}
	}
	for _, level := range levels {
		for _, threads := range []int{1, DefaultThreads()} {
			be := newBackend(threads, level)
			for _, typ := range productTypes {
				for _, n := range []int{1, 64} {
					name := fmt.Sprintf("%s/threads=%d/%s/n=%d", levelName(level), threads, typ, n)
					b.Run(name, func(b *testing.B) { benchProduct(b, be, typ, rows, cols, n) })
				}
			}
			be.Close()
		}
	}
}

func benchProduct(b *testing.B, be *Backend, typ gguf.TensorType, rows, cols, n int) {
	rng := rand.New(rand.NewPCG(1, uint64(typ)))
	w := make([]byte, rows*typ.RowBytes(cols))
	quant.RandomBlocks(typ, w, rng)
	wt, err := be.LoadWeight("w", typ, rows, cols, w)
	if err != nil {
		b.Fatal(err)
	}
	xb, dst := must(be.Alloc(n*cols)), must(be.Alloc(n*rows))
	be.Write(xb, randomFloats(rng, n*cols))
	b.SetBytes(int64(len(w)))
	for b.Loop() {
		written(xb) // quantize the input every time, as a fresh activation would be
		be.MatMul(dst, wt, xb, n)
	}
	b.ReportMetric(float64(rows)*float64(cols)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}

// BenchmarkAttention measures attention with 7B's 32 heads of 128 for
// each KV cache type: a batch of 512 new tokens after 1,536 cached
// positions (prompt processing at depth) and 1 token after 2,047
// (generation at depth). The GFLOP/s metric counts the causal q·k and p·v
// multiply-adds as 2 operations each.
func BenchmarkAttention(b *testing.B) {
	for _, typ := range engine.KVTypes() {
		for _, s := range []struct{ tokens, start int }{{512, 1536}, {1, 2047}} {
			b.Run(fmt.Sprintf("%s/tokens=%d/start=%d", typ, s.tokens, s.start), func(b *testing.B) {
				be := New(0)
				defer be.Close()
				const heads, hd = 32, 128
				rng := rand.New(rand.NewPCG(2, 3))
				cache, err := be.AllocKV(s.start+s.tokens, heads*hd, typ)
				if err != nil {
					b.Fatal(err)
				}
				p := engine.AttentionParams{Tokens: s.start, StartPos: 0, Heads: heads, KVHeads: heads, HeadDim: hd}
				q, k, v, out := must(be.Alloc(s.start*heads*hd)), must(be.Alloc(s.start*heads*hd)), must(be.Alloc(s.start*heads*hd)), must(be.Alloc(s.start*heads*hd))
				be.Write(q, randomFloats(rng, s.start*heads*hd))
				be.Write(k, randomFloats(rng, s.start*heads*hd))
				be.Write(v, randomFloats(rng, s.start*heads*hd))
				be.Attention(out, q, k, v, cache, p) // fill the cache
				p.Tokens, p.StartPos = s.tokens, s.start
				for b.Loop() {
					be.Attention(out, q, k, v, cache, p)
				}
				pairs := float64(s.tokens) * (float64(s.start) + float64(s.tokens+1)/2)
				b.ReportMetric(pairs*heads*hd*4*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkGenerationStream measures matrix-vector products over weights
// far larger than the caches (eight 11008×4096 matrices in turn, as 7B
// feed-forward blocks stream them, or 24 of 4096×4096), the memory-bound
// case of generation.
func BenchmarkGenerationStream(b *testing.B) {
	const cols = 4096
	for _, typ := range []gguf.TensorType{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		for _, shape := range []struct{ rows, mats int }{{11008, 8}, {4096, 24}} {
			rows, mats := shape.rows, shape.mats
			for _, threads := range []int{1, DefaultThreads()} {
				b.Run(fmt.Sprintf("%s/rows=%d/threads=%d", typ, rows, threads), func(b *testing.B) {
					be := New(threads)
					defer be.Close()
					rng := rand.New(rand.NewPCG(4, uint64(typ)))
					var ws []engine.Weight
					total := 0
					for i := 0; i < mats; i++ {
						w := make([]byte, rows*typ.RowBytes(cols))
						quant.RandomBlocks(typ, w, rng)
						wt, err := be.LoadWeight("w", typ, rows, cols, w)
						if err != nil {
							b.Fatal(err)
						}
						ws = append(ws, wt)
						total += len(w)
					}
					xb, dst := must(be.Alloc(cols)), must(be.Alloc(rows))
					be.Write(xb, randomFloats(rng, cols))
					b.SetBytes(int64(total))
					for b.Loop() {
						for _, wt := range ws {
							be.MatMul(dst, wt, xb, 1)
						}
					}
				})
			}
		}
	}
}
