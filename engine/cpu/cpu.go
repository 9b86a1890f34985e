// Package cpu is the engine's CPU backend. Weights are used in place from
// the memory-mapped GGUF file; activations are quantized once per matrix
// product to the weight type's dot-product type (as llama.cpp does, and
// reused while the input is unchanged, as for Q/K/V and gate/up), and a
// persistent pool of workers splits each product's rows between them.
//
// The products run in native SIMD kernels (kern*.c: AVX2, AVX-VNNI or
// AVX-512 VNNI on amd64 and NEON on arm64, chosen at run time with one
// binary serving every CPU). Prompt processing is a matrix-matrix product:
// tiles of weight rows (decoded once per block of tokens into a small
// scratch, never a copy of a whole tensor) meet several tokens per load.
// A token's result does not depend on the batch it came in: the
// matrix-vector and matrix-matrix kernels of a level perform the same
// integer sums and the same float operations. Where POSIX threads exist the
// native kernels run on a C worker pool (pool.c), which the Go scheduler
// does not see. Without cgo, or on a CPU without those instructions,
// portable Go kernels (engine/quant's reference dot products) compute the
// same products.
package cpu

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
)

// Backend is the CPU implementation of engine.Backend.
type Backend struct {
	// np runs the native kernels' jobs on C threads where the platform has
	// them; pool (Go workers) runs the portable kernels, and the native ones
	// elsewhere. With np, pool has the caller alone (for the cheap
	// element-wise operations), so no Go worker spins beside the C threads.
	np      *nativePool
	pool    *pool
	level   int
	scratch [][]byte    // per Go worker: decoded weight rows of the native kernels
	scores  [][]float32 // per Go worker: attention scores
	// The native pool's scratch: one region per thread, stride bytes apart.
	nscratch []byte
	nstride  int
	nscores  []float32   // the native attention's per-thread tiles
	acts     [2]actCache // recently quantized activations
	nextAct  int
	xq       []byte // quantized activations of the portable kernels
	// portableC makes the portable level run the portable C attention
	// kernel instead of the Go one (for tests).
	portableC bool
	// allocated counts the bytes of buffers, caches and working memory
	// this backend allocated (see AllocatedBytes).
	allocated atomic.Int64
}

// AllocatedBytes returns the memory this backend has allocated: buffers, KV
// caches and its working memory (quantized activations, attention tiles,
// decoded weight rows). Weights are not counted: they stay in the file.
func (b *Backend) AllocatedBytes() int64 { return b.allocated.Load() }

// MaxThreads bounds the worker count: more threads than this are never
// useful, and each one costs an OS thread.
const MaxThreads = 256

// New returns a CPU backend running on threads workers (0 means
// DefaultThreads; at most MaxThreads) with the best kernels this CPU
// supports.
func New(threads int) *Backend { return newBackend(threads, detectLevel()) }

// newBackend returns a backend with the kernels of the given level
// (levelGeneric forces the portable Go kernels).
func newBackend(threads, level int) *Backend {
	if threads <= 0 {
		threads = DefaultThreads()
	}
	threads = min(threads, MaxThreads)
	b := &Backend{level: level}
	if level != levelGeneric {
		b.np = newNativePool(threads)
	}
	if b.np != nil {
		b.pool = newPool(1)
	} else {
		b.pool = newPool(threads)
	}
	b.scratch = make([][]byte, b.pool.size)
	b.scores = make([][]float32, b.pool.size)
	return b
}

// Threads returns the number of workers.
func (b *Backend) Threads() int {
	if b.np != nil {
		return b.np.size
	}
	return b.pool.size
}

// Kernels names the kernel set in use: "avx512-vnni", "avx-vnni", "avx2",
// "neon-dotprod", "neon" or "generic" (portable Go).
func (b *Backend) Kernels() string { return levelName(b.level) }

// Interrupt implements engine.Interruptible: the running product (and any
// later one, until ResetInterrupt) skips the row chunks it has not started.
func (b *Backend) Interrupt() { b.setStop(true) }

// ResetInterrupt implements engine.Interruptible.
func (b *Backend) ResetInterrupt() { b.setStop(false) }

func (b *Backend) setStop(stop bool) {
	b.pool.stop.Store(stop)
	if b.np != nil {
		b.np.setStop(stop)
	}
}

// Name implements engine.Backend.
func (b *Backend) Name() string { return "cpu" }

// Close implements engine.Backend.
func (b *Backend) Close() error {
	b.pool.close()
	if b.np != nil {
		b.np.close()
	}
	return nil
}

// buffer is a CPU activation buffer. version counts the writes to it, so
// quantized copies of its contents can be reused while it is unchanged.
type buffer struct {
	data    []float32
	version uint64
}

func (x *buffer) Len() int { return len(x.data) }

func buf(x engine.Buffer) []float32 { return x.(*buffer).data }

// written records that an operation changed x.
func written(x engine.Buffer) { x.(*buffer).version++ }

// actCache is one quantized copy of an activation buffer's first n rows.
type actCache struct {
	src                *buffer
	version            uint64
	kind, off, cols, n int
	stride             int
	data               []byte // 64-byte aligned view of raw
	raw                []byte
}

// weight is a weight tensor used in place from the file.
type weight struct {
	name       string
	typ        gguf.TensorType
	rows, cols int
	data       []byte
	rowBytes   int
	f32        []float32 // decoded copy of vectors (norm weights)
}

func (w *weight) Rows() int { return w.rows }
func (w *weight) Cols() int { return w.cols }

// LoadWeight implements engine.Backend.
func (b *Backend) LoadWeight(name string, typ gguf.TensorType, rows, cols int, data []byte) (engine.Weight, error) {
	if !typ.Known() || typ.BlockSize() <= 0 {
		return nil, fmt.Errorf("unknown tensor type %d", typ)
	}
	if cols%typ.BlockSize() != 0 {
		return nil, fmt.Errorf("row length %d is not a multiple of the %s block size", cols, typ)
	}
	rb := typ.RowBytes(cols)
	if len(data) != rows*rb {
		return nil, fmt.Errorf("%d bytes of data, want %d", len(data), rows*rb)
	}
	w := &weight{name: name, typ: typ, rows: rows, cols: cols, data: data, rowBytes: rb}
	if rows == 1 {
		w.f32 = make([]float32, cols)
		if err := quant.Dequantize(typ, data, w.f32); err != nil {
			return nil, err
		}
		return w, nil
	}
	if !quant.HasVecDot(typ) {
		return nil, fmt.Errorf("no matrix product for %s weights", typ)
	}
	return w, nil
}

// maxFloats bounds one allocation (16 GiB of float32): the engine sizes
// buffers from the model and the context, and a size beyond this comes from
// a number no real model has.
const maxFloats = 1 << 32

// Alloc implements engine.Backend.
func (b *Backend) Alloc(n int) (engine.Buffer, error) {
	if n < 0 || n > maxFloats {
		return nil, fmt.Errorf("cpu: a buffer of %d floats is out of range", n)
	}
	b.allocated.Add(int64(4 * n))
	return &buffer{data: make([]float32, n)}, nil
}

// Write implements engine.Backend.
func (b *Backend) Write(dst engine.Buffer, src []float32) {
	copy(buf(dst), src)
	written(dst)
}

// Read implements engine.Backend.
func (b *Backend) Read(dst []float32, src engine.Buffer) error {
	copy(dst, buf(src))
	return nil
}

// Copy implements engine.Backend.
func (b *Backend) Copy(dst engine.Buffer, dstOff int, src engine.Buffer, srcOff, count int) {
	copy(buf(dst)[dstOff:dstOff+count], buf(src)[srcOff:srcOff+count])
	written(dst)
}

// RMSNorm implements engine.Backend.
func (b *Backend) RMSNorm(dst, src engine.Buffer, w engine.Weight, n int, eps float32) {
	wt := w.(*weight).f32
	d, s := buf(dst), buf(src)
	dim := len(wt)
	b.pool.run(n, 1, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			rmsNorm(d[r*dim:(r+1)*dim], s[r*dim:(r+1)*dim], wt, eps)
		}
	})
	written(dst)
}

func rmsNorm(dst, src, w []float32, eps float32) {
	var sum float64
	for _, v := range src {
		sum += float64(v * v)
	}
	scale := float32(1 / math.Sqrt(sum/float64(len(src))+float64(eps)))
	for i, v := range src {
		dst[i] = v * scale * w[i]
	}
}

// MatMul implements engine.Backend.
func (b *Backend) MatMul(dst engine.Buffer, w engine.Weight, x engine.Buffer, n int) {
	wt := w.(*weight)
	defer written(dst)
	kind := -1
	if b.level != levelGeneric {
		kind = nativeActKind(wt.typ)
	}
	if kind < 0 {
		b.matMulGeneric(buf(dst), wt, buf(x), n)
		return
	}
	act := b.quantized(x.(*buffer), kind, nativeActOffset(b.level, wt.typ), wt.cols, n)
	need := nativeScratchBytes(wt.typ, wt.cols)
	d := buf(dst)
	// Chunks are whole tiles: a multiple of every tile height (1 to 4 rows,
	// and the 16-row panels of the AVX-512 kernels). The matrix-vector
	// kernels work in panels of at most 16 rows.
	grain := 48
	if n == 1 {
		grain = 16
	}
	if b.np != nil {
		stride := (need + 63) &^ 63
		if b.nstride < stride {
			b.allocated.Add(int64(stride*b.np.size - len(b.nscratch)))
			b.nscratch = alignedBytes(stride * b.np.size)
			b.nstride = stride
		}
		if !b.np.matmul(b.level, wt.typ, wt.data, wt.rowBytes, wt.cols, wt.rows, act.data, act.stride, n, d, wt.rows, b.nscratch, b.nstride, grain) {
			panic(fmt.Sprintf("cpu: no %s kernel for %s weights", levelName(b.level), wt.typ))
		}
		return
	}
	b.pool.run(wt.rows, grain, func(worker, lo, hi int) {
		sc := b.workerScratch(worker, need)
		if !nativeMatMul(b.level, wt.typ, wt.data, wt.rowBytes, wt.cols, lo, hi, act.data, act.stride, n, d, wt.rows, sc) {
			panic(fmt.Sprintf("cpu: no %s kernel for %s weights", levelName(b.level), wt.typ))
		}
	})
}

// workerScratch returns worker's scratch of at least n bytes, 64-byte aligned.
func (b *Backend) workerScratch(worker, n int) []byte {
	s := b.scratch[worker]
	if len(s) < n {
		s = alignedBytes(n)
		b.scratch[worker] = s
	}
	return s
}

// alignedBytes returns n zeroed bytes starting at a 64-byte boundary.
func alignedBytes(n int) []byte {
	raw := make([]byte, n+64)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(raw))) & 63)
	return raw[off : off+n : off+n]
}

// quantized returns the first n rows of x (rows of cols floats) in
// activation format kind, reusing the last conversion while x is unchanged
// (the Q, K and V products, and gate and up, share their input).
func (b *Backend) quantized(x *buffer, kind, off, cols, n int) *actCache {
	for i := range b.acts {
		a := &b.acts[i]
		if a.src == x && a.version == x.version && a.kind == kind && a.off == off && a.cols == cols && a.n == n {
			return a
		}
	}
	a := &b.acts[b.nextAct]
	b.nextAct = (b.nextAct + 1) % len(b.acts)
	stride := nativeActRowBytes(kind, cols)
	if len(a.data) < n*stride {
		b.allocated.Add(int64(n*stride - len(a.data)))
		a.data = alignedBytes(n * stride)
	}
	*a = actCache{src: x, version: x.version, kind: kind, off: off, cols: cols, n: n, stride: stride, data: a.data}
	// Non-finite inputs give NaN scales, and NaN results: garbage in,
	// visibly garbage out.
	xs := x.data
	if b.np != nil {
		b.np.quantize(b.level, kind, off, xs, cols, n, a.data)
		return a
	}
	b.pool.run(n, 1, func(_, lo, hi int) {
		nativeQuantize(b.level, kind, off, xs, cols, lo, hi, a.data)
	})
	return a
}

// matMulGeneric is the portable product: quant's reference quantizers and
// dot products.
func (b *Backend) matMulGeneric(d []float32, wt *weight, xs []float32, n int) {
	vt := quant.VecDotType(wt.typ)
	xRow := vt.RowBytes(wt.cols)
	if cap(b.xq) < n*xRow {
		b.xq = make([]byte, n*xRow)
	}
	xq := b.xq[:n*xRow]
	b.pool.run(n, 1, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			quantizeOrNaN(vt, xs[r*wt.cols:(r+1)*wt.cols], xq[r*xRow:(r+1)*xRow])
		}
	})
	b.pool.run(wt.rows, 16, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			row := wt.data[i*wt.rowBytes : (i+1)*wt.rowBytes]
			for r := 0; r < n; r++ {
				d[r*wt.rows+i] = quant.VecDot(wt.typ, wt.cols, row, xq[r*xRow:(r+1)*xRow])
			}
		}
	})
}

// quantizeOrNaN quantizes an activation row. A row the quantizer refuses
// (non-finite values: only the integer formats check) gets NaN scales, so
// the products are NaN, as with the native kernels.
func quantizeOrNaN(vt gguf.TensorType, src []float32, dst []byte) {
	if err := quant.Quantize(vt, src, dst); err == nil {
		return
	}
	clear(dst)
	for off := 0; off+vt.BlockBytes() <= len(dst); off += vt.BlockBytes() {
		if vt == gguf.TypeQ8_K {
			binary.LittleEndian.PutUint32(dst[off:], math.Float32bits(float32(math.NaN())))
		} else { // Q8_0, Q8_1: binary16 scale first
			binary.LittleEndian.PutUint16(dst[off:], 0x7E00)
		}
	}
}

// RoPE implements engine.Backend.
func (b *Backend) RoPE(x engine.Buffer, p engine.RoPEParams) {
	xs := buf(x)
	width := p.Heads * p.HeadDim
	b.pool.run(p.Tokens, 1, func(_, lo, hi int) {
		cs := make([]float32, p.Dims)
		for t := lo; t < hi; t++ {
			ropeAngles(cs, float32(p.StartPos+t)*p.Scale, p.Base)
			row := xs[t*width : (t+1)*width]
			for h := 0; h < p.Heads; h++ {
				rotate(row[h*p.HeadDim:h*p.HeadDim+p.Dims], cs)
			}
		}
	})
	written(x)
}

// ropeAngles fills cs with (cos, sin) pairs for each rotated pair, computing
// the angle as ggml does: theta starts at pos and is multiplied by
// base^(-2/dims) for each following pair, in float32.
func ropeAngles(cs []float32, pos, base float32) {
	scale := float32(math.Pow(float64(base), -2.0/float64(len(cs))))
	theta := pos
	for i := 0; i < len(cs); i += 2 {
		cs[i] = float32(math.Cos(float64(theta)))
		cs[i+1] = float32(math.Sin(float64(theta)))
		theta *= scale
	}
}

func rotate(x, cs []float32) {
	for i := 0; i < len(cs); i += 2 {
		c, s := cs[i], cs[i+1]
		x0, x1 := x[i], x[i+1]
		x[i] = x0*c - x1*s
		x[i+1] = x0*s + x1*c
	}
}

// Attention implements engine.Backend: the batch's keys and values go into
// the cache, then each KV head's query rows attend to it in tiles
// (kern_attn_tmpl.h), spread over the workers by heads and token blocks.
func (b *Backend) Attention(out, q, k, v engine.Buffer, cache engine.KVCache, p engine.AttentionParams) {
	c := cache.(*kvCache)
	defer runtime.KeepAlive(c) // its memory is unmapped once c is unreachable
	defer written(out)
	o, qs, ks, vs := buf(out), buf(q), buf(k), buf(v)
	scale := float32(1 / math.Sqrt(float64(p.HeadDim)))
	native := nativeBuilt && (b.level != levelGeneric || b.portableC)
	if !native || !nativeKVStore(b.level, int(c.typ), c.k, c.v, c.slots, p.KVHeads, p.HeadDim, ks, vs, p.StartPos, p.Tokens) {
		c.storeKV(ks, vs, p.StartPos, p.Tokens, p.KVHeads, p.HeadDim)
	}
	if native {
		per := nativeAttnScratch(p.Heads, p.KVHeads, p.HeadDim)
		stride := (per + 15) &^ 15
		workers := b.pool.size
		if b.np != nil {
			workers = b.np.size
		}
		if len(b.nscores) < stride*workers {
			b.allocated.Add(int64(4 * (stride*workers - len(b.nscores))))
			b.nscores = make([]float32, stride*workers)
		}
		ok := true
		if b.np != nil {
			ok = b.np.attention(b.level, int(c.typ), qs, c.k, c.v, c.slots, o, p.StartPos, p.Tokens, p.Heads, p.KVHeads, p.HeadDim, scale, b.nscores, stride)
		} else {
			b.pool.run(nativeAttnJobs(p.Tokens, p.Heads, p.KVHeads), 1, func(worker, lo, hi int) {
				if !nativeAttention(b.level, int(c.typ), qs, c.k, c.v, c.slots, o, p.StartPos, p.Tokens, p.Heads, p.KVHeads, p.HeadDim, scale, lo, hi, b.nscores[worker*stride:(worker+1)*stride]) {
					ok = false
				}
			})
		}
		if !ok {
			panic(fmt.Sprintf("cpu: no %s attention kernel for a %s cache with heads of %d", levelName(b.level), c.typ, p.HeadDim))
		}
		return
	}
	group := p.Heads / p.KVHeads
	qDim := p.Heads * p.HeadDim
	n := p.StartPos + p.Tokens
	b.pool.run(p.Tokens*p.Heads, 1, func(worker, lo, hi int) {
		if len(b.scores[worker]) < n {
			b.scores[worker] = make([]float32, n+n/2)
		}
		scores := b.scores[worker]
		for job := lo; job < hi; job++ {
			t, h := job/p.Heads, job%p.Heads
			qh := qs[t*qDim+h*p.HeadDim : t*qDim+(h+1)*p.HeadDim]
			c.attendGeneric(o[t*qDim+h*p.HeadDim:t*qDim+(h+1)*p.HeadDim], qh, h/group, p.StartPos+t+1, p.HeadDim, scale, scores)
		}
	})
}

// SwiGLU implements engine.Backend.
func (b *Backend) SwiGLU(dst, gate, up engine.Buffer, count int) {
	d, g, u := buf(dst), buf(gate), buf(up)
	defer written(dst)
	if b.np != nil {
		b.np.swiglu(b.level, d[:count], g[:count], u[:count])
		return
	}
	if b.level != levelGeneric {
		b.pool.run(count, 4096, func(_, lo, hi int) {
			nativeSwiGLU(b.level, d[lo:hi], g[lo:hi], u[lo:hi])
		})
		return
	}
	b.pool.run(count, 4096, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			x := g[i]
			d[i] = x / (1 + float32(math.Exp(float64(-x)))) * u[i]
		}
	})
}

// Add implements engine.Backend.
func (b *Backend) Add(dst, src engine.Buffer, count int) {
	d, s := buf(dst), buf(src)
	for i := range count {
		d[i] += s[i]
	}
	written(dst)
}
