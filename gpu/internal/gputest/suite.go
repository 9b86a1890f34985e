// Package gputest is the test suite of the GPU backends: every kernel
// against the CPU backend (and float64 references), memory failures, the
// release of collected buffers, and the golden checks of whole models. The
// OpenGL backend's tests run it on Linux (Mesa's llvmpipe in CI); the Metal
// backend's darwin tests run the same suite on a Mac.
package gputest

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/gpu/compute"
)

// Backend is what the suite needs of a GPU backend: both backends embed a
// *compute.Backend.
type Backend interface {
	engine.Backend
	MemoryUsed() int64
	Kernels() (k compute.Kernels, subgroups bool)
}

// Suite runs the checks on one GPU backend.
type Suite struct {
	// Open makes a backend with the options, closed when the test ends;
	// where the API has no device it skips the test (failing under
	// CI=true).
	Open func(tb testing.TB, opts compute.Options) Backend
	// Kernels lists the kernel variants the backend has (nil: serial and
	// parallel; Metal has only the parallel programs).
	Kernels []compute.Kernels
}

// Run runs every check of the suite as a subtest (TestSuite/MatMul, …):
// a backend's tests call it once, so that none of them can leave a check
// out (the Metal tests, which CI cannot run, least of all).
func (s Suite) Run(t *testing.T) {
	for _, c := range []struct {
		name  string
		check func(*testing.T)
	}{
		{"MatMul", s.MatMul}, {"ActivationRounding", s.ActivationRounding}, {"RMSNorm", s.RMSNorm},
		{"RoPE", s.RoPE}, {"Attention", s.Attention}, {"Elementwise", s.Elementwise},
		{"ReadWrite", s.ReadWrite}, {"BadInput", s.BadInput}, {"OutOfMemory", s.OutOfMemory},
		{"Release", s.Release}, {"LargeWeight", s.LargeWeight}, {"Golden", s.Golden},
		{"Interrupt", s.Interrupt}, {"KVMemory", s.KVMemory},
	} {
		t.Run(c.name, c.check)
	}
}

// variants returns the kernel variants the backend has.
func (s Suite) variants() []compute.Kernels {
	if s.Kernels == nil {
		return []compute.Kernels{compute.KernelsSerial, compute.KernelsParallel}
	}
	return s.Kernels
}

// has reports whether the backend has a kernel variant.
func (s Suite) has(k compute.Kernels) bool { return slices.Contains(s.variants(), k) }

// subgroups reports whether the backend's parallel kernels reduce with
// subgroup operations, so that the tests also run them without.
func (s Suite) subgroups(tb testing.TB) bool {
	if !s.has(compute.KernelsParallel) {
		return false
	}
	_, sg := s.open(tb, compute.Options{Kernels: compute.KernelsParallel}).Kernels()
	return sg
}

func (s Suite) open(tb testing.TB, opts compute.Options) Backend {
	tb.Helper()
	return s.Open(tb, opts)
}

// OpenOrSkip returns the backend open makes, closed when the test ends.
// Where open fails with an error wrapping unavailable (the machine has no
// such device), the test is skipped with why and the error, except under
// CI=true, where it fails.
func OpenOrSkip[B interface{ Close() error }](tb testing.TB, unavailable error, why string, open func() (B, error)) B {
	tb.Helper()
	b, err := open()
	if errors.Is(err, unavailable) && os.Getenv("CI") != "true" {
		tb.Skipf("%s: %v", why, err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	return b
}

func newCPU(tb testing.TB) *cpu.Backend {
	c := cpu.New(2)
	tb.Cleanup(func() { c.Close() })
	return c
}

// Must returns v, panicking on err: for allocations in tests and
// benchmarks, which fail only when the machine is out of memory.
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// MustOK panics on err: for reads in tests and benchmarks, which fail only
// on a broken backend.
func MustOK(err error) {
	if err != nil {
		panic(err)
	}
}

// RandomFloats returns n floats drawn uniformly from [-scale, scale).
func RandomFloats(rng *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = scale * (2*rng.Float32() - 1)
	}
	return x
}

// Upload returns a new buffer of b holding x.
func Upload(b engine.Backend, x []float32) engine.Buffer {
	buf := Must(b.Alloc(len(x)))
	b.Write(buf, x)
	return buf
}

func download(b engine.Backend, buf engine.Buffer, n int) []float32 {
	out := make([]float32, n)
	MustOK(b.Read(out, buf))
	return out
}

// closeTo checks got against want element by element: |got-want| <= abs + rel·|want|.
func closeTo(t *testing.T, what string, got, want []float32, abs, rel float64) {
	t.Helper()
	bad := 0
	for i := range want {
		d := math.Abs(float64(got[i] - want[i]))
		if !(d <= abs+rel*math.Abs(float64(want[i]))) {
			if bad < 5 {
				t.Errorf("%s[%d] = %g, want %g (diff %g)", what, i, got[i], want[i], d)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values differ", what, bad, len(want))
	}
}
