package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// DefaultBatch is the most tokens evaluated in one pass; longer prompts are
// evaluated in consecutive batches of this size.
const DefaultBatch = 512

// ErrContextFull is returned when tokens would not fit in the context.
var ErrContextFull = errors.New("context is full")

// scratch is one backend's set of activation buffers, sized for a batch.
type scratch struct {
	x, xn, q, k, v, att, proj, gate, up Buffer
}

func newScratch(b Backend, c Config, batch int) (*scratch, error) {
	var sc scratch
	for _, a := range []struct {
		dst *Buffer
		n   int
	}{
		{&sc.x, c.Dim}, {&sc.xn, c.Dim}, {&sc.q, c.Dim}, {&sc.k, c.KVDim()}, {&sc.v, c.KVDim()},
		{&sc.att, c.Dim}, {&sc.proj, c.Dim}, {&sc.gate, c.FFN}, {&sc.up, c.FFN},
	} {
		buf, err := b.Alloc(batch * a.n)
		if err != nil {
			return nil, fmt.Errorf("allocate scratch buffers on %s: %w", b.Name(), err)
		}
		*a.dst = buf
	}
	return &sc, nil
}

// State is one context of a model: its key/value cache, the tokens the cache
// holds, and scratch buffers. Tokens are appended with Eval and the cache is
// rewound with Truncate. A State is used by one goroutine at a time.
type State struct {
	model    *Model
	capacity int
	batch    int
	caches   []KVCache
	scratch  map[Backend]*scratch
	tokens   []int32
	hidden   []float32 // host copy of x, used when crossing backends
	logits   Buffer    // on the head backend, batch rows of Vocab
	embedBuf []float32
	// interrupt is raised when the context of a running Eval is cancelled.
	interrupt atomic.Bool
}

// NewState allocates a context of ctxLen positions (0 means the model's
// training context length).
func (m *Model) NewState(ctxLen int) (*State, error) {
	if ctxLen <= 0 {
		ctxLen = m.Config.ContextLen
	}
	if ctxLen > maxDimension {
		return nil, fmt.Errorf("context length %d is too large", ctxLen)
	}
	batch := min(DefaultBatch, ctxLen)
	s := &State{model: m, capacity: ctxLen, batch: batch, scratch: map[Backend]*scratch{}}
	for i := range m.layers {
		c, err := m.layers[i].backend.AllocKV(ctxLen, m.Config.KVDim(), KVF32)
		if err != nil {
			return nil, fmt.Errorf("allocate KV cache for layer %d: %w", i, err)
		}
		s.caches = append(s.caches, c)
	}
	for _, b := range m.backends {
		sc, err := newScratch(b, m.Config, batch)
		if err != nil {
			return nil, err
		}
		s.scratch[b] = sc
	}
	var err error
	if s.logits, err = m.head.Alloc(batch * m.Config.Vocab); err != nil {
		return nil, fmt.Errorf("allocate logits on %s: %w", m.head.Name(), err)
	}
	s.embedBuf = make([]float32, batch*m.Config.Dim)
	return s, nil
}

// Model returns the state's model.
func (s *State) Model() *Model { return s.model }

// Capacity returns the number of positions the context holds.
func (s *State) Capacity() int { return s.capacity }

// Len returns the number of positions evaluated so far.
func (s *State) Len() int { return len(s.tokens) }

// Tokens returns the tokens held by the cache, in order. The slice must not be modified.
func (s *State) Tokens() []int32 { return s.tokens }

// Truncate rewinds the context to its first n positions; later positions
// are forgotten and will be overwritten.
func (s *State) Truncate(n int) {
	if n < len(s.tokens) {
		s.tokens = s.tokens[:max(n, 0)]
	}
}

// Eval evaluates tokens at the next positions of the context and returns
// the logits: of the last token only, or of every token (rows of Vocab
// floats) when all is true. The context's cancellation is checked between
// layers; a cancelled evaluation leaves the state as it was before the call.
func (s *State) Eval(ctx context.Context, tokens []int32, all bool) ([]float32, error) {
	if len(tokens) == 0 {
		return nil, errors.New("eval: no tokens")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("eval: %w", context.Cause(ctx))
	}
	if len(s.tokens)+len(tokens) > s.capacity {
		return nil, fmt.Errorf("eval: %w: %d tokens held + %d new > %d", ErrContextFull, len(s.tokens), len(tokens), s.capacity)
	}
	vocab := s.model.Config.Vocab
	var out []float32
	if all {
		out = make([]float32, 0, len(tokens)*vocab)
	}
	start := len(s.tokens)
	s.interrupt.Store(false)
	for _, b := range s.model.backends {
		if ib, ok := b.(Interruptible); ok {
			ib.ResetInterrupt()
		}
	}
	stop := context.AfterFunc(ctx, func() {
		s.interrupt.Store(true)
		for _, b := range s.model.backends {
			if ib, ok := b.(Interruptible); ok {
				ib.Interrupt()
			}
		}
	})
	defer stop()
	for off := 0; off < len(tokens); off += s.batch {
		chunk := tokens[off:min(off+s.batch, len(tokens))]
		last := off+len(chunk) == len(tokens)
		rows := 0
		switch {
		case all:
			rows = len(chunk)
		case last:
			rows = 1
		}
		logits, err := s.forward(ctx, chunk, rows)
		if err != nil {
			s.tokens = s.tokens[:start]
			return nil, fmt.Errorf("eval: %w", err)
		}
		s.tokens = append(s.tokens, chunk...)
		if all {
			out = append(out, logits...)
		} else if last {
			out = logits
		}
	}
	return out, nil
}

// forward runs one batch through the model at the next positions and
// returns the logits of its last outRows tokens.
func (s *State) forward(ctx context.Context, tokens []int32, outRows int) ([]float32, error) {
	m := s.model
	c := m.Config
	n := len(tokens)
	pos := len(s.tokens)
	if err := m.embedTokens(s.embedBuf[:n*c.Dim], tokens); err != nil {
		return nil, err
	}
	hidden := s.embedBuf[:n*c.Dim]
	var cur Backend
	var sc *scratch
	rope := RoPEParams{Tokens: n, StartPos: pos, HeadDim: c.HeadDim, Dims: c.RopeDims, Base: c.RopeBase, Scale: c.RopeScale}
	for li := range m.layers {
		if s.interrupt.Load() || ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		l := &m.layers[li]
		if l.backend != cur {
			if cur != nil {
				var err error
				if hidden, err = s.readHidden(cur, sc, n); err != nil {
					return nil, err
				}
			}
			cur = l.backend
			sc = s.scratch[cur]
			cur.Write(sc.x, hidden)
		}
		b := cur
		// Attention block.
		b.RMSNorm(sc.xn, sc.x, l.attnNorm, n, c.NormEps)
		b.MatMul(sc.q, l.wq, sc.xn, n)
		b.MatMul(sc.k, l.wk, sc.xn, n)
		b.MatMul(sc.v, l.wv, sc.xn, n)
		rope.Heads = c.Heads
		b.RoPE(sc.q, rope)
		rope.Heads = c.KVHeads
		b.RoPE(sc.k, rope)
		b.Attention(sc.att, sc.q, sc.k, sc.v, s.caches[li], AttentionParams{
			Tokens: n, StartPos: pos, Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim,
		})
		b.MatMul(sc.proj, l.wo, sc.att, n)
		b.Add(sc.x, sc.proj, n*c.Dim)
		// Feed-forward block.
		b.RMSNorm(sc.xn, sc.x, l.ffnNorm, n, c.NormEps)
		b.MatMul(sc.gate, l.ffnGate, sc.xn, n)
		b.MatMul(sc.up, l.ffnUp, sc.xn, n)
		b.SwiGLU(sc.gate, sc.gate, sc.up, n*c.FFN)
		b.MatMul(sc.proj, l.ffnDown, sc.gate, n)
		b.Add(sc.x, sc.proj, n*c.Dim)
	}
	if s.interrupt.Load() {
		return nil, context.Cause(ctx)
	}
	if outRows == 0 {
		if cur != nil {
			// Finish the batch's work before reporting success.
			if _, err := s.readHidden(cur, sc, 1); err != nil {
				return nil, err
			}
		}
		if s.interrupt.Load() {
			return nil, context.Cause(ctx)
		}
		return nil, nil
	}
	if cur != m.head {
		var err error
		if hidden, err = s.readHidden(cur, sc, n); err != nil {
			return nil, err
		}
		cur = m.head
		sc = s.scratch[cur]
		cur.Write(sc.x, hidden)
	}
	b := cur
	first := n - outRows
	if first > 0 {
		b.Copy(sc.xn, 0, sc.x, first*c.Dim, outRows*c.Dim)
		b.Copy(sc.x, 0, sc.xn, 0, outRows*c.Dim)
	}
	b.RMSNorm(sc.xn, sc.x, m.outNorm, outRows, c.NormEps)
	b.MatMul(s.logits, m.output, sc.xn, outRows)
	out := make([]float32, outRows*c.Vocab)
	if err := b.Read(out, s.logits); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if s.interrupt.Load() {
		return nil, context.Cause(ctx)
	}
	return out, nil
}

// readHidden copies the first n rows of the hidden state of backend b to the host.
func (s *State) readHidden(b Backend, sc *scratch, n int) ([]float32, error) {
	c := s.model.Config
	if len(s.hidden) < s.batch*c.Dim {
		s.hidden = make([]float32, s.batch*c.Dim)
	}
	h := s.hidden[:n*c.Dim]
	if err := b.Read(h, sc.x); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return h, nil
}
