package compute

// Kernels selects how the shaders split their work.
type Kernels int

const (
	// KernelsAuto picks serial kernels on CPU rasterisers, parallel ones elsewhere.
	KernelsAuto Kernels = iota
	// KernelsParallel splits each dot product and each row over a workgroup
	// and sums with shared-memory (or subgroup) reductions: the layout GPUs need.
	KernelsParallel
	// KernelsSerial gives each output to one invocation and uses no
	// barriers: on llvmpipe, where a barrier costs a context switch per
	// invocation, it is several times faster.
	KernelsSerial
)

// String names the choice.
func (k Kernels) String() string {
	switch k {
	case KernelsParallel:
		return "parallel"
	case KernelsSerial:
		return "serial"
	}
	return "auto"
}

// Options configure a backend.
type Options struct {
	// MaxStorageBlock, when positive and below the device's limit, caps
	// the bytes bound to one storage block, so tests can exercise the
	// splitting of large tensors with small ones.
	MaxStorageBlock int64
	// NoSubgroups makes the shaders use shared-memory reductions even where
	// subgroup operations exist.
	NoSubgroups bool
	// Kernels chooses between the serial and the parallel shaders (see
	// Kernels); the zero value picks by device.
	Kernels Kernels
	// FloatActivations multiplies weights by float32 activations as they
	// are. By default activations are first rounded as ggml rounds them for
	// each weight type (to Q8_0, Q8_K, F16 or BF16 values), so that results
	// agree with llama.cpp and the CPU backend.
	FloatActivations bool
	// MemoryLimit, when positive, caps the bytes of GPU buffers the backend
	// holds: allocations beyond it fail with ErrOutOfMemory, as on a GPU
	// with that much memory.
	MemoryLimit int64
}
