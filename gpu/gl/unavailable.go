//go:build !(linux || windows) || !cgo

package gl

import (
	"fmt"

	"github.com/llamadesk/llamadesk/engine"
)

// Built reports whether this build has the OpenGL backend.
const Built = false

// Backend is the OpenGL compute backend; this build has none (it needs
// Linux or Windows, and cgo), so New always fails.
type Backend struct{ engine.Backend }

// New reports that this build has no OpenGL backend.
func New(Options) (*Backend, error) {
	return nil, fmt.Errorf("%w: this build has no OpenGL backend (it needs Linux or Windows, and cgo)", ErrUnavailable)
}

// Probe reports that this build has no OpenGL backend.
func Probe() (Info, error) { return ProbeWith(Options{}) }

// ProbeWith reports that this build has no OpenGL backend.
func ProbeWith(Options) (Info, error) {
	_, err := New(Options{})
	return Info{}, err
}

// Info describes the backend's GPU.
func (b *Backend) Info() Info { return Info{} }

// MemoryUsed returns the bytes of GPU memory the backend holds.
func (b *Backend) MemoryUsed() int64 { return 0 }
