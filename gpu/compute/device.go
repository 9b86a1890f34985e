package compute

import (
	"errors"

	"github.com/llamadesk/llamadesk/gpu/kernels"
)

// ErrOutOfMemory reports that the GPU (or the backend's MemoryLimit) could
// not hold an allocation. Allocation errors wrap it, so that a caller can
// place fewer layers on the GPU.
var ErrOutOfMemory = errors.New("out of GPU memory")

// MaxBind is the number of storage buffers one dispatch binds; binding i
// of a command is the shaders' storage binding i+1 (0 holds the Params).
const MaxBind = 5

// The kinds of commands.
const (
	CmdDispatch = 1 // Program over Groups, with Buf/Off/Size bound and the Params at Params
	CmdCopy     = 2 // Size[0] bytes from Buf[0]@Off[0] to Buf[1]@Off[1]
	CmdUpload   = 3 // Size[0] bytes of Batch.Data from Off[1] to Buf[0]@Off[0]
)

// Barrier bits of a command: what must be visible to it before it runs.
const (
	// BarrierShader: storage writes of earlier dispatches, to this
	// dispatch's shader reads and writes (glMemoryBarrier's
	// SHADER_STORAGE bit).
	BarrierShader = 1
	// BarrierTransfer: storage writes of earlier dispatches, to copies,
	// uploads and reads back (glMemoryBarrier's BUFFER_UPDATE bit).
	BarrierTransfer = 2
)

// Cmd is one recorded command. Its layout is fixed: twelve 32-bit words
// then two arrays of 64-bit integers, with no padding, so that executors
// can hand a slice of commands to C as it is.
type Cmd struct {
	Kind    uint32
	Barrier uint32          // Barrier bits
	Program uint32          // a Device program
	Groups  [3]uint32       // workgroups in x, y, z
	Params  uint32          // byte offset of the dispatch's Params block in Batch.Params
	Buf     [MaxBind]uint32 // Device buffers, 0 for none
	Off     [MaxBind]int64  // byte offsets of the bound ranges
	Size    [MaxBind]int64  // byte sizes of the bound ranges
}

// Batch is the work a Device runs in one call: commands, then the
// deletion of buffers, then a read back.
type Batch struct {
	Cmds []Cmd
	// Params holds the dispatches' parameter blocks (kernels.ParamsSize
	// bytes each, at multiples of Limits.ParamsAlign).
	Params []byte
	// Data holds the bytes of the upload commands.
	Data []byte
	// Delete lists buffers to delete once the commands are done.
	Delete []uint32
	// Read, when not nil, is copied back after the commands.
	Read *Readback
}

// Readback is a copy of GPU memory to the host at the end of a Batch.
type Readback struct {
	Buf     uint32
	Off     int64
	Dst     []byte
	Barrier uint32 // Barrier bits needed before the copy
}

// Limits are what a Device allows.
type Limits struct {
	// MaxBinding is the most bytes bound to one storage block (and the
	// largest buffer made).
	MaxBinding int64
	// BindAlign is the alignment of a binding's offset (at least 16).
	BindAlign int64
	// ParamsAlign is the alignment of a parameter block in Batch.Params.
	ParamsAlign int
	// MaxGroups is the most workgroups in one grid dimension.
	MaxGroups int
	// Subgroups is true when the device runs subgroup reductions.
	Subgroups bool
	// Software is true for a CPU rasteriser, where the serial kernels are faster.
	Software bool
}

// Device runs a Backend's work on one GPU API (OpenGL, Metal): it compiles
// programs, owns buffers and executes batches of commands. Its methods are
// called from one goroutine at a time, except Interrupt.
type Device interface {
	// Limits returns the device's limits.
	Limits() Limits
	// Program compiles a kernel, with subgroup reductions or without, and
	// returns its handle (never 0).
	Program(k kernels.Spec, subgroups bool) (uint32, error)
	// NewBuffer creates a buffer of size bytes (a multiple of 16) holding
	// data, or zeros when data is nil, and returns its handle (never 0). An
	// allocation the GPU cannot hold gives an error wrapping ErrOutOfMemory.
	NewBuffer(size int64, data []byte) (uint32, error)
	// WrapBuffer makes a buffer that reads data in place, where the API can
	// (Metal, over memory-mapped files); off is data's offset in it. When
	// ok is false, the caller copies data with NewBuffer.
	WrapBuffer(data []byte) (id uint32, off int64, ok bool)
	// Run executes a batch and waits for it. After Interrupt(true), the
	// commands not yet started may be skipped (deletions and the read back
	// still happen).
	Run(b *Batch) error
	// Interrupt asks running and later batches to skip their commands
	// (true), or to run them all again (false). It may be called from any
	// goroutine.
	Interrupt(on bool)
	// Close releases the device with every buffer and program.
	Close() error
}
