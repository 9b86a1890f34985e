package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/synth"
	"github.com/llamadesk/llamadesk/gpu/gl"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// TestChooseBackends loads a shared model with each backend choice and
// checks the placement and the note that explains it.
func TestChooseBackends(t *testing.T) {
	path := testenv.Path(t, "models", "tiny-q4_0.gguf")
	info, glErr := gl.Probe()
	cases := []struct {
		name    string
		opts    LoadOptions
		wantErr bool
		check   func(t *testing.T, lm *LoadedModel)
	}{
		{name: "cpu", opts: LoadOptions{Threads: 1, Backend: "cpu"}, check: func(t *testing.T, lm *LoadedModel) {
			wantNote(t, lm, "cpu (1 threads)")
			wantBackends(t, lm, "cpu")
		}},
		{name: "unknown", opts: LoadOptions{Backend: "vulkan"}, wantErr: true},
		{name: "gl without layers", opts: LoadOptions{Backend: "gl", GPULayers: 0}, wantErr: true},
		{name: "auto without layers", opts: LoadOptions{Backend: "auto", GPULayers: 0}, check: func(t *testing.T, lm *LoadedModel) {
			wantNote(t, lm, "--gpu-layers 0")
			wantBackends(t, lm, "cpu")
		}},
		{name: "gl one layer", opts: LoadOptions{Backend: "gl", GPULayers: 1}, wantErr: glErr != nil, check: func(t *testing.T, lm *LoadedModel) {
			wantNote(t, lm, "1 of 2 layers on the GPU, the rest on the cpu")
			wantBackends(t, lm, "gl", "cpu")
		}},
		{name: "gl all layers", opts: LoadOptions{Backend: "gl", GPULayers: -1}, wantErr: glErr != nil, check: func(t *testing.T, lm *LoadedModel) {
			wantNote(t, lm, "2 of 2 layers on the GPU")
			wantBackends(t, lm, "gl")
		}},
		{name: "auto", opts: LoadOptions{Backend: "auto", GPULayers: -1}, check: func(t *testing.T, lm *LoadedModel) {
			switch {
			case glErr != nil:
				wantNote(t, lm, "no usable GPU")
				wantBackends(t, lm, "cpu")
			case info.Software:
				wantNote(t, lm, "software renderer")
				wantBackends(t, lm, "cpu")
			default:
				wantNote(t, lm, "gl: ")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lm, err := LoadModel(path, c.opts)
			if c.wantErr {
				if err == nil {
					lm.Close()
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer lm.Close()
			c.check(t, lm)
		})
	}
	if glErr != nil && !errors.Is(glErr, gl.ErrUnavailable) {
		t.Errorf("Probe: %v does not wrap ErrUnavailable", glErr)
	}
}

func wantNote(t *testing.T, lm *LoadedModel, part string) {
	t.Helper()
	if !strings.Contains(lm.BackendNote, part) {
		t.Errorf("BackendNote %q lacks %q", lm.BackendNote, part)
	}
}

func wantBackends(t *testing.T, lm *LoadedModel, names ...string) {
	t.Helper()
	var got []string
	for _, b := range lm.Model.Backends() {
		got = append(got, b.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("model runs on %v, want %v", got, names)
	}
}

// TestGPULayersThatFit checks the layer count chosen from free memory:
// none in too little memory, all in plenty, and never fewer layers in more
// memory.
func TestGPULayersThatFit(t *testing.T) {
	f, cfg := openTinyQ4_0(t)
	if n, note := gpuLayersThatFit(f, cfg, gpuReserve, engine.StateOptions{}); n != 0 || note == "" {
		t.Errorf("in %d bytes: %d layers (%q), want none", gpuReserve, n, note)
	}
	if n, note := gpuLayersThatFit(f, cfg, 1<<40, engine.StateOptions{}); n != cfg.Layers || note != "" {
		t.Errorf("in 1 TiB: %d layers (%q), want %d", n, note, cfg.Layers)
	}
	prev, partial := 0, false
	for free := int64(gpuReserve); free < 1<<30; free += 1 << 20 {
		n, note := gpuLayersThatFit(f, cfg, free, engine.StateOptions{})
		if n < prev {
			t.Fatalf("%d MiB fit %d layers, less than %d", free>>20, n, prev)
		}
		if n > 0 && n < cfg.Layers {
			partial = true
			if !strings.Contains(note, "layers") {
				t.Errorf("partial fit note %q", note)
			}
		}
		prev = n
	}
	if !partial || prev != cfg.Layers {
		t.Errorf("no partial fit between 256 MiB and 1 GiB (last %d layers)", prev)
	}
}

// TestGPULayersCountChosenContext: the placement counts the KV cache of the
// context and KV type the model will run with, not the training context.
func TestGPULayersCountChosenContext(t *testing.T) {
	f, cfg := openTinyQ4_0(t)
	cfg.ContextLen = 1 << 17 // a long training context: its KV cache would fill the GPU
	free := int64(gpuReserve) + 512<<20
	long, _ := gpuLayersThatFit(f, cfg, free, engine.StateOptions{KVType: engine.KVF32})
	short, note := gpuLayersThatFit(f, cfg, free, engine.StateOptions{Context: 2048})
	if long >= cfg.Layers || short != cfg.Layers {
		t.Errorf("training context (float32 KV): %d layers; 2,048 positions (f16): %d (%q); want fewer, then all %d", long, short, note, cfg.Layers)
	}
}

// TestGPUOutOfMemory loads a two-layer model on the OpenGL backend with a
// GPU memory limit that holds its first layer but not both: the GPU runs
// out of memory during the load, the model is loaded again with one layer
// on the GPU and the other on the CPU, and it computes what the CPU alone
// computes. With room for no layer, auto runs on the CPU and --backend gl
// is an error that says why.
func TestGPUOutOfMemory(t *testing.T) {
	path := testenv.Path(t, "models", "tiny-q4_0.gguf")
	if _, err := gl.Probe(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("no OpenGL 4.3 compute context: %v", err)
	}
	one, err := LoadModel(path, LoadOptions{Threads: 1, Backend: BackendGL, GPULayers: 1})
	if err != nil {
		t.Fatal(err)
	}
	layer := one.Model.Backends()[0].(gpuBackend).MemoryUsed()
	one.Close()

	lm, err := LoadModel(path, LoadOptions{Threads: 1, Backend: BackendGL, GPULayers: -1, GPUMemoryLimit: layer + layer*9/10})
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	wantNote(t, lm, "1 of 2 layers on the GPU, the rest on the cpu (1 threads) (the GPU ran out of memory with 2 layers)")
	wantBackends(t, lm, "gl", "cpu")
	c, err := LoadModel(path, LoadOptions{Threads: 1, Backend: BackendCPU})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tokens := []int32{1, 438, 113, 346, 318, 115}
	var logits [2][]float32
	for i, m := range []*LoadedModel{lm, c} {
		st, err := m.Model.NewState(16)
		if err != nil {
			t.Fatalf("%s: %v", m.BackendNote, err)
		}
		if logits[i], err = st.Eval(context.Background(), tokens, false); err != nil {
			t.Fatal(err)
		}
	}
	for j := range logits[1] {
		if d := math.Abs(float64(logits[0][j] - logits[1][j])); d > 1e-2 {
			t.Fatalf("logit %d: %g with one layer on the GPU, %g on the CPU", j, logits[0][j], logits[1][j])
		}
	}

	// Auto keeps llvmpipe off the model: its fallback is checked on the
	// placement --backend gl chose.
	small := LoadOptions{Threads: 1, Backend: BackendGL, GPULayers: -1, GPUMemoryLimit: layer / 2}
	if _, err := LoadModel(path, small); err == nil || !errors.Is(err, gl.ErrOutOfMemory) {
		t.Errorf("--backend gl with room for no layer: %v", err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	auto := &LoadedModel{Path: path, File: f}
	defer auto.Close()
	p, err := auto.chooseBackends(small)
	if err != nil {
		t.Fatal(err)
	}
	small.Backend = BackendAuto
	if auto.Model, err = auto.loadPlaced(p, small); err != nil {
		t.Fatal(err)
	}
	wantNote(t, auto, "cpu (1 threads): loading on the GPU failed")
	wantNote(t, auto, "out of GPU memory")
	wantBackends(t, auto, "cpu")
}

// TestGPUOutOfMemoryForContext loads an eight-layer model on the OpenGL
// backend with a GPU memory limit that holds its weights but not a
// context's KV caches for every layer: NewState loads the model again with
// fewer layers on the GPU, says why in the note, and computes what the CPU
// alone computes. A second context of that model gets an error instead
// (the first keeps working). With room for no layer's context, --backend gl
// is an error that says why and auto runs on the CPU.
func TestGPUOutOfMemoryForContext(t *testing.T) {
	if _, err := gl.Probe(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("no OpenGL 4.3 compute context: %v", err)
	}
	const layers, ctx = 8, 2048
	path := writeSmallModel(t, layers)
	opts := LoadOptions{Threads: 1, Backend: BackendGL, GPULayers: -1, Context: ctx}
	full, err := LoadModel(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	wantBackends(t, full, "gl")
	weights := full.Model.Backends()[0].(gpuBackend).MemoryUsed()
	kvDim := full.Model.Config.KVDim()
	full.Close()
	kv := int64(ctx) * engine.KVBytesPerPosition(1, kvDim, engine.KVF16) // one layer's

	cpuModel, err := LoadModel(path, LoadOptions{Threads: 1, Backend: BackendCPU})
	if err != nil {
		t.Fatal(err)
	}
	defer cpuModel.Close()
	tokens := []int32{1, 40, 113, 346, 318, 115}
	want := evalTokens(t, cpuModel, ctx, tokens)

	// Room for the weights and four and a half layers' KV caches: the
	// fifth layer's fails.
	opts.GPUMemoryLimit = weights + kv*9/2
	lm, err := LoadModel(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	wantBackends(t, lm, "gl")
	got := evalTokens(t, lm, ctx, tokens)
	wantBackends(t, lm, "gl", "cpu")
	wantNote(t, lm, fmt.Sprintf("of %d layers on the GPU, the rest on the cpu (1 threads) (the GPU ran out of memory for a context of %d positions (f16 KV cache) with %d layers)", layers, ctx, layers))
	var onGPU int
	if _, err := fmt.Sscanf(lm.BackendNote[strings.Index(lm.BackendNote, "; ")+2:], "%d of", &onGPU); err != nil || onGPU < 1 || onGPU >= layers {
		t.Errorf("note %q: %d layers on the GPU (%v), want between 1 and %d", lm.BackendNote, onGPU, err, layers-1)
	}
	closeLogits(t, got, want)
	t.Log(lm.BackendNote)

	// The window's and the server's sessions take the same way.
	m, err := LoadModel(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewLocalResponder(m, ctx)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	if info := r.Info(); !strings.Contains(info.Backend, "the GPU ran out of memory for a context") {
		t.Errorf("responder's backend: %q", info.Backend)
	}
	r.Close()

	// A second context has no room and cannot move the first one's layers.
	if _, err := lm.NewState(ctx, false); err == nil || !errors.Is(err, gl.ErrOutOfMemory) || !strings.Contains(err.Error(), "another context") {
		t.Errorf("second context: %v", err)
	}
	wantBackends(t, lm, "gl", "cpu")

	// Room for the weights and half a layer's KV cache: no layer's context fits.
	small := LoadOptions{Threads: 1, Backend: BackendGL, GPULayers: -1, Context: ctx, GPUMemoryLimit: weights + kv/2}
	lm2, err := LoadModel(path, small)
	if err != nil {
		t.Fatal(err)
	}
	defer lm2.Close()
	if _, err := lm2.NewState(ctx, false); err == nil || !errors.Is(err, gl.ErrOutOfMemory) || !strings.Contains(err.Error(), "shorter context") {
		t.Errorf("--backend gl with room for no layer's context: %v", err)
	}
	// Auto keeps llvmpipe off the model: its fallback is checked on the
	// placement --backend gl chose.
	auto, err := LoadModel(path, small)
	if err != nil {
		t.Fatal(err)
	}
	defer auto.Close()
	auto.opts.Backend = BackendAuto
	closeLogits(t, evalTokens(t, auto, ctx, tokens), want)
	wantBackends(t, auto, "cpu")
	wantNote(t, auto, fmt.Sprintf("cpu (1 threads): a context of %d positions (f16 KV cache) did not fit on the GPU (", ctx))
	wantNote(t, auto, "out of GPU memory")
	t.Log(auto.BackendNote)
}

// writeSmallModel writes a random-weight Llama model of small width with
// the given number of layers.
func writeSmallModel(t *testing.T, layers int) string {
	t.Helper()
	ft, err := synth.ParseFileType("Q4_0")
	if err != nil {
		t.Fatal(err)
	}
	shape := synth.Shape{Name: "small", Dim: 256, Layers: layers, Heads: 8, KVHeads: 8, FFN: 768, Vocab: 512, ContextLen: 4096}
	path := filepath.Join(t.TempDir(), "small.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Write(f, synth.Options{Shape: shape, Type: ft, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// evalTokens evaluates tokens on a new context of the model and returns
// the logits of every position.
func evalTokens(t *testing.T, lm *LoadedModel, ctx int, tokens []int32) []float32 {
	t.Helper()
	st, err := lm.NewState(ctx, true)
	if err != nil {
		t.Fatalf("%s: %v", lm.BackendNote, err)
	}
	logits, err := st.Eval(context.Background(), tokens, true)
	if err != nil {
		t.Fatalf("%s: %v", lm.BackendNote, err)
	}
	return logits
}

// closeLogits checks that two backends' logits agree (relative to the
// largest logit: the model's weights are random).
func closeLogits(t *testing.T, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d logits, want %d", len(got), len(want))
	}
	scale := 1.0
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	for j := range want {
		if d := math.Abs(float64(got[j] - want[j])); d > 1e-3*scale {
			t.Fatalf("logit %d: %g, want %g (the CPU's)", j, got[j], want[j])
		}
	}
}

// openTinyQ4_0 opens the shared tiny Q4_0 model (closed when the test ends)
// and reads its configuration.
func openTinyQ4_0(t *testing.T) (*gguf.File, engine.Config) {
	t.Helper()
	f, err := gguf.Open(testenv.Path(t, "models", "tiny-q4_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cfg, err := engine.ConfigFromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return f, cfg
}
