package gputest

import (
	"slices"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/gpu/compute"
	"github.com/llamadesk/llamadesk/internal/goldentest"
)

// goldenRun is one row of the golden grid: a model run under the rules of
// the test data with some placement, kernels and KV cache type.
type goldenRun struct {
	model   string
	name    string
	gpu     engine.Backend
	layers  func(total int) int // layers on the GPU
	kv      engine.KVType       // the KV cache's type
	prompts []string            // nil: every prompt of the golden file
}

// Placements.
var (
	allLayers  = func(total int) int { return total }
	firstLayer = func(int) int { return 1 }
)

// shortPrompts skip long.txt (650 tokens, evaluated in a batch, then one
// token at a time): the runs that only add a weight type to the grid.
var shortPrompts = []string{"plain.txt", "chat.txt"}

// Golden checks the shared models against the golden outputs by the
// rules of the test data. The grid is sized for CI on llvmpipe, where the
// per-kernel tests (TestMatMul, TestAttention, ...) check every weight
// type, kernel variant and cache type against the CPU backend, and this
// test checks whole models:
//   - every prompt with a float32 KV cache (what the references used) and
//     all layers on the GPU, on the F16 model (the strictest rule), a K-quant
//     mix with grouped KV heads and the chat model (the full vocabulary);
//   - every prompt with only the first layer on the GPU (the hidden state
//     crossing to the CPU, the output head on the CPU);
//   - every prompt with an fp16 KV cache and with a Q8_0 one, under the
//     rules of goldentest.CheckKV for caches of reduced precision;
//   - the other kernel variant (parallel on llvmpipe, serial on a GPU;
//     without subgroup operations where there is one variant);
//   - every other weight type of the test data, on the short prompts.
func (s Suite) Golden(t *testing.T) {
	g := s.open(t, compute.Options{})
	// The other kernels: the other variant, or the parallel kernels without
	// subgroup operations where only they exist (Metal).
	k, sg := g.Kernels()
	var other Backend
	otherName := ""
	switch {
	case k == compute.KernelsParallel && s.has(compute.KernelsSerial):
		other, otherName = s.open(t, compute.Options{Kernels: compute.KernelsSerial}), "serial-kernels"
	case k == compute.KernelsSerial && s.has(compute.KernelsParallel):
		other, otherName = s.open(t, compute.Options{Kernels: compute.KernelsParallel}), "parallel-kernels"
	case sg:
		other, otherName = s.open(t, compute.Options{NoSubgroups: true}), "no-subgroups"
	}
	runs := []goldenRun{
		{model: "tiny-f16", name: "all-layers", gpu: g, layers: allLayers, kv: engine.KVF32},
		{model: "tiny-gqa-q4_k_m", name: "all-layers", gpu: g, layers: allLayers, kv: engine.KVF32},
		{model: "chat-q4_k_m", name: "all-layers", gpu: g, layers: allLayers, kv: engine.KVF32},
		{model: "chat-q4_k_m", name: "first-layer", gpu: g, layers: firstLayer, kv: engine.KVF32},
		{model: "tiny-gqa-q8_0", name: "first-layer", gpu: g, layers: firstLayer, kv: engine.KVF32},
		{model: "tiny-q4_k_m", name: "kv-f16", gpu: g, layers: allLayers, kv: engine.KVF16},
		{model: "tiny-q8_0", name: "kv-q8_0", gpu: g, layers: allLayers, kv: engine.KVQ8_0},
	}
	if other != nil {
		runs = append(runs, goldenRun{model: "tiny-gqa-q4_k_m", name: otherName, gpu: other, layers: allLayers, kv: engine.KVF32, prompts: shortPrompts})
	}
	covered := map[string]bool{}
	for _, r := range runs {
		covered[r.model] = true
	}
	for _, name := range goldentest.Models(t) {
		if !covered[name] {
			runs = append(runs, goldenRun{model: name, name: "all-layers", gpu: g, layers: allLayers, kv: engine.KVF32, prompts: shortPrompts})
		}
	}
	models := goldentest.Models(t)
	for _, r := range runs {
		if !slices.Contains(models, r.model) {
			t.Errorf("the test data has no model %s", r.model)
			continue
		}
		t.Run(r.model+"/"+r.name, func(t *testing.T) { checkGolden(t, r) })
	}
}

// checkGolden runs one row of the golden grid.
func checkGolden(t *testing.T, r goldenRun) {
	// The model is loaded once and serves every state of the test.
	var model *engine.Model
	var from *gguf.File
	c := newCPU(t)
	goldentest.CheckPrompts(t, r.model, r.kv, r.prompts, func(tb testing.TB, f *gguf.File) *engine.State {
		if model == nil || from != f {
			cfg, err := engine.ConfigFromGGUF(f)
			if err != nil {
				tb.Fatal(err)
			}
			model, err = engine.Load(f, engine.Placement{CPU: c, GPU: r.gpu, GPULayers: r.layers(cfg.Layers)})
			if err != nil {
				tb.Fatal(err)
			}
			from = f
		}
		st, err := model.NewStateWith(engine.StateOptions{Context: 1024, KVType: r.kv})
		if err != nil {
			tb.Fatal(err)
		}
		return st
	})
}

// GoldenModel runs the golden checks of one model with all its layers on
// a backend made with opts: for the other ways a backend can be made (an
// OpenGL context through GLFW rather than EGL).
func (s Suite) GoldenModel(t *testing.T, opts compute.Options, model string, prompts []string) {
	if !slices.Contains(goldentest.Models(t), model) {
		t.Fatalf("the test data has no model %s", model)
	}
	checkGolden(t, goldenRun{model: model, name: "all-layers", gpu: s.open(t, opts), layers: allLayers, kv: engine.KVF32, prompts: prompts})
}
