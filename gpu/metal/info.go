package metal

import (
	"errors"
	"fmt"

	"github.com/llamadesk/llamadesk/gpu/compute"
)

// ErrUnavailable reports that no Metal device can be used: the binary was
// built without the backend (it needs macOS and cgo), the Mac has no Metal
// GPU, or a program did not compile. Errors of New and Probe wrap it.
var ErrUnavailable = errors.New("Metal is unavailable")

// ErrOutOfMemory reports that the GPU (or Options.MemoryLimit) could not
// hold an allocation; it is compute.ErrOutOfMemory.
var ErrOutOfMemory = compute.ErrOutOfMemory

// Info describes the Metal device.
type Info struct {
	Name string // MTLDevice.name, e.g. "Apple M2 Pro"
	// Unified is true when the GPU shares the system's memory (Apple
	// silicon): weights are then used in place from the mapped file.
	Unified bool
	// SIMDReductions is true when the GPU has SIMD-group reductions
	// (simd_sum; Apple7 and Mac2 families): the kernels then reduce with
	// them.
	SIMDReductions bool
	// WorkingSet is recommendedMaxWorkingSetSize: the memory the GPU can
	// use without hurting performance.
	WorkingSet int64
	// MaxBuffer is maxBufferLength.
	MaxBuffer int64
}

// Summary is a one-line description for logs and the UI, such as
// "Apple M2 Pro (Metal; unified memory, 21.3 GiB working set)".
func (i Info) Summary() string {
	mem := "discrete memory"
	if i.Unified {
		mem = "unified memory"
	}
	return fmt.Sprintf("%s (Metal; %s, %.1f GiB working set)", i.Name, mem, float64(i.WorkingSet)/(1<<30))
}

// Options configure a backend (see compute.Options).
type Options = compute.Options
