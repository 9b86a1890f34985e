package compute

import (
	"fmt"
	"math"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/gpu/kernels"
)

// RMSNorm implements engine.Backend.
func (b *Backend) RMSNorm(dst, src engine.Buffer, w engine.Weight, n int, eps float32) {
	b.checkOpen()
	wt := asWeight(w)
	d, s := asBuffer(dst), asBuffer(src)
	dim := wt.cols
	if wt.rows != 1 {
		panic(fmt.Sprintf("%s: RMSNorm weight %s is a matrix", b.name, wt.name))
	}
	xb, xo, ok1 := b.rangeOf(s, 0, n*dim)
	yb, yo, ok2 := b.rangeOf(d, 0, n*dim)
	prog := b.recordProgram(b.v.RMSNorm())
	if !ok1 || !ok2 || prog == 0 {
		return
	}
	p := params{u: [8]uint32{uint32(dim), uint32(n), xo, yo}, f: [4]float32{eps}}
	groups := n
	if b.v.Serial() {
		groups = (n + kernels.WGSize - 1) / kernels.WGSize
	}
	b.rec.dispatch(prog, b.grid(groups), p, [MaxBind]binding{wt.chunks[0].main, {}, xb, yb}, 1<<3)
	b.maybeFlush()
}

// MatMul implements engine.Backend: activations are rounded as ggml
// rounds them for the weight type, then one token runs the one-token
// program and more run the batched one (identical arithmetic per output),
// chunk by chunk of weight rows and in groups of tokens whose activations
// fit a storage block.
func (b *Backend) MatMul(dst engine.Buffer, w engine.Weight, x engine.Buffer, n int) {
	b.checkOpen()
	wt := asWeight(w)
	d, xs := asBuffer(dst), asBuffer(x)
	if wt.mv == 0 {
		panic(fmt.Sprintf("%s: weight %s (row length %d) cannot be multiplied", b.name, wt.name, wt.cols))
	}
	K, M := wt.cols, wt.rows
	if n*K > xs.n || n*M > d.n {
		panic(fmt.Sprintf("%s: MatMul of %d tokens by %s (%d×%d) with buffers of %d and %d floats", b.name, n, wt.name, M, K, xs.n, d.n))
	}
	if n <= 0 {
		return
	}
	if xs = b.roundActivations(xs, n*K, wt.act); xs == nil {
		return
	}
	per := n
	if limit := int(b.lim.MaxBinding/4) - 64; per*max(K, M) > limit {
		per = max(1, limit/max(K, M))
	}
	rpg := b.v.RowsPerGroup()
	for t0 := 0; t0 < n; t0 += per {
		nt := min(per, n-t0)
		xb, xo, ok1 := b.rangeOf(xs, t0*K, nt*K)
		yb, yo, ok2 := b.rangeOf(d, t0*M, nt*M)
		if !ok1 || !ok2 {
			return
		}
		prog := wt.mm
		if nt == 1 {
			prog = wt.mv
		}
		for _, c := range wt.chunks {
			p := params{u: [8]uint32{uint32(K), uint32(c.rows), xo, yo + uint32(c.row0), uint32(nt), uint32(M)}}
			groups := b.grid((c.rows + rpg - 1) / rpg)
			groups[2] = (nt + kernels.BatchTokens - 1) / kernels.BatchTokens
			b.rec.dispatch(prog, groups, p, [MaxBind]binding{c.main, c.aux, xb, yb}, 1<<3)
		}
	}
	b.maybeFlush()
}

// roundActivations returns count floats of x rounded as ggml rounds
// activations of type act (x itself for float32 activations). The result
// is kept: the Q, K and V products (and gate and up) round their shared
// input once. It returns nil, keeping the failure for Read, when the
// rounded copy cannot be allocated.
func (b *Backend) roundActivations(x *buffer, count int, act gguf.TensorType) *buffer {
	if b.floatAct || act == gguf.TypeF32 {
		return x
	}
	s := b.acts[act]
	if s == nil {
		s = &actScratch{}
		b.acts[act] = s
	}
	if s.buf != nil && s.src == x.name && s.version == b.rec.version(x.name) && s.count == count {
		return s.buf
	}
	if s.buf == nil || s.buf.n < count {
		s.buf = nil // the old buffer is released before the larger one is allocated
		buf, err := b.newBuffer(count)
		if err != nil {
			b.fail(fmt.Errorf("round activations: %w", err))
			return nil
		}
		s.buf = buf
	}
	blk := kernels.ActBlock(act)
	prog := b.recordProgram(kernels.ActRound(act))
	if prog == 0 {
		return nil
	}
	per := (int(b.lim.MaxBinding/4) - 64) / blk * blk
	for off := 0; off < count; off += per {
		n := min(per, count-off)
		db, do, ok1 := b.rangeOf(s.buf, off, n)
		ab, ao, ok2 := b.rangeOf(x, off, n)
		if !ok1 || !ok2 {
			return nil
		}
		p := params{u: [8]uint32{uint32(n), do, ao}}
		blocks := n / blk
		b.rec.dispatch(prog, b.grid((blocks+kernels.WGSize-1)/kernels.WGSize), p, [MaxBind]binding{ab, {}, {}, db}, 1<<3)
	}
	s.src, s.version, s.count = x.name, b.rec.version(x.name), count
	return s.buf
}

// RoPE implements engine.Backend. The angles are computed on the host
// exactly as the CPU backend does (float32 products of base^(-2/dims),
// float64 cos and sin), once per batch of positions: every layer reuses
// the table.
func (b *Backend) RoPE(x engine.Buffer, p engine.RoPEParams) {
	b.checkOpen()
	xs := asBuffer(x)
	if p.Dims%2 != 0 || p.Dims > p.HeadDim {
		panic(fmt.Sprintf("%s: RoPE over %d of %d dimensions", b.name, p.Dims, p.HeadDim))
	}
	if p.Tokens <= 0 || p.Dims == 0 {
		return
	}
	key := p
	key.Heads, key.HeadDim = 0, 0
	if b.rope.buf == nil || b.rope.key != key {
		pairs := p.Dims / 2
		table := make([]float32, 2*p.Tokens*pairs)
		scale := float32(math.Pow(float64(p.Base), -2.0/float64(p.Dims)))
		for t := range p.Tokens {
			theta := float32(p.StartPos+t) * p.Scale
			row := table[2*t*pairs : 2*(t+1)*pairs]
			for i := 0; i < len(row); i += 2 {
				row[i] = float32(math.Cos(float64(theta)))
				row[i+1] = float32(math.Sin(float64(theta)))
				theta *= scale
			}
		}
		if b.rope.buf == nil || b.rope.buf.n < len(table) {
			b.rope.buf = nil
			buf, err := b.newBuffer(max(len(table), 1024))
			if err != nil {
				b.fail(fmt.Errorf("rope table: %w", err))
				return
			}
			b.rope.buf = buf
		}
		b.rec.upload(b.rope.buf.name, 0, table)
		b.rope.key = key
	}
	total := p.Tokens * p.Heads * p.Dims / 2
	xb, xo, ok1 := b.rangeOf(xs, 0, p.Tokens*p.Heads*p.HeadDim)
	tb, _, ok2 := b.rangeOf(b.rope.buf, 0, p.Tokens*p.Dims)
	prog := b.recordProgram(kernels.RoPE)
	if !ok1 || !ok2 || prog == 0 {
		return
	}
	pr := params{u: [8]uint32{uint32(p.Tokens), uint32(p.Heads), uint32(p.HeadDim), uint32(p.Dims), xo}}
	b.rec.dispatch(prog, b.grid((total+kernels.WGSize-1)/kernels.WGSize), pr, [MaxBind]binding{tb, {}, xb}, 1<<2)
	b.maybeFlush()
}

// Attention implements engine.Backend.
func (b *Backend) Attention(out, q, k, v engine.Buffer, cache engine.KVCache, p engine.AttentionParams) {
	b.checkOpen()
	c, ok := cache.(*kvCache)
	if !ok {
		panic(fmt.Sprintf("%s: KV cache of type %T is not from this backend", b.name, cache))
	}
	kvDim := p.KVHeads * p.HeadDim
	switch {
	case p.HeadDim%4 != 0 || p.HeadDim > kernels.MaxHeadDim:
		panic(fmt.Sprintf("%s: head size %d is not a multiple of 4 up to %d", b.name, p.HeadDim, kernels.MaxHeadDim))
	case p.KVHeads <= 0 || p.Heads%p.KVHeads != 0:
		panic(fmt.Sprintf("%s: %d heads cannot share %d KV heads", b.name, p.Heads, p.KVHeads))
	case kvDim != c.dim:
		panic(fmt.Sprintf("%s: KV width %d, the cache holds %d", b.name, kvDim, c.dim))
	case p.StartPos < 0 || p.StartPos+p.Tokens > c.capacity:
		panic(fmt.Sprintf("%s: positions %d..%d outside a cache of %d", b.name, p.StartPos, p.StartPos+p.Tokens, c.capacity))
	}
	if p.Tokens <= 0 {
		return
	}
	if !b.storeKV(c, asBuffer(k), asBuffer(v), p.StartPos, p.Tokens) {
		return
	}
	qDim := p.Heads * p.HeadDim
	qb, qo, ok1 := b.rangeOf(asBuffer(q), 0, p.Tokens*qDim)
	ob, oo, ok2 := b.rangeOf(asBuffer(out), 0, p.Tokens*qDim)
	used := (p.StartPos + p.Tokens) * c.rowWords
	kb, _, ok3 := b.rangeOf(c.k, 0, used)
	vb, _, ok4 := b.rangeOf(c.v, 0, used)
	prog := b.recordProgram(b.v.Attention(c.typ))
	if !ok1 || !ok2 || !ok3 || !ok4 || prog == 0 {
		return
	}
	pr := params{
		u: [8]uint32{uint32(p.Tokens), uint32(p.StartPos), uint32(p.Heads), uint32(p.KVHeads),
			uint32(p.HeadDim), qo, oo, uint32(kvDim)},
		f: [4]float32{float32(1 / math.Sqrt(float64(p.HeadDim)))},
	}
	groups := p.Tokens * p.Heads
	if b.v.Serial() {
		groups = (groups + kernels.WGSize - 1) / kernels.WGSize
	}
	b.rec.dispatch(prog, b.grid(groups), pr, [MaxBind]binding{qb, kb, vb, ob}, 1<<3)
	b.maybeFlush()
}

// storeKV appends a batch's keys and values to a cache at position pos: a
// copy for a float32 cache, a conversion for the others. It reports
// whether the work was recorded.
func (b *Backend) storeKV(c *kvCache, k, v *buffer, pos, tokens int) bool {
	var prog uint32
	if c.typ != engine.KVF32 {
		if prog = b.recordProgram(kernels.KVStore(c.typ)); prog == 0 {
			return false
		}
	}
	for _, kv := range [2][2]*buffer{{k, c.k}, {v, c.v}} {
		src, dst := kv[0], kv[1]
		if c.typ == engine.KVF32 {
			b.rec.copyBuffer(dst.name, int64(pos*c.dim)*4, src.name, 0, int64(tokens*c.dim)*4)
			continue
		}
		// One invocation per pair of values (fp16) or of blocks (Q8_0).
		items := tokens * c.dim / 2
		if c.typ == engine.KVQ8_0 {
			items = tokens * ((c.dim/32 + 1) / 2)
		}
		sb, so, ok1 := b.rangeOf(src, 0, tokens*c.dim)
		db, do, ok2 := b.rangeOf(dst, pos*c.rowWords, tokens*c.rowWords)
		if !ok1 || !ok2 {
			return false
		}
		b.rec.dispatch(prog, b.grid((items+kernels.ElementwiseWG-1)/kernels.ElementwiseWG),
			params{u: [8]uint32{uint32(items), do, so, uint32(c.dim)}}, [MaxBind]binding{sb, {}, {}, db}, 1<<3)
	}
	return true
}

// elementwise dispatches an element-wise kernel over count floats in
// pieces whose ranges fit a storage block.
func (b *Backend) elementwise(k kernels.Spec, count int, dst *buffer, srcs ...*buffer) {
	prog := b.recordProgram(k)
	if prog == 0 {
		return
	}
	per := min(count, int(b.lim.MaxBinding/4)-64)
	for off := 0; off < count; off += per {
		n := min(per, count-off)
		var binds [MaxBind]binding
		p := params{u: [8]uint32{uint32(n)}}
		var rel uint32
		var ok bool
		if binds[3], rel, ok = b.rangeOf(dst, off, n); !ok {
			return
		}
		p.u[1] = rel
		for i, s := range srcs {
			if binds[i], rel, ok = b.rangeOf(s, off, n); !ok {
				return
			}
			p.u[2+i] = rel
		}
		b.rec.dispatch(prog, b.grid((n+kernels.ElementwiseWG-1)/kernels.ElementwiseWG), p, binds, 1<<3)
	}
	b.maybeFlush()
}

// SwiGLU implements engine.Backend.
func (b *Backend) SwiGLU(dst, gate, up engine.Buffer, count int) {
	b.checkOpen()
	if count > 0 {
		b.elementwise(kernels.SwiGLU, count, asBuffer(dst), asBuffer(gate), asBuffer(up))
	}
}

// Add implements engine.Backend.
func (b *Backend) Add(dst, src engine.Buffer, count int) {
	b.checkOpen()
	if count > 0 {
		b.elementwise(kernels.Add, count, asBuffer(dst), asBuffer(src))
	}
}
