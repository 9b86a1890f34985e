// Package cpu is the engine's CPU backend. Weights are used in place from
// the memory-mapped GGUF file; activations are quantized once per matrix
// product to the weight type's dot-product type (as llama.cpp does) and rows
// are split across a persistent pool of worker goroutines.
package cpu

import (
	"errors"
	"fmt"
	"math"
	"runtime"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
)

// Backend is the CPU implementation of engine.Backend.
type Backend struct {
	pool *pool
	xq   []byte // quantized activations, reused across products
}

// New returns a CPU backend running on threads workers (0 means one per CPU).
func New(threads int) *Backend {
	if threads <= 0 {
		threads = DefaultThreads()
	}
	return &Backend{pool: newPool(threads)}
}

// DefaultThreads is the default worker count: the number of CPUs Go may use.
func DefaultThreads() int { return runtime.GOMAXPROCS(0) }

// Threads returns the number of workers.
func (b *Backend) Threads() int { return b.pool.size }

// Name implements engine.Backend.
func (b *Backend) Name() string { return "cpu" }

// Close implements engine.Backend.
func (b *Backend) Close() error {
	b.pool.close()
	return nil
}

// buffer is a CPU activation buffer.
type buffer struct{ data []float32 }

func (x *buffer) Len() int { return len(x.data) }

func buf(x engine.Buffer) []float32 { return x.(*buffer).data }

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
	}
	return w, nil
}

// Alloc implements engine.Backend.
func (b *Backend) Alloc(n int) engine.Buffer { return &buffer{data: make([]float32, n)} }

// kvCache is a layer's key and value cache in float32.
type kvCache struct {
	k, v     []float32
	capacity int
	dim      int
}

func (c *kvCache) Capacity() int { return c.capacity }

// AllocKV implements engine.Backend.
func (b *Backend) AllocKV(capacity, kvDim int) (engine.KVCache, error) {
	n := capacity * kvDim
	if capacity <= 0 || kvDim <= 0 || n/kvDim != capacity {
		return nil, errors.New("invalid KV cache size")
	}
	return &kvCache{k: make([]float32, n), v: make([]float32, n), capacity: capacity, dim: kvDim}, nil
}

// Write implements engine.Backend.
func (b *Backend) Write(dst engine.Buffer, src []float32) { copy(buf(dst), src) }

// Read implements engine.Backend.
func (b *Backend) Read(dst []float32, src engine.Buffer) { copy(dst, buf(src)) }

// Copy implements engine.Backend.
func (b *Backend) Copy(dst engine.Buffer, dstOff int, src engine.Buffer, srcOff, count int) {
	copy(buf(dst)[dstOff:dstOff+count], buf(src)[srcOff:srcOff+count])
}

// RMSNorm implements engine.Backend.
func (b *Backend) RMSNorm(dst, src engine.Buffer, w engine.Weight, n int, eps float32) {
	wt := w.(*weight).f32
	d, s := buf(dst), buf(src)
	dim := len(wt)
	b.pool.run(n, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			rmsNorm(d[r*dim:(r+1)*dim], s[r*dim:(r+1)*dim], wt, eps)
		}
	})
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
	d, xs := buf(dst), buf(x)
	vt := quant.VecDotType(wt.typ)
	xRow := vt.RowBytes(wt.cols)
	if cap(b.xq) < n*xRow {
		b.xq = make([]byte, n*xRow)
	}
	xq := b.xq[:n*xRow]
	b.pool.run(n, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if err := quant.Quantize(vt, xs[r*wt.cols:(r+1)*wt.cols], xq[r*xRow:(r+1)*xRow]); err != nil {
				panic(fmt.Sprintf("cpu: quantize activations for %s: %v", wt.name, err))
			}
		}
	})
	b.pool.run(wt.rows, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := wt.data[i*wt.rowBytes : (i+1)*wt.rowBytes]
			for r := 0; r < n; r++ {
				d[r*wt.rows+i] = quant.VecDot(wt.typ, wt.cols, row, xq[r*xRow:(r+1)*xRow])
			}
		}
	})
}

// RoPE implements engine.Backend.
func (b *Backend) RoPE(x engine.Buffer, p engine.RoPEParams) {
	xs := buf(x)
	width := p.Heads * p.HeadDim
	b.pool.run(p.Tokens, 1, func(lo, hi int) {
		cs := make([]float32, p.Dims)
		for t := lo; t < hi; t++ {
			ropeAngles(cs, float32(p.StartPos+t)*p.Scale, p.Base)
			row := xs[t*width : (t+1)*width]
			for h := 0; h < p.Heads; h++ {
				rotate(row[h*p.HeadDim:h*p.HeadDim+p.Dims], cs)
			}
		}
	})
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

// Attention implements engine.Backend.
func (b *Backend) Attention(out, q, k, v engine.Buffer, cache engine.KVCache, p engine.AttentionParams) {
	c := cache.(*kvCache)
	kvDim := p.KVHeads * p.HeadDim
	copy(c.k[p.StartPos*kvDim:(p.StartPos+p.Tokens)*kvDim], buf(k)[:p.Tokens*kvDim])
	copy(c.v[p.StartPos*kvDim:(p.StartPos+p.Tokens)*kvDim], buf(v)[:p.Tokens*kvDim])
	o, qs := buf(out), buf(q)
	group := p.Heads / p.KVHeads
	scale := float32(1 / math.Sqrt(float64(p.HeadDim)))
	qDim := p.Heads * p.HeadDim
	b.pool.run(p.Tokens*p.Heads, 1, func(lo, hi int) {
		scores := make([]float32, p.StartPos+p.Tokens)
		for job := lo; job < hi; job++ {
			t, h := job/p.Heads, job%p.Heads
			n := p.StartPos + t + 1
			qh := qs[t*qDim+h*p.HeadDim : t*qDim+(h+1)*p.HeadDim]
			kvOff := (h / group) * p.HeadDim
			attend(o[t*qDim+h*p.HeadDim:t*qDim+(h+1)*p.HeadDim], qh, c.k, c.v, kvOff, kvDim, n, scale, scores[:n])
		}
	})
}

// attend computes one head's attention output over n cached positions.
func attend(out, q, keys, values []float32, off, stride, n int, scale float32, scores []float32) {
	hd := len(q)
	maxScore := float32(math.Inf(-1))
	for j := 0; j < n; j++ {
		kj := keys[j*stride+off : j*stride+off+hd]
		var s float32
		for i, qv := range q {
			s += qv * kj[i]
		}
		s *= scale
		scores[j] = s
		maxScore = max(maxScore, s)
	}
	var sum float64
	for j := range scores {
		e := float32(math.Exp(float64(scores[j] - maxScore)))
		scores[j] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	clear(out)
	for j := 0; j < n; j++ {
		pj := scores[j] * inv
		vj := values[j*stride+off : j*stride+off+hd]
		for i := range out {
			out[i] += pj * vj[i]
		}
	}
}

// SwiGLU implements engine.Backend.
func (b *Backend) SwiGLU(dst, gate, up engine.Buffer, count int) {
	d, g, u := buf(dst), buf(gate), buf(up)
	b.pool.run(count, 4096, func(lo, hi int) {
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
}
