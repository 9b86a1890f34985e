//go:build !darwin || !cgo

package metal

import (
	"fmt"

	"github.com/llamadesk/llamadesk/engine"
)

// Built reports whether this build has the Metal backend.
const Built = false

// Backend is the Metal backend; this build has none (it needs macOS and
// cgo), so New always fails.
type Backend struct{ engine.Backend }

// New reports that this build has no Metal backend.
func New(Options) (*Backend, error) {
	return nil, fmt.Errorf("%w: this build has no Metal backend (it needs macOS and cgo)", ErrUnavailable)
}

// Probe reports that this build has no Metal backend.
func Probe() (Info, error) {
	_, err := New(Options{})
	return Info{}, err
}

// Info describes the backend's GPU.
func (b *Backend) Info() Info { return Info{} }

// MemoryUsed returns the bytes of GPU memory the backend holds.
func (b *Backend) MemoryUsed() int64 { return 0 }
