package gputest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
	"github.com/llamadesk/llamadesk/gpu/compute"
)

var weightTypes = []gguf.TensorType{
	gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ8_0,
	gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K,
	gguf.TypeF16, gguf.TypeBF16, gguf.TypeF32,
}

// matmulConfigs are the backend settings the product tests run under.
var matmulConfigs = []struct {
	name string
	opts compute.Options
}{
	{"serial", compute.Options{Kernels: compute.KernelsSerial, FloatActivations: true}},
	{"parallel", compute.Options{Kernels: compute.KernelsParallel, FloatActivations: true}},
	{"serial/16KiB-blocks", compute.Options{Kernels: compute.KernelsSerial, FloatActivations: true, MaxStorageBlock: 16 << 10}},
	{"parallel/16KiB-blocks", compute.Options{Kernels: compute.KernelsParallel, FloatActivations: true, MaxStorageBlock: 16 << 10}},
	{"rounded", compute.Options{}},
}

// MatMul checks the matrix products of every weight type, one token
// and batches with partial groups of rows and tokens, with both kernel
// variants and with a 16 KiB storage block limit that splits weights and
// batches. With float activations results must match float64 products of
// the reference dequantization; with activations rounded as ggml rounds
// them, the CPU backend's results (which round the same way). In every
// case a batch must give exactly the one-token results.
func (s Suite) MatMul(t *testing.T) {
	const rows, cols = 70, 512
	c := newCPU(t)
	configs := matmulConfigs
	if s.subgroups(t) {
		configs = append(configs, matmulConfigs[1])
		configs[len(configs)-1].name, configs[len(configs)-1].opts.NoSubgroups = "parallel/no-subgroups", true
	}
	for _, cfg := range configs {
		if !s.has(cfg.opts.Kernels) && cfg.opts.Kernels != compute.KernelsAuto {
			continue
		}
		g := s.open(t, cfg.opts)
		for _, typ := range weightTypes {
			rng := rand.New(rand.NewPCG(uint64(typ), 7))
			data := make([]byte, rows*typ.RowBytes(cols))
			quant.RandomBlocks(typ, data, rng)
			deq := make([]float32, rows*cols)
			if err := quant.Dequantize(typ, data, deq); err != nil {
				t.Fatal(err)
			}
			gw, err := g.LoadWeight("w", typ, rows, cols, data)
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			cw, err := c.LoadWeight("w", typ, rows, cols, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{1, 5, 70} {
				t.Run(fmt.Sprintf("%s/%s/n=%d", cfg.name, typ, n), func(t *testing.T) {
					x := RandomFloats(rng, n*cols, 1)
					xb := Upload(g, x)
					gy := Must(g.Alloc(n * rows))
					g.MatMul(gy, gw, xb, n)
					got := download(g, gy, n*rows)
					for _, tok := range []int{0, n / 2, n - 1} {
						one := Must(g.Alloc(rows))
						g.MatMul(one, gw, Upload(g, x[tok*cols:(tok+1)*cols]), 1)
						for i, v := range download(g, one, rows) {
							if v != got[tok*rows+i] {
								t.Fatalf("token %d row %d: %g in a batch of %d, %g alone", tok, i, got[tok*rows+i], n, v)
							}
						}
					}
					if !cfg.opts.FloatActivations {
						cy := Must(c.Alloc(n * rows))
						c.MatMul(cy, cw, Upload(c, x), n)
						abs := 1e-4
						if typ == gguf.TypeQ4_1 || typ == gguf.TypeQ5_1 {
							// Q8_1 also keeps fp16(d·Σq) per block for the
							// weights' offsets, which rounded floats cannot
							// carry: those terms differ by up to 2⁻¹¹.
							abs = 1e-2
						}
						closeTo(t, "product", got, download(c, cy, n*rows), abs, 1e-4)
						return
					}
					for r := range n {
						for i := range rows {
							var ref, mag float64
							for k := range cols {
								p := float64(deq[i*cols+k]) * float64(x[r*cols+k])
								ref += p
								mag += math.Abs(p)
							}
							if v := float64(got[r*rows+i]); math.Abs(v-ref) > 1e-5*mag+1e-6 {
								t.Fatalf("token %d row %d: %g, float64 reference %g", r, i, v, ref)
							}
						}
					}
				})
			}
		}
	}
}

// ActivationRounding multiplies by identity matrices (exact in Q8_0,
// Q6_K, F16 and BF16), so the products are the rounded activations
// themselves, and compares them with ggml's reference quantizers.
func (s Suite) ActivationRounding(t *testing.T) {
	g := s.open(t, compute.Options{})
	const n = 512
	rng := rand.New(rand.NewPCG(11, 12))
	x := RandomFloats(rng, 3*n, 1)
	for i := range x {
		x[i] *= float32(math.Pow(10, float64(i%7-3))) // mixed magnitudes
	}
	for _, c := range []struct {
		weight, act gguf.TensorType
	}{
		{gguf.TypeQ8_0, gguf.TypeQ8_0},
		{gguf.TypeQ6_K, gguf.TypeQ8_K},
		{gguf.TypeF16, gguf.TypeF16},
		{gguf.TypeBF16, gguf.TypeBF16},
	} {
		t.Run(c.weight.String(), func(t *testing.T) {
			w, err := g.LoadWeight("identity", c.weight, n, n, identity(t, c.weight, n))
			if err != nil {
				t.Fatal(err)
			}
			y := Must(g.Alloc(3 * n))
			g.MatMul(y, w, Upload(g, x), 3)
			got := download(g, y, 3*n)
			q := make([]byte, c.act.RowBytes(n))
			want := make([]float32, n)
			for r := range 3 {
				if err := quant.Quantize(c.act, x[r*n:(r+1)*n], q); err != nil {
					t.Fatal(err)
				}
				if err := quant.Dequantize(c.act, q, want); err != nil {
					t.Fatal(err)
				}
				closeTo(t, "rounded", got[r*n:(r+1)*n], want, 0, 0)
			}
		})
	}
}

// identity returns the n×n identity matrix in a weight type.
func identity(t *testing.T, typ gguf.TensorType, n int) []byte {
	t.Helper()
	rb := typ.RowBytes(n)
	out := make([]byte, n*rb)
	for i := range n {
		row := out[i*rb : (i+1)*rb]
		switch typ {
		case gguf.TypeQ8_0: // d = 1, quant 1 on the diagonal
			for b := 0; b < n/32; b++ {
				row[b*34], row[b*34+1] = 0x00, 0x3C // fp16 1.0
			}
			row[(i/32)*34+2+i%32] = 1
		case gguf.TypeQ6_K: // d = 1, scales 1, quants 32 (zero), 33 on the diagonal
			for b := 0; b < n/256; b++ {
				blk := row[b*210 : (b+1)*210]
				for j := 128; j < 192; j++ {
					blk[j] = 0xAA // high bits 2 of every quant: 2<<4 = 32
				}
				for j := 192; j < 208; j++ {
					blk[j] = 1
				}
				blk[208], blk[209] = 0x00, 0x3C
			}
			e := i % 256
			h, quarter, l := e/128, e%128/32, e%32
			ql := (i/256)*210 + 64*h + l + 32*(quarter%2)
			row[ql] |= 1 << (4 * (quarter / 2))
		case gguf.TypeF16, gguf.TypeBF16:
			f := make([]float32, n)
			f[i] = 1
			if err := quant.Quantize(typ, f, row); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("no identity in %s", typ)
		}
	}
	// Check the construction with the reference dequantizer.
	deq := make([]float32, n*n)
	if err := quant.Dequantize(typ, out, deq); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for j := range n {
			if want := float32(map[bool]int{true: 1}[i == j]); deq[i*n+j] != want {
				t.Fatalf("%s identity[%d][%d] = %g", typ, i, j, deq[i*n+j])
			}
		}
	}
	return out
}

// RMSNorm compares normalisation with the CPU backend, in place and
// not, with both kernel variants.
func (s Suite) RMSNorm(t *testing.T) {
	for _, k := range s.variants() {
		t.Run(k.String(), func(t *testing.T) { testRMSNorm(t, s.open(t, compute.Options{Kernels: k})) })
	}
}

func testRMSNorm(t *testing.T, g Backend) {
	c := newCPU(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const n, dim = 3, 300
	wf := RandomFloats(rng, dim, 2)
	wdata := make([]byte, 4*dim)
	for i, v := range wf {
		bits := math.Float32bits(v)
		wdata[4*i], wdata[4*i+1], wdata[4*i+2], wdata[4*i+3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	}
	x := RandomFloats(rng, n*dim, 3)
	results := map[string][]float32{}
	for _, b := range []engine.Backend{g, c} {
		w, err := b.LoadWeight("norm", gguf.TypeF32, 1, dim, wdata)
		if err != nil {
			t.Fatal(err)
		}
		src := Upload(b, x)
		dst := Must(b.Alloc(n * dim))
		b.RMSNorm(dst, src, w, n, 1e-5)
		results[b.Name()] = download(b, dst, n*dim)
		b.RMSNorm(src, src, w, n, 1e-5)
		results[b.Name()+"/in-place"] = download(b, src, n*dim)
	}
	closeTo(t, "rmsnorm", results["gl"], results["cpu"], 1e-6, 1e-5)
	closeTo(t, "rmsnorm in place", results["gl/in-place"], results["cpu/in-place"], 1e-6, 1e-5)
}

// RoPE compares rotation with the CPU backend: partial rotation, a
// start position, position scaling, and a second call that reuses the
// angle table.
func (s Suite) RoPE(t *testing.T) {
	g, c := s.open(t, compute.Options{}), newCPU(t)
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []engine.RoPEParams{
		{Tokens: 3, StartPos: 5, Heads: 4, HeadDim: 16, Dims: 12, Base: 10000, Scale: 0.5},
		{Tokens: 3, StartPos: 5, Heads: 2, HeadDim: 16, Dims: 12, Base: 10000, Scale: 0.5},
		{Tokens: 1, StartPos: 700, Heads: 8, HeadDim: 32, Dims: 32, Base: 10000, Scale: 1},
	}
	for i, p := range cases {
		x := RandomFloats(rng, p.Tokens*p.Heads*p.HeadDim, 2)
		gb, cb := Upload(g, x), Upload(c, x)
		g.RoPE(gb, p)
		c.RoPE(cb, p)
		closeTo(t, fmt.Sprintf("rope case %d", i), download(g, gb, len(x)), download(c, cb, len(x)), 1e-6, 1e-5)
	}
}

// Attention compares attention with the CPU backend (fed the values a
// GL cache keeps: fp16- or Q8_0-rounded for those cache types): a prompt
// batch, then batches at StartPos > 0 through the cache, with grouped KV
// heads and more cached positions than one tile of the parallel kernel,
// with both kernel variants and every cache type.
func (s Suite) Attention(t *testing.T) {
	for _, k := range s.variants() {
		g := s.open(t, compute.Options{Kernels: k})
		for _, kv := range engine.KVTypes() {
			t.Run(fmt.Sprintf("%s/kv=%s", k, kv), func(t *testing.T) { testAttention(t, g, kv) })
		}
	}
}

func testAttention(t *testing.T, g Backend, kvType engine.KVType) {
	c := newCPU(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, shape := range []struct{ heads, kvHeads, headDim int }{{8, 2, 32}, {4, 4, 128}, {8, 1, 64}, {6, 3, 32}} {
		kvDim := shape.kvHeads * shape.headDim
		qDim := shape.heads * shape.headDim
		gc, err := g.AllocKV(256, kvDim, kvType)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := c.AllocKV(256, kvDim, engine.KVF32)
		if err != nil {
			t.Fatal(err)
		}
		pos := 0
		for _, tokens := range []int{70, 1, 3, 100} {
			p := engine.AttentionParams{Tokens: tokens, StartPos: pos, Heads: shape.heads, KVHeads: shape.kvHeads, HeadDim: shape.headDim}
			q := RandomFloats(rng, tokens*qDim, 2)
			k := RandomFloats(rng, tokens*kvDim, 2)
			v := RandomFloats(rng, tokens*kvDim, 1)
			for i := range k {
				k[i] *= float32(1 + i%7) // blocks of different scales
			}
			var outs [2][]float32
			for i, b := range []engine.Backend{g, c} {
				cache := map[int]engine.KVCache{0: gc, 1: cc}[i]
				out := Must(b.Alloc(tokens * qDim))
				kb, vb := k, v
				if i == 1 { // give the CPU the values the GL cache holds
					kb, vb = kvRound(t, kvType, k, kvDim), kvRound(t, kvType, v, kvDim)
				}
				b.Attention(out, Upload(b, q), Upload(b, kb), Upload(b, vb), cache, p)
				outs[i] = download(b, out, tokens*qDim)
			}
			closeTo(t, fmt.Sprintf("attention %+v", p), outs[0], outs[1], 1e-5, 1e-4)
			pos += tokens
		}
	}
}

// kvRound rounds rows of kvDim keys or values as a cache of type typ
// stores them, with ggml's reference conversions.
func kvRound(t *testing.T, typ engine.KVType, x []float32, kvDim int) []float32 {
	t.Helper()
	var qt gguf.TensorType
	switch typ {
	case engine.KVF32:
		return x
	case engine.KVF16:
		qt = gguf.TypeF16
	case engine.KVQ8_0:
		qt = gguf.TypeQ8_0
	}
	out := make([]float32, len(x))
	q := make([]byte, qt.RowBytes(kvDim))
	for r := 0; r < len(x); r += kvDim {
		if err := quant.Quantize(qt, x[r:r+kvDim], q); err != nil {
			t.Fatal(err)
		}
		if err := quant.Dequantize(qt, q, out[r:r+kvDim]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Elementwise checks SwiGLU (in place, as the engine calls it), Add and
// Copy against the CPU backend.
func (s Suite) Elementwise(t *testing.T) {
	g, c := s.open(t, compute.Options{}), newCPU(t)
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 1000
	gate, up, other := RandomFloats(rng, n, 8), RandomFloats(rng, n, 2), RandomFloats(rng, n, 1)
	var res [2][]float32
	for i, b := range []engine.Backend{g, c} {
		gb, ub, ob := Upload(b, gate), Upload(b, up), Upload(b, other)
		b.SwiGLU(gb, gb, ub, n-3)
		b.Add(gb, ob, n-5)
		b.Copy(ob, 10, gb, 500, 300)
		res[i] = append(download(b, gb, n), download(b, ob, n)...)
	}
	closeTo(t, "swiglu+add+copy", res[0], res[1], 1e-6, 1e-5)
}

// ReadWrite checks that Write and Read round-trip, including a Read into
// a shorter slice.
func (s Suite) ReadWrite(t *testing.T) {
	g := s.open(t, compute.Options{})
	x := RandomFloats(rand.New(rand.NewPCG(9, 9)), 37, 5)
	buf := Upload(g, x)
	if buf.Len() != 37 {
		t.Fatalf("Len = %d", buf.Len())
	}
	closeTo(t, "round trip", download(g, buf, 37), x, 0, 0)
	closeTo(t, "prefix", download(g, buf, 10), x[:10], 0, 0)
}

// KVMemory checks that KV caches take what the engine's memory model says
// (engine.KVBytesPerPosition): exactly for widths of whole pairs of Q8_0
// blocks (every Llama shape), within 5 % otherwise.
func (s Suite) KVMemory(t *testing.T) {
	g := s.open(t, compute.Options{})
	for _, typ := range engine.KVTypes() {
		for _, kvDim := range []int{4096, 1024, 128, 96} {
			const capacity = 256
			before := g.MemoryUsed()
			c, err := g.AllocKV(capacity, kvDim, typ)
			if err != nil {
				t.Fatal(err)
			}
			got := g.MemoryUsed() - before
			want := engine.KVBytesPerPosition(1, kvDim, typ) * capacity
			if d := math.Abs(float64(got-want)) / float64(want); (kvDim%64 == 0 && got != want) || d > 0.05 {
				t.Errorf("%s cache of %d × %d: %d bytes, the memory model says %d", typ, capacity, kvDim, got, want)
			}
			runtime.KeepAlive(c)
		}
	}
}
