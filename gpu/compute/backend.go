package compute

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
	"github.com/llamadesk/llamadesk/gpu/kernels"
)

// maxPending is the most commands recorded before they are sent to the GPU
// without waiting for a read.
const maxPending = 8192

// Backend implements engine.Backend on a Device: it decides the programs,
// buffers, bindings, grids and parameters of every operation (the plan),
// and the Device runs them. Its methods record commands; Read sends them
// to the device and waits.
type Backend struct {
	dev      Device
	name     string // engine.Backend's Name
	desc     string // the device, for messages
	lim      Limits
	subs     bool            // shaders use subgroup reductions
	v        kernels.Variant // how the kernels split work
	floatAct bool            // skip the rounding of activations
	acts     map[gguf.TensorType]*actScratch
	programs map[string]uint32
	rec      recorder
	rope     ropeTable
	closed   bool
	// interrupted is set by Interrupt (from any goroutine) until ResetInterrupt.
	interrupted atomic.Bool
	sizes       map[uint32]int64 // bytes of each live buffer
	used        int64            // bytes of the live buffers
	limit       int64            // Options.MemoryLimit
	err         error            // the first failure since the last Read (see Read)

	// Buffers whose Go objects were garbage collected, deleted at the next flush.
	garbage struct {
		sync.Mutex
		names  []uint32
		closed bool
	}
}

// actScratch holds the last activations rounded for one activation type.
type actScratch struct {
	buf     *buffer
	src     uint32 // the buffer they came from, at version
	version uint64
	count   int
}

// ropeTable is the last uploaded table of RoPE cosines and sines.
type ropeTable struct {
	buf *buffer
	key engine.RoPEParams // Heads and HeadDim zeroed
}

// New makes a backend named name (engine.Backend's Name) on a device
// described by desc (for messages), and compiles the programs every model
// needs. The backend owns the device: Close closes it, and so does New
// when it fails.
func New(dev Device, name, desc string, opts Options) (*Backend, error) {
	lim := dev.Limits()
	if opts.MaxStorageBlock > 0 && opts.MaxStorageBlock < lim.MaxBinding {
		lim.MaxBinding = opts.MaxStorageBlock &^ 15
	}
	b := &Backend{dev: dev, name: name, desc: desc, lim: lim, programs: map[string]uint32{},
		acts: map[gguf.TensorType]*actScratch{}, floatAct: opts.FloatActivations,
		sizes: map[uint32]int64{}, limit: opts.MemoryLimit, rec: newRecorder(lim.ParamsAlign)}
	b.v = kernels.Parallel
	if opts.Kernels == KernelsSerial || (opts.Kernels == KernelsAuto && lim.Software) {
		b.v = kernels.Serial
	}
	b.subs = lim.Subgroups && !opts.NoSubgroups && !b.v.Serial()
	for _, k := range []kernels.Spec{b.v.RMSNorm(), kernels.RoPE, b.v.Attention(engine.KVF16), kernels.SwiGLU, kernels.Add, kernels.KVStore(engine.KVF16)} {
		if _, err := b.program(k); err != nil {
			dev.Close()
			return nil, err
		}
	}
	return b, nil
}

// Kernels reports the kernel variant the backend runs and whether it
// reduces with subgroup operations.
func (b *Backend) Kernels() (k Kernels, subgroups bool) {
	if b.v.Serial() {
		return KernelsSerial, false
	}
	return KernelsParallel, b.subs
}

// Name implements engine.Backend.
func (b *Backend) Name() string { return b.name }

// program returns the compiled program of a kernel, compiling it on first use.
func (b *Backend) program(k kernels.Spec) (uint32, error) {
	key := k.Key()
	if p, ok := b.programs[key]; ok {
		return p, nil
	}
	p, err := b.dev.Program(k, b.subs)
	if err != nil {
		return 0, fmt.Errorf("%s: compile %s (%v; files %v) on %s: %w", b.name, k.Name, k.Defines, k.Files(), b.desc, err)
	}
	b.programs[key] = p
	return p, nil
}

// recordProgram returns the program of a kernel for an operation being
// recorded (New, LoadWeight and AllocKV compile them first). A failure is
// kept for Read, and 0 returned: the operation then records nothing.
func (b *Backend) recordProgram(k kernels.Spec) uint32 {
	p, err := b.program(k)
	if err != nil {
		b.fail(err)
		return 0
	}
	return p
}

func (b *Backend) checkOpen() {
	if b.closed {
		panic(b.name + ": the backend is closed")
	}
}

// Close implements engine.Backend: it closes the device and with it every
// buffer and program.
func (b *Backend) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.garbage.Lock()
	b.garbage.closed = true
	b.garbage.names = nil
	b.garbage.Unlock()
	b.rec.take()
	return b.dev.Close()
}

// release queues buffers whose Go objects are gone for deletion.
func (b *Backend) release(names []uint32) {
	b.garbage.Lock()
	defer b.garbage.Unlock()
	if !b.garbage.closed {
		b.garbage.names = append(b.garbage.names, names...)
	}
}

// flush sends the recorded commands to the device, with the deletion of
// collected buffers and the read back (if not nil), and waits.
func (b *Backend) flush(read *Readback) {
	b.checkOpen()
	b.garbage.Lock()
	dead := b.garbage.names
	b.garbage.names = nil
	b.garbage.Unlock()
	cmds, params, data := b.rec.take()
	if len(cmds) == 0 && read == nil && len(dead) == 0 {
		return
	}
	for _, n := range dead {
		b.used -= b.sizes[n]
		delete(b.sizes, n)
	}
	if err := b.dev.Run(&Batch{Cmds: cmds, Params: params, Data: data, Delete: dead, Read: read}); err != nil {
		b.fail(fmt.Errorf("%s: %w", b.name, err))
	}
}

// fail remembers the first failure of recorded work, which the next Read
// returns.
func (b *Backend) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// maybeFlush sends long command lists early.
func (b *Backend) maybeFlush() {
	if b.rec.pending() >= maxPending {
		b.flush(nil)
	}
}

// buffer is a GPU array of float32 (engine.Buffer).
type buffer struct {
	name  uint32
	n     int
	bytes int64
}

// Len implements engine.Buffer.
func (x *buffer) Len() int { return x.n }

// newBuffer allocates a zeroed GPU buffer of n floats (rounded up to a
// whole vec4) and arranges for its deletion when the Go object is collected.
func (b *Backend) newBuffer(n int) (*buffer, error) {
	b.checkOpen()
	if n < 0 || int64(n) > math.MaxInt64/8 {
		return nil, fmt.Errorf("%s: a buffer of %d floats", b.name, n)
	}
	size := (int64(max(n, 1))*4 + 15) &^ 15
	name, err := b.allocate(size, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.name, err)
	}
	x := &buffer{name: name, n: n, bytes: size}
	b.rec.bump(name) // a new buffer may reuse a deleted one's name
	runtime.AddCleanup(x, b.release, []uint32{name})
	return x, nil
}

// allocate creates a device buffer of size bytes holding data (zeros when data
// is nil) within the memory limit, and counts it.
func (b *Backend) allocate(size int64, data []byte) (uint32, error) {
	if b.limit > 0 && b.used+size > b.limit {
		return 0, fmt.Errorf("allocate %d MiB of GPU memory: %w (%d MiB in use of the %d MiB limit)",
			size>>20, ErrOutOfMemory, b.used>>20, b.limit>>20)
	}
	name, err := b.dev.NewBuffer(size, data)
	if err != nil {
		return 0, err
	}
	b.used += size
	b.sizes[name] = size
	return name, nil
}

// MemoryUsed returns the bytes of the GPU buffers the backend holds.
func (b *Backend) MemoryUsed() int64 { return b.used }

// Alloc implements engine.Backend.
func (b *Backend) Alloc(n int) (engine.Buffer, error) {
	return b.newBuffer(n)
}

func asBuffer(x engine.Buffer) *buffer {
	bb, ok := x.(*buffer)
	if !ok {
		panic(fmt.Sprintf("compute: buffer of type %T is not from a GPU backend", x))
	}
	return bb
}

// rangeOf binds count floats of x starting at float off: the binding starts
// at an aligned offset at or below, and rel is off's position in it. A
// range larger than a storage block is kept as the failure Read reports,
// and ok is false: the operation records nothing.
func (b *Backend) rangeOf(x *buffer, off, count int) (bind binding, rel uint32, ok bool) {
	if off < 0 || count < 0 || off+count > x.n {
		panic(fmt.Sprintf("%s: range [%d, %d) is outside a buffer of %d floats", b.name, off, off+count, x.n))
	}
	start := int64(off) * 4
	base := start - start%b.lim.BindAlign
	end := min((start+int64(count)*4+15)&^15, x.bytes)
	size := max(end-base, 16)
	if size > b.lim.MaxBinding {
		b.fail(fmt.Errorf("%s: %d MiB to bind at once exceed the storage block limit of %s (%d MiB)", b.name, size>>20, b.desc, b.lim.MaxBinding>>20))
		return binding{}, 0, false
	}
	return binding{name: x.name, off: base, size: size}, uint32((start - base) / 4), true
}

// whole binds all of a weight or table buffer.
func whole(name uint32, size int64) binding { return binding{name: name, size: size} }

// grid folds n workgroups into the x and y dimensions.
func (b *Backend) grid(n int) [3]int {
	if n <= b.lim.MaxGroups {
		return [3]int{max(n, 1), 1, 1}
	}
	return [3]int{b.lim.MaxGroups, (n + b.lim.MaxGroups - 1) / b.lim.MaxGroups, 1}
}

// Write implements engine.Backend.
func (b *Backend) Write(dst engine.Buffer, src []float32) {
	b.checkOpen()
	d := asBuffer(dst)
	if len(src) > d.n {
		panic(fmt.Sprintf("%s: write of %d floats into a buffer of %d", b.name, len(src), d.n))
	}
	b.rec.upload(d.name, 0, src)
	b.maybeFlush()
}

// Read implements engine.Backend: it runs every recorded command, copies
// the result back and returns the first failure since the previous Read.
func (b *Backend) Read(dst []float32, src engine.Buffer) error {
	b.checkOpen()
	s := asBuffer(src)
	n := min(len(dst), s.n)
	rb := &Readback{Buf: s.name, Barrier: b.rec.readBarrier(s.name)}
	if n > 0 {
		rb.Dst = unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*n)
	}
	// Other buffers' writes may still be in flight: the hazards stay recorded.
	b.flush(rb)
	err := b.err
	b.err = nil
	return err
}

// Interrupt implements engine.Interruptible: the device skips the
// commands it has not started (between command buffers on Metal, between
// commands on OpenGL), until ResetInterrupt. The engine discards the
// results. It may be called from any goroutine.
func (b *Backend) Interrupt() {
	b.interrupted.Store(true)
	b.dev.Interrupt(true)
}

// ResetInterrupt implements engine.Interruptible. After an interrupt,
// activations rounded and angles tabulated by commands that may have been
// skipped are computed again.
func (b *Backend) ResetInterrupt() {
	if b.interrupted.Swap(false) {
		for _, s := range b.acts {
			s.src = 0
		}
		b.rope.key = engine.RoPEParams{}
	}
	b.dev.Interrupt(false)
}

// Copy implements engine.Backend.
func (b *Backend) Copy(dst engine.Buffer, dstOff int, src engine.Buffer, srcOff, count int) {
	b.checkOpen()
	d, s := asBuffer(dst), asBuffer(src)
	if count <= 0 {
		return
	}
	if dstOff < 0 || srcOff < 0 || dstOff+count > d.n || srcOff+count > s.n {
		panic(fmt.Sprintf("%s: copy of %d floats from %d (of %d) to %d (of %d) is out of range", b.name, count, srcOff, s.n, dstOff, d.n))
	}
	if d == s && srcOff < dstOff+count && dstOff < srcOff+count {
		panic(b.name + ": copy between overlapping ranges of one buffer")
	}
	b.rec.copyBuffer(d.name, int64(dstOff)*4, s.name, int64(srcOff)*4, int64(count)*4)
	b.maybeFlush()
}

// chunk is a range of a weight's rows stored in its own buffers.
type chunk struct {
	row0, rows int
	main, aux  binding
}

// weight is a weight tensor on the GPU (engine.Weight).
type weight struct {
	name       string
	typ        gguf.TensorType // GPU type: norm vectors are stored as F32
	rows, cols int
	chunks     []chunk
	act        gguf.TensorType // how activations are rounded first (F32: not)
	mv, mm     uint32          // matmul programs for one token and a batch; 0 for vectors
}

// Rows implements engine.Weight.
func (w *weight) Rows() int { return w.rows }

// Cols implements engine.Weight.
func (w *weight) Cols() int { return w.cols }

func asWeight(w engine.Weight) *weight {
	ww, ok := w.(*weight)
	if !ok {
		panic(fmt.Sprintf("compute: weight of type %T is not from a GPU backend", w))
	}
	return ww
}

// LoadWeight implements engine.Backend: it repacks the GGUF blocks (see
// kernels.Layout) and uploads them, in row chunks that each fit a storage
// block. Blocks the shaders read as they are in the file (kernels.AuxNone)
// are used in place where the device can (Device.WrapBuffer). Vectors
// (norm weights) are decoded to float32.
func (b *Backend) LoadWeight(name string, typ gguf.TensorType, rows, cols int, data []byte) (engine.Weight, error) {
	b.checkOpen()
	if rows < 1 || cols < 1 {
		return nil, fmt.Errorf("%s: bad shape %d×%d", b.name, rows, cols)
	}
	if bs := typ.BlockSize(); bs == 0 || cols%bs != 0 {
		return nil, fmt.Errorf("%s: row length %d is not a multiple of the %s block size", b.name, cols, typ)
	}
	if want := rows * typ.RowBytes(cols); len(data) != want {
		return nil, fmt.Errorf("%s: %d bytes of data, want %d", b.name, len(data), want)
	}
	if _, err := kernels.LayoutOf(typ); err != nil {
		return nil, fmt.Errorf("%s: %w", b.name, err)
	}
	w := &weight{name: name, typ: typ, rows: rows, cols: cols, act: quant.VecDotType(typ)}
	if w.act == gguf.TypeQ8_1 {
		w.act = gguf.TypeQ8_0 // the same values; Q8_1 adds a sum
	}
	if rows == 1 {
		f := make([]float32, cols)
		if err := quant.Dequantize(typ, data, f); err != nil {
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		w.typ = gguf.TypeF32
		data = float32Bytes(f)
	}
	l, _ := kernels.LayoutOf(w.typ)
	var err error
	if cols%l.BlockElems == 0 {
		if w.mv, err = b.program(b.v.MatMul(w.typ, 1)); err != nil {
			return nil, err
		}
		if w.mm, err = b.program(b.v.MatMul(w.typ, kernels.BatchTokens)); err != nil {
			return nil, err
		}
		if w.act != gguf.TypeF32 && !b.floatAct {
			if _, err = b.program(kernels.ActRound(w.act)); err != nil {
				return nil, err
			}
		}
	} else if rows > 1 {
		return nil, fmt.Errorf("%s: row length %d is not a multiple of %d", b.name, cols, l.BlockElems)
	}
	var per int
	if rows == 1 {
		per = 1
	} else if per, err = kernels.ChunkRows(l, rows, cols, b.lim.MaxBinding); err != nil {
		return nil, fmt.Errorf("%s: %w", b.name, err)
	}
	rowBytes := len(data) / rows
	var names []uint32
	for r0 := 0; r0 < rows; r0 += per {
		nr := min(per, rows-r0)
		src := data[r0*rowBytes : (r0+nr)*rowBytes]
		c := chunk{row0: r0, rows: nr}
		var main, aux []byte
		if rows == 1 {
			main = src
		} else {
			main, aux = kernels.Repack(l, src)
		}
		inPlace := rows > 1 && l.Aux == kernels.AuxNone // main is the file's memory
		if c.main, err = b.place(main, inPlace); err == nil && aux != nil {
			c.aux, err = b.upload(aux)
		}
		for _, n := range []uint32{c.main.name, c.aux.name} {
			if n != 0 {
				names = append(names, n)
			}
		}
		if err != nil {
			b.release(names)
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		w.chunks = append(w.chunks, c)
	}
	runtime.AddCleanup(w, b.release, names)
	return w, nil
}

// place puts a weight's bytes on the device: in place when inPlace says
// they are the file's and the device can read them there, else copied.
func (b *Backend) place(data []byte, inPlace bool) (binding, error) {
	if !inPlace || len(data) == 0 {
		return b.upload(data)
	}
	size := int64(len(data))
	if b.limit > 0 && b.used+size > b.limit {
		return binding{}, fmt.Errorf("use %d MiB of memory on the GPU: %w (%d MiB in use of the %d MiB limit)",
			size>>20, ErrOutOfMemory, b.used>>20, b.limit>>20)
	}
	name, off, ok := b.dev.WrapBuffer(data)
	if !ok {
		return b.upload(data)
	}
	b.used += size
	b.sizes[name] = size
	return binding{name: name, off: off, size: size}, nil
}

// upload copies bytes into a new buffer (padded to 16 bytes).
func (b *Backend) upload(data []byte) (binding, error) {
	size := (int64(len(data)) + 15) &^ 15
	if size != int64(len(data)) {
		padded := make([]byte, size)
		copy(padded, data)
		data = padded
	}
	name, err := b.allocate(size, data)
	return whole(name, size), err
}

// kvCache is one layer's key and value cache (engine.KVCache): capacity
// rows of dim values each, stored as typ (see kvlayout.glsl): float32,
// fp16 pairs, or Q8_0 quants followed by the row's fp16 scales.
type kvCache struct {
	k, v     *buffer
	capacity int
	dim      int
	typ      engine.KVType
	rowWords int // words of one position's row
}

// Capacity implements engine.KVCache.
func (c *kvCache) Capacity() int { return c.capacity }

// AllocKV implements engine.Backend: float32, fp16 and Q8_0 caches. Each
// cache is bound whole by attention, so it must fit one storage block.
func (b *Backend) AllocKV(capacity, kvDim int, typ engine.KVType) (engine.KVCache, error) {
	b.checkOpen()
	switch typ {
	case engine.KVF32, engine.KVF16:
	case engine.KVQ8_0:
		if kvDim%32 != 0 {
			return nil, fmt.Errorf("%s: %w: a Q8_0 cache needs rows of whole 32-value blocks, not %d values", b.name, engine.ErrUnsupportedKV, kvDim)
		}
	default:
		return nil, fmt.Errorf("%s: %w: %s", b.name, engine.ErrUnsupportedKV, typ)
	}
	if capacity <= 0 || kvDim <= 0 || kvDim%4 != 0 || capacity > math.MaxInt32/kvDim {
		return nil, fmt.Errorf("%s: invalid KV cache size of %d positions × %d values", b.name, capacity, kvDim)
	}
	if _, err := b.program(b.v.Attention(typ)); err != nil {
		return nil, err
	}
	if typ != engine.KVF32 {
		if _, err := b.program(kernels.KVStore(typ)); err != nil {
			return nil, err
		}
	}
	rowWords := kernels.KVRowWords(typ, kvDim)
	words := capacity * rowWords
	if bytes := int64(words) * 4; bytes > b.lim.MaxBinding {
		return nil, fmt.Errorf("%s: a %s KV cache of %d positions × %d values takes %d MiB per layer, more than one storage block holds on %s (%d MiB); use a shorter context", b.name,
			typ, capacity, kvDim, bytes>>20, b.desc, b.lim.MaxBinding>>20)
	}
	k, err := b.newBuffer(words)
	if err != nil {
		return nil, err
	}
	v, err := b.newBuffer(words)
	if err != nil {
		return nil, err
	}
	return &kvCache{k: k, v: v, capacity: capacity, dim: kvDim, typ: typ, rowWords: rowWords}, nil
}

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

// float32Bytes views floats as little-endian bytes.
func float32Bytes(f []float32) []byte {
	out := make([]byte, 4*len(f))
	for i, v := range f {
		bits := math.Float32bits(v)
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	}
	return out
}

// Interface checks.
var (
	_ engine.Backend = (*Backend)(nil)
	_ engine.Buffer  = (*buffer)(nil)
	_ engine.Weight  = (*weight)(nil)
	_ engine.KVCache = (*kvCache)(nil)
)
