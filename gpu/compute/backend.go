package compute

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
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

// Interface checks.
var (
	_ engine.Backend = (*Backend)(nil)
	_ engine.Buffer  = (*buffer)(nil)
	_ engine.Weight  = (*weight)(nil)
	_ engine.KVCache = (*kvCache)(nil)
)
