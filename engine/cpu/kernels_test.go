// Why one long file: every native kernel against its Go reference, with
// the shared random-tensor helpers; one file keeps each pair side by side.

package cpu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
)

// productTypes are the weight types with a matrix product.
var productTypes = []gguf.TensorType{
	gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16,
	gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ8_0,
	gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K,
}

// testLevels returns the native levels this machine runs plus the portable
// Go kernels; the test fails where a native build finds no native level.
func testLevels(t *testing.T) []int {
	t.Helper()
	levels := supportedLevels()
	if nativeBuilt && len(levels) == 0 {
		t.Logf("no native kernel level runs on this CPU; testing the portable kernels only")
	}
	return append([]int{levelGeneric}, levels...)
}

func randomFloats(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 2*rng.Float32() - 1
	}
	return x
}

// referenceProduct computes dst[t][r] with quant's reference quantizer and
// dot product, and a bound on the rounding error of any summation order:
// the sum of |w·x| over the row times a small relative error.
func referenceProduct(t *testing.T, typ gguf.TensorType, w []byte, rows, cols int, x []float32, n int) (want, tol []float64) {
	t.Helper()
	vt := quant.VecDotType(typ)
	rb, xb := typ.RowBytes(cols), vt.RowBytes(cols)
	xq := make([]byte, xb)
	wf := make([]float32, cols)
	xf := make([]float32, cols)
	want = make([]float64, n*rows)
	tol = make([]float64, n*rows)
	for tk := 0; tk < n; tk++ {
		if err := quant.Quantize(vt, x[tk*cols:(tk+1)*cols], xq); err != nil {
			t.Fatal(err)
		}
		if err := quant.Dequantize(vt, xq, xf); err != nil {
			t.Fatal(err)
		}
		for r := 0; r < rows; r++ {
			row := w[r*rb : (r+1)*rb]
			want[tk*rows+r] = float64(quant.VecDot(typ, cols, row, xq))
			if err := quant.Dequantize(typ, row, wf); err != nil {
				t.Fatal(err)
			}
			var abs float64
			for i := range wf {
				abs += math.Abs(float64(wf[i]) * float64(xf[i]))
			}
			tol[tk*rows+r] = 2e-6*abs + 1e-6
		}
	}
	return want, tol
}

func TestMatMulMatchesReference(t *testing.T) {
	type shape struct{ rows, cols, n int }
	for _, level := range testLevels(t) {
		b := newBackend(3, level)
		defer b.Close()
		for _, typ := range productTypes {
			var colsList []int
			switch {
			case typ.BlockSize() == 256:
				colsList = []int{256, 768}
			case typ.BlockSize() == 32:
				colsList = []int{32, 288}
			default:
				colsList = []int{37, 64}
			}
			for _, cols := range colsList {
				for _, s := range []shape{{1, cols, 1}, {7, cols, 3}, {30, cols, 1}, {30, cols, 6}, {13, cols, 70}, {1000, cols, 1}, {250, cols, 5}} {
					name := fmt.Sprintf("%s/%s/%dx%d/n=%d", levelName(level), typ, s.rows, s.cols, s.n)
					t.Run(name, func(t *testing.T) {
						rng := rand.New(rand.NewPCG(uint64(typ), uint64(s.rows*1000+s.n)))
						w := make([]byte, s.rows*typ.RowBytes(s.cols))
						quant.RandomBlocks(typ, w, rng)
						x := randomFloats(rng, s.n*s.cols)
						got := product(t, b, typ, w, s.rows, s.cols, x, s.n)
						want, tol := referenceProduct(t, typ, w, s.rows, s.cols, x, s.n)
						for i := range want {
							if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol[i]) {
								t.Fatalf("token %d row %d: got %g, want %g (diff %g > %g)", i/s.rows, i%s.rows, got[i], want[i], d, tol[i])
							}
						}
					})
				}
			}
		}
	}
}

// product runs one MatMul on a backend.
func product(t *testing.T, b *Backend, typ gguf.TensorType, w []byte, rows, cols int, x []float32, n int) []float32 {
	t.Helper()
	wt, err := b.LoadWeight("w", typ, rows, cols, w)
	if err != nil {
		t.Fatal(err)
	}
	xb := must(b.Alloc(n * cols))
	b.Write(xb, x)
	dst := must(b.Alloc(n * rows))
	b.MatMul(dst, wt, xb, n)
	got := make([]float32, n*rows)
	mustOK(b.Read(got, dst))
	return got
}

// TestQuantizedActivationsReused checks that the quantized copy of an input
// is reused while the buffer is unchanged and redone after any write.
func TestQuantizedActivationsReused(t *testing.T) {
	for _, level := range testLevels(t)[1:] {
		t.Run(levelName(level), func(t *testing.T) {
			b := newBackend(2, level)
			defer b.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			const rows, cols = 8, 256
			w := make([]byte, rows*gguf.TypeQ4_K.RowBytes(cols))
			quant.RandomBlocks(gguf.TypeQ4_K, w, rng)
			wt, err := b.LoadWeight("w", gguf.TypeQ4_K, rows, cols, w)
			if err != nil {
				t.Fatal(err)
			}
			xb, dst := must(b.Alloc(cols)), must(b.Alloc(rows))
			run := func() []float32 {
				b.MatMul(dst, wt, xb, 1)
				out := make([]float32, rows)
				mustOK(b.Read(out, dst))
				return out
			}
			b.Write(xb, randomFloats(rng, cols))
			first := run()
			if again := run(); !equalFloats(first, again) {
				t.Fatalf("same input, different results: %v vs %v", first, again)
			}
			// Every operation that writes the input must invalidate its quantized copy.
			writes := map[string]func(){
				"Write": func() { b.Write(xb, randomFloats(rng, cols)) },
				"Copy": func() {
					src := must(b.Alloc(cols))
					b.Write(src, randomFloats(rng, cols))
					b.Copy(xb, 0, src, 0, cols)
				},
				"Add": func() {
					src := must(b.Alloc(cols))
					b.Write(src, randomFloats(rng, cols))
					b.Add(xb, src, cols)
				},
				"SwiGLU": func() {
					g, u := must(b.Alloc(cols)), must(b.Alloc(cols))
					b.Write(g, randomFloats(rng, cols))
					b.Write(u, randomFloats(rng, cols))
					b.SwiGLU(xb, g, u, cols)
				},
			}
			for name, write := range writes {
				before := run()
				write()
				want := product(t, b, gguf.TypeQ4_K, w, rows, cols, readAll(b, xb), 1)
				if got := run(); equalFloats(got, before) || !equalFloats(got, want) {
					t.Errorf("after %s: got %v, want %v (before %v)", name, got, want, before)
				}
			}
		})
	}
}

func readAll(b *Backend, x engine.Buffer) []float32 {
	out := make([]float32, x.Len())
	mustOK(b.Read(out, x))
	return out
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestNativeQuantizeMatchesReference compares the native activation
// quantizers with quant.Quantize bit for bit (quants, scales, sums).
func TestNativeQuantizeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rows := [][]float32{randomFloats(rng, 512), make([]float32, 512)}
	// Ties at .5 after scaling (C's roundf rounds them away from zero),
	// a negative extreme, and a subnormal scale.
	ties := make([]float32, 512)
	for i := range ties {
		ties[i] = float32(i%255-127) + 0.5*float32(i%2)
	}
	ties[0] = 127
	ties[256] = -127
	tiny := make([]float32, 512)
	for i := range tiny {
		tiny[i] = float32(i%7-3) * 1e-41
	}
	big := randomFloats(rng, 512)
	for i := range big {
		big[i] *= 1e30
	}
	rows = append(rows, ties, tiny, big)
	for _, level := range supportedLevels() {
		for _, typ := range []gguf.TensorType{gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ8_0, gguf.TypeQ4_1, gguf.TypeQ4_K, gguf.TypeF16, gguf.TypeBF16, gguf.TypeF32} {
			kind, off := nativeActKind(typ), nativeActOffset(level, typ)
			vt := quant.VecDotType(typ)
			for ri, x := range rows {
				t.Run(fmt.Sprintf("%s/%s/row%d", levelName(level), typ, ri), func(t *testing.T) {
					k := len(x)
					out := alignedBytes(nativeActRowBytes(kind, k))
					if bad := nativeQuantize(level, kind, off, x, k, 0, 1, out); bad != 0 {
						t.Fatalf("%d blocks reported non-finite", bad)
					}
					ref := make([]byte, vt.RowBytes(k))
					if err := quant.Quantize(vt, x, ref); err != nil {
						t.Fatal(err)
					}
					compareActivation(t, vt, off, k, out, ref)
				})
			}
		}
	}
}

func f32At(b []byte, i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])) }

func compareActivation(t *testing.T, vt gguf.TensorType, off, k int, got, ref []byte) {
	t.Helper()
	switch vt {
	case gguf.TypeQ8_0, gguf.TypeQ8_1:
		bb, qoff := 34, 2
		if vt == gguf.TypeQ8_1 {
			bb, qoff = 36, 4
		}
		dv, sv, init := got[2*k:], got[2*k+k/8:], got[k:2*k]
		for b := 0; b < k/32; b++ {
			blk := ref[b*bb:]
			if want := quant.FP16ToFP32(binary.LittleEndian.Uint16(blk)); f32At(dv, b) != want {
				t.Fatalf("block %d: d %g, want %g", b, f32At(dv, b), want)
			}
			if vt == gguf.TypeQ8_1 {
				if want := quant.FP16ToFP32(binary.LittleEndian.Uint16(blk[2:])); f32At(sv, b) != want {
					t.Fatalf("block %d: s %g, want %g", b, f32At(sv, b), want)
				}
			}
			for j := 0; j < 32; j++ {
				if got[32*b+j] != blk[qoff+j] {
					t.Fatalf("block %d quant %d: %d, want %d", b, j, int8(got[32*b+j]), int8(blk[qoff+j]))
				}
			}
			for l := 0; l < 8; l++ {
				var s int32
				for j := 4 * l; j < 4*l+4; j++ {
					s += int32(int8(blk[qoff+j]))
				}
				if g := int32(binary.LittleEndian.Uint32(init[4*(8*b+l):])); g != -int32(off)*s {
					t.Fatalf("block %d lane %d: init %d, want %d", b, l, g, -int32(off)*s)
				}
			}
		}
	case gguf.TypeQ8_K:
		dv, bs := got[k:], got[k+k/64:]
		for b := 0; b < k/256; b++ {
			blk := ref[b*292:]
			if want := f32At(blk, 0); f32At(dv, b) != want {
				t.Fatalf("block %d: d %g, want %g", b, f32At(dv, b), want)
			}
			for j := 0; j < 256; j++ {
				if got[256*b+j] != blk[4+j] {
					t.Fatalf("block %d quant %d: %d, want %d", b, j, int8(got[256*b+j]), int8(blk[4+j]))
				}
			}
			for g := 0; g < 16; g++ {
				if a, w := binary.LittleEndian.Uint16(bs[2*(16*b+g):]), binary.LittleEndian.Uint16(blk[260+2*g:]); a != w {
					t.Fatalf("block %d bsum %d: %d, want %d", b, g, int16(a), int16(w))
				}
			}
		}
	case gguf.TypeF16, gguf.TypeBF16, gguf.TypeF32:
		want := make([]float32, k)
		if err := quant.Dequantize(vt, ref, want); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if g := f32At(got, i); g != want[i] {
				t.Fatalf("element %d: %g, want %g", i, g, want[i])
			}
		}
	default:
		t.Fatalf("no comparison for %s", vt)
	}
}

// TestNonFiniteActivations checks that NaN or infinite inputs give NaN
// outputs, not a crash or plausible numbers, on every level.
func TestNonFiniteActivations(t *testing.T) {
	for _, level := range testLevels(t) {
		for _, typ := range []gguf.TensorType{gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ6_K} {
			t.Run(levelName(level)+"/"+typ.String(), func(t *testing.T) {
				b := newBackend(2, level)
				defer b.Close()
				rng := rand.New(rand.NewPCG(5, 6))
				const rows, cols = 4, 256
				w := make([]byte, rows*typ.RowBytes(cols))
				quant.RandomBlocks(typ, w, rng)
				x := randomFloats(rng, cols)
				x[17] = float32(math.Inf(1))
				for _, v := range product(t, b, typ, w, rows, cols, x, 1) {
					if !math.IsNaN(float64(v)) {
						t.Fatalf("got %g, want NaN", v)
					}
				}
			})
		}
	}
}

// attnShape is an attention call: new tokens after start cached positions.
type attnShape struct{ tokens, start, heads, kvHeads, hd int }

var attnShapes = []attnShape{
	{1, 0, 4, 4, 32}, {1, 37, 8, 2, 64}, {5, 3, 4, 1, 128}, {3, 0, 2, 2, 40},
	{70, 100, 4, 4, 128}, // two token blocks, three key blocks
	{20, 90, 8, 1, 64},   // a group of 8 query heads per KV head
	{9, 200, 2, 2, 48},   // head size not a multiple of 16
}

// runAttention fills a cache with s.start random positions, then runs
// attention for s.tokens new ones (in one batch, or one token at a time),
// and returns the outputs of the second call and the cache.
func runAttention(t *testing.T, b *Backend, typ engine.KVType, s attnShape, oneAtATime bool) ([]float32, *kvCache) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(s.start), uint64(s.hd)))
	kvDim := s.kvHeads * s.hd
	cache, err := b.AllocKV(s.start+s.tokens, kvDim, typ)
	if err != nil {
		t.Fatal(err)
	}
	qDim := s.heads * s.hd
	call := func(start, n int, q, k, v []float32) []float32 {
		qb, kb, vb, out := must(b.Alloc(n*qDim)), must(b.Alloc(n*kvDim)), must(b.Alloc(n*kvDim)), must(b.Alloc(n*qDim))
		b.Write(qb, q)
		b.Write(kb, k)
		b.Write(vb, v)
		b.Attention(out, qb, kb, vb, cache, engine.AttentionParams{Tokens: n, StartPos: start, Heads: s.heads, KVHeads: s.kvHeads, HeadDim: s.hd})
		return readAll(b, out)
	}
	if s.start > 0 {
		call(0, s.start, randomFloats(rng, s.start*qDim), randomFloats(rng, s.start*kvDim), randomFloats(rng, s.start*kvDim))
	}
	q, k, v := randomFloats(rng, s.tokens*qDim), randomFloats(rng, s.tokens*kvDim), randomFloats(rng, s.tokens*kvDim)
	for i := range q {
		q[i] *= 4 // peaked softmax rows
	}
	if !oneAtATime {
		return call(s.start, s.tokens, q, k, v), cache.(*kvCache)
	}
	var out []float32
	for i := 0; i < s.tokens; i++ {
		out = append(out, call(s.start+i, 1, q[i*qDim:(i+1)*qDim], k[i*kvDim:(i+1)*kvDim], v[i*kvDim:(i+1)*kvDim])...)
	}
	return out, cache.(*kvCache)
}

// TestAttentionMatchesPortable checks the native attention (each level
// and the portable C kernel) against the portable Go kernel, for every KV
// cache type: the caches hold the same bytes and the outputs agree.
func TestAttentionMatchesPortable(t *testing.T) {
	levels := supportedLevels()
	if nativeBuilt {
		levels = append(levels, -1) // the portable C kernel
	}
	for _, typ := range engine.KVTypes() {
		for _, s := range attnShapes {
			if typ == engine.KVQ8_0 && s.hd%32 != 0 {
				continue
			}
			ref := newBackend(2, levelGeneric)
			want, wantCache := runAttention(t, ref, typ, s, false)
			ref.Close()
			for _, level := range levels {
				name := levelName(level)
				if level == -1 {
					name = "portable-c"
				}
				t.Run(fmt.Sprintf("%s/%s/%+v", typ, name, s), func(t *testing.T) {
					b := newBackend(2, level)
					defer b.Close()
					if level == -1 {
						b.level = levelGeneric
						b.portableC = true
					}
					got, cache := runAttention(t, b, typ, s, false)
					if !bytes.Equal(cache.k, wantCache.k) || !bytes.Equal(cache.v, wantCache.v) {
						t.Fatalf("the caches' bytes differ from the Go kernel's")
					}
					for i := range want {
						if d := math.Abs(float64(got[i] - want[i])); !(d <= 2e-5) {
							t.Fatalf("element %d: got %g, portable Go %g", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

// TestAttentionBatchInvariance checks that a token's attention output has
// the same bits whether it comes alone or in a batch (the tiles of a batch
// never change a row's arithmetic).
func TestAttentionBatchInvariance(t *testing.T) {
	for _, level := range supportedLevels() {
		for _, typ := range engine.KVTypes() {
			for _, s := range attnShapes {
				if typ == engine.KVQ8_0 && s.hd%32 != 0 {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%+v", levelName(level), typ, s), func(t *testing.T) {
					b := newBackend(2, level)
					defer b.Close()
					batch, _ := runAttention(t, b, typ, s, false)
					one, _ := runAttention(t, b, typ, s, true)
					for i := range batch {
						if batch[i] != one[i] {
							t.Fatalf("element %d: in a batch %g, alone %g", i, batch[i], one[i])
						}
					}
				})
			}
		}
	}
}

func TestSwiGLUMatchesPortable(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	const n = 10007
	g := randomFloats(rng, n)
	for i := range g {
		g[i] *= 30 // reach the saturated ends of silu
	}
	g[0], g[1] = -200, 200
	u := randomFloats(rng, n)
	for _, level := range supportedLevels() {
		t.Run(levelName(level), func(t *testing.T) {
			outs := make([][]float32, 2)
			for i, lv := range []int{levelGeneric, level} {
				b := newBackend(2, lv)
				gb, ub, d := must(b.Alloc(n)), must(b.Alloc(n)), must(b.Alloc(n))
				b.Write(gb, g)
				b.Write(ub, u)
				b.SwiGLU(d, gb, ub, n)
				outs[i] = readAll(b, d)
				b.Close()
			}
			for i := range outs[0] {
				want, got := float64(outs[0][i]), float64(outs[1][i])
				if d := math.Abs(got - want); d > 1e-6*math.Abs(want)+1e-30 {
					t.Fatalf("element %d (gate %g): native %g, portable %g", i, g[i], got, want)
				}
			}
		})
	}
}

// TestBatchInvariance checks that a token's product does not depend on the
// batch it is computed in: one token at a time and in batches (matrix-vector
// and matrix-matrix kernels, every tile size) give the same bits. Activation
// quantization amplifies any difference, so the engine's batch and
// one-at-a-time logits would otherwise drift apart.
func TestBatchInvariance(t *testing.T) {
	for _, level := range testLevels(t) {
		b := newBackend(3, level)
		defer b.Close()
		for _, typ := range productTypes {
			t.Run(levelName(level)+"/"+typ.String(), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(11, uint64(typ)))
				rows, cols, n := 37, 512, 9
				if typ.BlockSize() == 1 {
					cols = 77
				}
				w := make([]byte, rows*typ.RowBytes(cols))
				quant.RandomBlocks(typ, w, rng)
				x := randomFloats(rng, n*cols)
				batch := product(t, b, typ, w, rows, cols, x, n)
				for tk := 0; tk < n; tk++ {
					one := product(t, b, typ, w, rows, cols, x[tk*cols:(tk+1)*cols], 1)
					for r := 0; r < rows; r++ {
						if one[r] != batch[tk*rows+r] {
							t.Fatalf("token %d row %d: alone %g, in a batch of %d %g", tk, r, one[r], n, batch[tk*rows+r])
						}
					}
				}
			})
		}
	}
}

// TestActivationRowBytesAgree: the engine's memory model counts quantized
// activation rows as the native kernels lay them out.
func TestActivationRowBytesAgree(t *testing.T) {
	if !nativeBuilt {
		t.Skip("no native kernels in this build")
	}
	for _, typ := range productTypes {
		for _, k := range []int{256, 4096, 11008, 28672} {
			if got, want := engine.ActivationRowBytes(typ, k), int64(nativeActRowBytes(nativeActKind(typ), k)); got != want {
				t.Errorf("%s, %d values: engine counts %d bytes, the kernels use %d", typ, k, got, want)
			}
		}
	}
}
