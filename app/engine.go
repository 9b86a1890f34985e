package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/tokenizer"
	"github.com/llamadesk/llamadesk/gpu/gl"
)

// LoadOptions says how to load a model.
type LoadOptions struct {
	// Threads is the number of CPU worker threads (0: one per physical core).
	Threads int
	// Backend is "auto", "cpu" or a GPU backend's name ("gl"); "" means "auto".
	Backend string
	// GPULayers is how many layers go to the GPU: -1 (or unset with auto) means
	// as many as fit, 0 none.
	GPULayers int
}

// LoadedModel is a model file opened and prepared for inference.
type LoadedModel struct {
	Path      string
	File      *gguf.File
	Model     *engine.Model
	Tokenizer *tokenizer.Tokenizer
	// BackendNote says which backend runs the model and, when "auto" fell
	// back to the CPU, why.
	BackendNote string
	backends    []engine.Backend
}

// LoadModel opens a GGUF file and prepares its model on the chosen backend.
func LoadModel(path string, opts LoadOptions) (*LoadedModel, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	lm := &LoadedModel{Path: path, File: f}
	ok := false
	defer func() {
		if !ok {
			lm.Close()
		}
	}()
	if _, err := engine.ConfigFromGGUF(f); err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	lm.Tokenizer, err = tokenizer.FromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	placement, err := lm.chooseBackends(opts)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	lm.Model, err = engine.Load(f, placement)
	if err != nil && placement.GPU != nil && opts.Backend != "gl" {
		// auto: the GPU refused the weights (out of memory, a driver
		// limit); the CPU can still run the model.
		lm.BackendNote = fmt.Sprintf("cpu (%d threads): loading on the GPU failed (%v)", placement.CPU.(*cpu.Backend).Threads(), err)
		lm.backends = slices.DeleteFunc(lm.backends, func(b engine.Backend) bool { return b == placement.GPU })
		placement.GPU.Close()
		placement = engine.Placement{CPU: placement.CPU}
		lm.Model, err = engine.Load(f, placement)
	}
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	ok = true
	return lm, nil
}

// chooseBackends creates the backends the options ask for. "gl" puts
// layers on the OpenGL backend or fails; "auto" (or "") does the same when
// a hardware GPU is there and the model's layers fit, and otherwise runs on
// the CPU with the reason in BackendNote. GPULayers -1 places as many
// layers as fit in free GPU memory (all when the driver does not report
// it), N the first N.
func (lm *LoadedModel) chooseBackends(opts LoadOptions) (engine.Placement, error) {
	c := cpu.New(opts.Threads)
	lm.backends = append(lm.backends, c)
	onCPU := engine.Placement{CPU: c}
	cpuNote := fmt.Sprintf("cpu (%d threads)", c.Threads())
	layers := opts.GPULayers
	switch opts.Backend {
	case "cpu":
		lm.BackendNote = cpuNote
		return onCPU, nil
	case "":
		if layers == 0 {
			layers = -1 // unset: as many as fit
		}
	case "auto", "gl":
	default:
		return engine.Placement{}, fmt.Errorf("unknown backend %q (want auto, cpu or gl)", opts.Backend)
	}
	explicit := opts.Backend == "gl"
	if layers == 0 {
		if explicit {
			return engine.Placement{}, errors.New("--backend gl with --gpu-layers 0 puts no layer on the GPU; use --backend cpu")
		}
		lm.BackendNote = cpuNote + ": --gpu-layers 0 keeps every layer off the GPU"
		return onCPU, nil
	}
	g, err := gl.New(gl.Options{})
	if err != nil {
		if explicit {
			return engine.Placement{}, fmt.Errorf("gpu backend: %w", err)
		}
		lm.BackendNote = fmt.Sprintf("%s: no usable GPU (%v)", cpuNote, err)
		return onCPU, nil
	}
	info := g.Info()
	if info.Software && !explicit {
		g.Close()
		lm.BackendNote = fmt.Sprintf("%s: the only OpenGL device is %s, a software renderer slower than the CPU backend", cpuNote, info.Renderer)
		return onCPU, nil
	}
	cfg, err := engine.ConfigFromGGUF(lm.File)
	if err != nil {
		g.Close()
		return engine.Placement{}, err
	}
	fitNote := ""
	if layers < 0 {
		layers = cfg.Layers
		if info.FreeMemory > 0 {
			layers, fitNote = gpuLayersThatFit(lm.File, cfg, info.FreeMemory)
		}
	}
	layers = min(layers, cfg.Layers)
	if layers == 0 {
		g.Close()
		if explicit {
			return engine.Placement{}, fmt.Errorf("gpu backend %s: %s", info.Renderer, fitNote)
		}
		lm.BackendNote = fmt.Sprintf("%s: %s", cpuNote, fitNote)
		return onCPU, nil
	}
	lm.backends = append(lm.backends, g)
	lm.BackendNote = fmt.Sprintf("gl: %s; %d of %d layers on the GPU", info.Summary(), layers, cfg.Layers)
	if layers < cfg.Layers {
		lm.BackendNote += fmt.Sprintf(", the rest on the %s", cpuNote)
		if fitNote != "" {
			lm.BackendNote += " (" + fitNote + ")"
		}
	}
	return engine.Placement{CPU: c, GPU: g, GPULayers: layers}, nil
}

// gpuReserve is GPU memory left free for the driver, the desktop and
// rounding, beyond the reserveShare of free memory.
const (
	gpuReserve   = 256 << 20
	reserveShare = 20 // 1/20 = 5 %
)

// gpuLayersThatFit returns how many of the model's first layers fit in free
// bytes of GPU memory, counting their weights, their KV caches (float32) at
// the training context length, the engine's batch scratch buffers, and the
// output head when every layer fits; and a note saying why not all do.
func gpuLayersThatFit(f *gguf.File, cfg engine.Config, free int64) (int, string) {
	tensorBytes := func(prefix string) int64 {
		var n int64
		for i := range f.Tensors {
			if strings.HasPrefix(f.Tensors[i].Name, prefix) {
				n += int64(f.Tensors[i].Size)
			}
		}
		return n
	}
	batch := int64(min(engine.DefaultBatch, cfg.ContextLen))
	kvPerLayer := int64(cfg.ContextLen) * int64(cfg.KVDim()) * 4 * 2
	scratch := batch * int64(5*cfg.Dim+2*cfg.KVDim()+2*cfg.FFN) * 4 * 2 // activations and their rounded copies
	vocab := int64(cfg.Vocab)
	if t, ok := f.Tensor("token_embd.weight"); ok && len(t.Dims) == 2 {
		vocab = int64(t.Dims[1]) // Config leaves Vocab to engine.Load
	}
	head := tensorBytes("output") + batch*vocab*4
	if _, ok := f.Tensor("output.weight"); !ok {
		head += tensorBytes("token_embd.")
	}
	budget := free - free/reserveShare - gpuReserve - scratch
	used, n := int64(0), 0
	for n < cfg.Layers {
		need := tensorBytes(fmt.Sprintf("blk.%d.", n)) + kvPerLayer
		if used+need > budget {
			break
		}
		used += need
		n++
	}
	if n == cfg.Layers && used+head > budget {
		n-- // the head goes with the last layer
	}
	n = max(n, 0)
	if n == cfg.Layers {
		return n, ""
	}
	return n, fmt.Sprintf("%d MiB of GPU memory free hold %d of %d layers with their KV cache at %d positions", free>>20, n, cfg.Layers, cfg.ContextLen)
}

// Close releases the model's backends and unmaps the file.
func (lm *LoadedModel) Close() error {
	var errs []error
	for _, b := range lm.backends {
		errs = append(errs, b.Close())
	}
	lm.backends = nil
	if lm.File != nil {
		errs = append(errs, lm.File.Close())
	}
	return errors.Join(errs...)
}
