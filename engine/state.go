package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// StateOptions describe one context of a model.
type StateOptions struct {
	// Context is the number of positions the KV cache holds; 0 means the
	// model's training context length.
	Context int
	// KVType is the element type of the KV cache (KVF16 by default).
	KVType KVType
	// AllLogits says that the logits of every position will be asked for
	// (Eval with all, EvalEach): the memory check counts a batch of them.
	AllLogits bool
	// MemoryLimit, when positive, is the most memory the context may take
	// (KV cache, buffers and logits, see Needs): NewStateWith refuses a
	// larger one with an error saying how much it would need, instead of
	// allocating more than the machine has.
	MemoryLimit int64
}

// ErrTooLarge is wrapped by NewStateWith when a context needs more memory
// than StateOptions.MemoryLimit allows.
var ErrTooLarge = errors.New("not enough memory")

// State is one context of a model: its key/value cache, the tokens the cache
// holds, and scratch buffers. Tokens are appended with Eval and the cache is
// rewound with Truncate. A State is used by one goroutine at a time.
type State struct {
	model      *Model
	capacity   int
	batch      int
	kvType     KVType
	caches     []KVCache
	scratch    map[Backend]*scratch
	tokens     []int32
	hidden     []float32 // host copy of x, used when crossing backends
	logits     Buffer    // on the head backend, logitRows rows of Vocab
	logitRows  int
	hostLogits []float32 // the last batch's logits, read back
	embedBuf   []float32
	interrupts interrupts
}

// interrupts ties the interrupt flag to the Eval that raised it: a
// cancellation that arrives after its Eval returned (a context.AfterFunc
// that started late) must not touch the next Eval.
type interrupts struct {
	mu     sync.Mutex
	serial uint64      // numbers the Evals
	active uint64      // the running Eval's serial, 0 between Evals
	raised atomic.Bool // the running Eval was interrupted
}

// NewState allocates a context of ctxLen positions (0 means the model's
// training context length) with the default KV cache type.
func (m *Model) NewState(ctxLen int) (*State, error) {
	return m.NewStateWith(StateOptions{Context: ctxLen})
}

// NewStateWith allocates a context as o describes.
func (m *Model) NewStateWith(o StateOptions) (*State, error) {
	ctxLen := o.Context
	if ctxLen <= 0 {
		ctxLen = m.Config.ContextLen
	}
	if ctxLen > maxDimension {
		return nil, fmt.Errorf("context length %d is too large (at most %d)", ctxLen, maxDimension)
	}
	if o.KVType == KVQ8_0 && m.Config.HeadDim%32 != 0 {
		return nil, fmt.Errorf("%w: a q8_0 KV cache needs heads of a multiple of 32 values, not %d", ErrUnsupportedKV, m.Config.HeadDim)
	}
	o.Context = ctxLen
	need := m.Config.Needs(0, o)
	if o.MemoryLimit > 0 && need.Total() > o.MemoryLimit {
		return nil, fmt.Errorf("a context of %d tokens needs %s (%s KV cache as %s, %s buffers), more than the %s available: %w",
			ctxLen, FormatBytes(need.Total()), FormatBytes(need.KV), o.KVType, FormatBytes(need.Total()-need.KV),
			FormatBytes(o.MemoryLimit), ErrTooLarge)
	}
	batch := min(DefaultBatch, ctxLen)
	s := &State{model: m, capacity: ctxLen, batch: batch, kvType: o.KVType, scratch: map[Backend]*scratch{}}
	for i := range m.layers {
		c, err := m.layers[i].backend.AllocKV(ctxLen, m.Config.KVDim(), o.KVType)
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
	if err := s.ensureLogits(1); err != nil {
		return nil, err
	}
	s.embedBuf = make([]float32, batch*m.Config.Dim)
	return s, nil
}

// ensureLogits makes the logits buffer hold at least rows rows: one row
// (generation) until a caller asks for the logits of every position.
func (s *State) ensureLogits(rows int) error {
	if rows <= s.logitRows {
		return nil
	}
	m := s.model
	buf, err := m.head.Alloc(rows * m.Config.Vocab)
	if err != nil {
		return fmt.Errorf("allocate logits on %s: %w", m.head.Name(), err)
	}
	s.logits, s.logitRows = buf, rows
	return nil
}

// HostBytes returns the memory the state keeps on the host (beyond its
// backends' buffers): a batch of embeddings, the logits read back, and the
// hidden state when layers cross backends.
func (s *State) HostBytes() int64 {
	return 4 * int64(cap(s.embedBuf)+cap(s.hostLogits)+cap(s.hidden))
}

// KVType returns the element type of the state's KV cache.
func (s *State) KVType() KVType { return s.kvType }

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
	vocab := s.model.Config.Vocab
	var out []float32
	if all {
		out = make([]float32, 0, len(tokens)*vocab)
	}
	err := s.eval(ctx, tokens, all, func(_ int, row []float32) error {
		out = append(out, row...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EvalEach evaluates tokens like Eval with all set, but hands each
// position's logits to each (position in tokens, a row of Vocab floats
// valid during the call) instead of keeping them: memory stays bounded by
// one batch however long the prompt. An error from each stops the
// evaluation and is returned; the positions already evaluated stay.
func (s *State) EvalEach(ctx context.Context, tokens []int32, each func(i int, logits []float32) error) error {
	return s.eval(ctx, tokens, true, each)
}

// eval evaluates tokens and passes logits rows to emit: every row when all
// is set, else the last one.
func (s *State) eval(ctx context.Context, tokens []int32, all bool, emit func(int, []float32) error) error {
	if len(tokens) == 0 {
		return errors.New("eval: no tokens")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("eval: %w", context.Cause(ctx))
	}
	if len(s.tokens)+len(tokens) > s.capacity {
		return fmt.Errorf("eval: %w: %d tokens held + %d new > %d", ErrContextFull, len(s.tokens), len(tokens), s.capacity)
	}
	vocab := s.model.Config.Vocab
	start := len(s.tokens)
	serial := s.beginEval()
	defer s.endEval()
	stop := context.AfterFunc(ctx, func() { s.interrupt(serial) })
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
			return fmt.Errorf("eval: %w", err)
		}
		s.tokens = append(s.tokens, chunk...)
		for r := 0; r < rows; r++ {
			if err := emit(off+len(chunk)-rows+r, logits[r*vocab:(r+1)*vocab]); err != nil {
				return err
			}
		}
	}
	return nil
}

// beginEval starts an Eval: it clears the interrupt flags (of the state and
// of the backends) and returns the Eval's serial number.
func (s *State) beginEval() uint64 {
	in := &s.interrupts
	in.mu.Lock()
	defer in.mu.Unlock()
	in.serial++
	in.active = in.serial
	in.raised.Store(false)
	for _, b := range s.model.backends {
		if ib, ok := b.(Interruptible); ok {
			ib.ResetInterrupt()
		}
	}
	return in.serial
}

// endEval ends the running Eval: later interrupts for it do nothing.
func (s *State) endEval() {
	in := &s.interrupts
	in.mu.Lock()
	in.active = 0
	in.mu.Unlock()
}

// interrupt raises the interrupt of Eval serial, if it is still running.
func (s *State) interrupt(serial uint64) {
	in := &s.interrupts
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.active != serial {
		return
	}
	in.raised.Store(true)
	for _, b := range s.model.backends {
		if ib, ok := b.(Interruptible); ok {
			ib.Interrupt()
		}
	}
}

// errInterrupted reports an interrupted evaluation whose context gives no cause.
var errInterrupted = errors.New("evaluation interrupted")

// interrupted returns the error of an interrupted evaluation, or nil.
func (s *State) interrupted(ctx context.Context) error {
	if !s.interrupts.raised.Load() && ctx.Err() == nil {
		return nil
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return errInterrupted
}

// forward runs one batch through the model at the next positions and
// returns the logits of its last outRows tokens (valid until the next call).
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
		if err := s.interrupted(ctx); err != nil {
			return nil, err
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
	if err := s.interrupted(ctx); err != nil {
		return nil, err
	}
	if outRows == 0 {
		if cur != nil {
			// Finish the batch's work before reporting success.
			if _, err := s.readHidden(cur, sc, 1); err != nil {
				return nil, err
			}
		}
		if err := s.interrupted(ctx); err != nil {
			return nil, err
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
	if err := s.ensureLogits(outRows); err != nil {
		return nil, err
	}
	b.RMSNorm(sc.xn, sc.x, m.outNorm, outRows, c.NormEps)
	b.MatMul(s.logits, m.output, sc.xn, outRows)
	if cap(s.hostLogits) < outRows*c.Vocab {
		s.hostLogits = make([]float32, outRows*c.Vocab)
	}
	out := s.hostLogits[:outRows*c.Vocab]
	if err := b.Read(out, s.logits); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if err := s.interrupted(ctx); err != nil {
		return nil, err
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
