package app

import (
	"errors"
	"fmt"
	"strings"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/session"
	"github.com/llamadesk/llamadesk/engine/tokenizer"
	"github.com/llamadesk/llamadesk/models"
)

// LoadOptions says how to load a model.
type LoadOptions struct {
	// Threads is the number of CPU worker threads (0: one per physical core).
	Threads int
	// Backend is "auto", "cpu" or a GPU backend's name ("gl", "metal"); ""
	// means "auto".
	Backend string
	// GPULayers is how many layers go to the GPU: -1 (or unset with auto) means
	// as many as fit, 0 none.
	GPULayers int
	// Context is the context size the model will run with (0: the
	// model's training context): the GPU placement counts its KV cache, and
	// it is the default of NewState.
	Context int
	// KVType is the KV cache's element type (the zero value is f16).
	KVType engine.KVType
	// GPUMemoryLimit, when positive, caps the GPU memory the backend uses
	// (bytes): beyond it the GPU is out of memory, and fewer layers go there.
	GPUMemoryLimit int64
	// MainThread, when not nil, runs a function on the thread that owns the
	// window system and waits: where the OpenGL context is a hidden GLFW
	// window's (Windows; Linux without EGL), that window is made there, as
	// GLFW requires beside Fyne. The window app sets it (Fyne's DoAndWait)
	// and must not load from that thread; the command line leaves it nil.
	MainThread func(func())
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
	opts        LoadOptions
	backends    []engine.Backend
	placement   engine.Placement // where Model's layers are
	contexts    int              // the contexts made (NewState, NewSession)
}

// LoadModel opens a GGUF file and prepares its model on the chosen backend.
func LoadModel(path string, opts LoadOptions) (*LoadedModel, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	lm := &LoadedModel{Path: path, File: f, opts: opts}
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
	lm.Model, err = lm.loadPlaced(placement, opts)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	ok = true
	return lm, nil
}

// chooseBackends creates the backends the options ask for. "gl" and
// "metal" put layers on that GPU backend or fail; "auto" (or "") does the
// same on Metal (macOS) or OpenGL (elsewhere) when a hardware GPU is there
// and the model's layers fit, and otherwise runs on the CPU with the
// reason in BackendNote. GPULayers -1 places as many layers as fit in free
// GPU memory (all when the driver does not report it), N the first N.
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
	case BackendAuto, BackendGL, BackendMetal:
	default:
		return engine.Placement{}, fmt.Errorf("unknown backend %q (want %s)", opts.Backend, strings.Join(Backends(), ", "))
	}
	api, explicit := gpuAPI(opts)
	if layers == 0 {
		if explicit {
			return engine.Placement{}, fmt.Errorf("--backend %s with --gpu-layers 0 puts no layer on the GPU; use --backend cpu", api)
		}
		lm.BackendNote = cpuNote + ": --gpu-layers 0 keeps every layer off the GPU"
		return onCPU, nil
	}
	g, dev, err := openGPU(api, opts)
	if err != nil {
		if explicit {
			return engine.Placement{}, fmt.Errorf("%s backend: %w", api, err)
		}
		lm.BackendNote = fmt.Sprintf("%s: no usable GPU (%v)", cpuNote, err)
		return onCPU, nil
	}
	if dev.software && !explicit {
		g.Close()
		lm.BackendNote = fmt.Sprintf("%s: the only GPU device is %s, a software renderer slower than the CPU backend", cpuNote, dev.summary)
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
		if dev.free > 0 {
			layers, fitNote = gpuLayersThatFit(lm.File, cfg, dev.free, engine.StateOptions{Context: opts.Context, KVType: opts.KVType})
		}
	}
	layers = min(layers, cfg.Layers)
	if layers == 0 {
		g.Close()
		if explicit {
			return engine.Placement{}, fmt.Errorf("%s backend %s: %s", api, dev.summary, fitNote)
		}
		lm.BackendNote = fmt.Sprintf("%s: %s", cpuNote, fitNote)
		return onCPU, nil
	}
	lm.backends = append(lm.backends, g)
	lm.BackendNote = gpuNote(api, dev, layers, cfg.Layers, cpuNote, fitNote)
	return engine.Placement{CPU: c, GPU: g, GPULayers: layers}, nil
}

// gpuReserve is GPU memory left free for the driver, the desktop and
// rounding, beyond the reserveShare of free memory.
const (
	gpuReserve   = 256 << 20
	reserveShare = 20 // 1/20 = 5 %
)

// gpuLayersThatFit returns how many of the model's first layers fit in free
// bytes of GPU memory, counting with the engine's memory model their
// weights, their KV caches at the chosen context and KV type, the batch
// buffers, and the output head when every layer fits; and a note saying why
// not all do.
func gpuLayersThatFit(f *gguf.File, cfg engine.Config, free int64, o engine.StateOptions) (int, string) {
	if t, ok := f.Tensor("token_embd.weight"); ok && len(t.Dims) == 2 {
		cfg.Vocab = int(t.Dims[1]) // Config leaves Vocab to engine.Load
	}
	if o.Context <= 0 {
		o.Context = cfg.ContextLen
	}
	need := cfg.Needs(0, o)
	kvPerLayer := need.KV / int64(cfg.Layers)
	head := tensorBytes(f, "output") + need.Logits
	if _, ok := f.Tensor("output.weight"); !ok {
		head += tensorBytes(f, "token_embd.")
	}
	budget := free - free/reserveShare - gpuReserve - need.Buffers
	used, n := int64(0), 0
	for n < cfg.Layers {
		need := tensorBytes(f, fmt.Sprintf("blk.%d.", n)) + kvPerLayer
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
	return n, fmt.Sprintf("%d MiB of GPU memory free hold %d of %d layers with their %s KV cache at %d positions", free>>20, n, cfg.Layers, o.KVType, o.Context)
}

// tensorBytes is the size of the tensors of f whose names begin with
// prefix ("blk.3." for the tensors of layer 3).
func tensorBytes(f *gguf.File, prefix string) int64 {
	var n int64
	for i := range f.Tensors {
		if strings.HasPrefix(f.Tensors[i].Name, prefix) {
			n += int64(f.Tensors[i].Size)
		}
	}
	return n
}

// StateOptions returns the options of a context of ctx positions (0: the
// load options' context, else the model's training context) with the
// model's KV type, limited to the memory this machine has available.
func (lm *LoadedModel) StateOptions(ctx int) engine.StateOptions {
	if ctx <= 0 {
		ctx = lm.opts.Context
	}
	o := engine.StateOptions{Context: ctx, KVType: lm.opts.KVType}
	if mem, err := models.SystemMemory(); err == nil {
		if mem.Available > 0 {
			o.MemoryLimit = int64(min(mem.Available, 1<<62))
		} else {
			o.MemoryLimit = int64(min(mem.Total/10*8, 1<<62))
		}
	}
	return o
}

// NewState allocates a context of ctx positions (see StateOptions);
// allLogits says the logits of every position will be read (eval). A
// context this machine's memory cannot hold is an error saying how much it
// needs. When the GPU has no room for it, the model is loaded again with
// fewer layers there (see newContext): BackendNote says so. NewState and
// NewSession are not called concurrently.
func (lm *LoadedModel) NewState(ctx int, allLogits bool) (*engine.State, error) {
	var st *engine.State
	err := lm.newContext(ctx, func(o engine.StateOptions) (err error) {
		o.AllLogits = allLogits
		st, err = lm.Model.NewStateWith(o)
		return err
	})
	return st, err
}

// NewSession starts a conversation session in the chat format f on a new
// context of ctx positions, as NewState makes it.
func (lm *LoadedModel) NewSession(f chat.Format, ctx int) (*session.Session, error) {
	var s *session.Session
	err := lm.newContext(ctx, func(o engine.StateOptions) (err error) {
		s, err = session.NewWith(lm.Model, lm.Tokenizer, f, o)
		return err
	})
	return s, err
}

// KVType returns the KV cache type the model's contexts use.
func (lm *LoadedModel) KVType() engine.KVType { return lm.opts.KVType }

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
