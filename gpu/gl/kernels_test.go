//go:build linux && cgo

package gl_test

import (
	"testing"

	"github.com/llamadesk/llamadesk/gpu/compute"
	"github.com/llamadesk/llamadesk/gpu/gl"
	"github.com/llamadesk/llamadesk/gpu/internal/gputest"
)

// newBackend creates a GL backend, skipping the test where no OpenGL 4.3
// context can be made (failing under CI=true).
func newBackend(tb testing.TB, opts gl.Options) *gl.Backend {
	tb.Helper()
	return gputest.OpenOrSkip(tb, gl.ErrUnavailable, "no OpenGL 4.3 compute context", func() (*gl.Backend, error) { return gl.New(opts) })
}

// suite is the GPU test suite on OpenGL, with the context
// LLAMADESK_GL_CONTEXT asks for (EGL, unless it says glfw).
var suite = suiteWith("")

// suiteWith is the GPU test suite on OpenGL contexts of a kind.
func suiteWith(context string) gputest.Suite {
	return gputest.Suite{Open: func(tb testing.TB, o compute.Options) gputest.Backend {
		return newBackend(tb, gl.Options{Options: o, Context: context})
	}}
}

// TestSuite runs every check of the GPU test suite (gputest.Suite.Run).
func TestSuite(t *testing.T) { suite.Run(t) }

// TestProbe checks that Probe describes the device New uses.
func TestProbe(t *testing.T) {
	g := newBackend(t, gl.Options{})
	info, err := gl.Probe()
	if err != nil {
		t.Fatal(err)
	}
	if info.Renderer == "" || info.Renderer != g.Info().Renderer || info.MaxStorageBlock < 1<<24 {
		t.Errorf("Probe = %+v, backend %+v", info, g.Info())
	}
	t.Logf("%s via %s; subgroups %v; max storage block %d MiB", info.Summary(), info.Platform, info.Subgroups, info.MaxStorageBlock>>20)
}
