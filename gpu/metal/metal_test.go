//go:build darwin && cgo

package metal_test

import (
	"testing"

	"github.com/llamadesk/llamadesk/gpu/compute"
	"github.com/llamadesk/llamadesk/gpu/internal/gputest"
	"github.com/llamadesk/llamadesk/gpu/metal"
)

// These tests run on a Mac: the GPU test suite that the OpenGL backend
// passes on Linux, on Metal. They skip where MTLCreateSystemDefaultDevice
// gives no device (failing under CI=true).

func newBackend(tb testing.TB, opts metal.Options) *metal.Backend {
	tb.Helper()
	return gputest.OpenOrSkip(tb, metal.ErrUnavailable, "no Metal device", func() (*metal.Backend, error) { return metal.New(opts) })
}

// suite is the GPU test suite on Metal, which has only the parallel kernels.
var suite = gputest.Suite{
	Open: func(tb testing.TB, o compute.Options) gputest.Backend {
		return newBackend(tb, o)
	},
	Kernels: []compute.Kernels{compute.KernelsParallel},
}

// TestSuite runs every check of the GPU test suite (gputest.Suite.Run).
func TestSuite(t *testing.T) { suite.Run(t) }

// TestProbe checks that Probe describes the device New uses.
func TestProbe(t *testing.T) {
	g := newBackend(t, metal.Options{})
	info, err := metal.Probe()
	if err != nil {
		t.Fatal(err)
	}
	if info.Name == "" || info.Name != g.Info().Name || info.MaxBuffer < 1<<24 {
		t.Errorf("Probe = %+v, backend %+v", info, g.Info())
	}
	k, sg := g.Kernels()
	t.Logf("%s; %s kernels, subgroups %v", info.Summary(), k, sg)
}
