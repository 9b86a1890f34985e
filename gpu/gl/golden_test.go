//go:build linux && cgo

package gl_test

import (
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/gpu/gl"
	"github.com/llamadesk/llamadesk/internal/goldentest"
)

// TestGolden checks every shared model against every shared prompt by the
// rules of the test data, with all layers on the GPU and with only the
// first layer there (the rest and the output head on the CPU), with the
// kernels the device prefers. The other kernel variant runs on one model
// with grouped KV heads and K-quants: on llvmpipe the parallel kernels are
// slow, and the per-kernel tests cover them for every type.
func TestGolden(t *testing.T) {
	g := newBackend(t, gl.Options{})
	other := gl.KernelsParallel
	if !g.Info().Software {
		other = gl.KernelsSerial
	}
	g2 := newBackend(t, gl.Options{Kernels: other})
	c := newCPU(t)
	placements := []struct {
		name   string
		gpu    *gl.Backend
		layers func(total int) int
		only   string // run on this model only
	}{
		{"all-layers", g, func(total int) int { return total }, ""},
		{"first-layer", g, func(int) int { return 1 }, ""},
		{other.String() + "-kernels", g2, func(total int) int { return total }, "tiny-gqa-q4_k_m"},
	}
	for _, name := range goldentest.Models(t) {
		for _, pl := range placements {
			if pl.only != "" && pl.only != name {
				continue
			}
			t.Run(name+"/"+pl.name, func(t *testing.T) {
				// The model is loaded once and serves every state of the test.
				var model *engine.Model
				var from *gguf.File
				goldentest.Check(t, name, func(tb testing.TB, f *gguf.File) *engine.State {
					if model == nil || from != f {
						cfg, err := engine.ConfigFromGGUF(f)
						if err != nil {
							tb.Fatal(err)
						}
						model, err = engine.Load(f, engine.Placement{CPU: c, GPU: pl.gpu, GPULayers: pl.layers(cfg.Layers)})
						if err != nil {
							tb.Fatal(err)
						}
						from = f
					}
					// The references used a float32 KV cache (NewState now defaults to f16).
					st, err := model.NewStateWith(engine.StateOptions{Context: 1024, KVType: engine.KVF32})
					if err != nil {
						tb.Fatal(err)
					}
					return st
				})
			})
		}
	}
}
