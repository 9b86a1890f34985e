package app

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/gpu/compute"
	"github.com/llamadesk/llamadesk/gpu/gl"
	"github.com/llamadesk/llamadesk/gpu/metal"
	"github.com/llamadesk/llamadesk/models"
)

// newGPUProbe returns a function reporting the GPU that fit estimates may
// count on: a hardware device of the GPU backend auto uses (Metal on
// macOS, OpenGL elsewhere) that reports its memory. A software renderer
// (llvmpipe) is not counted: auto never runs models on it. The GPU is
// probed once, on first use (it creates and destroys a context, made
// through the main-thread runner mainThread returns then, if any).
func newGPUProbe(mainThread func() func(func())) func() *models.GPU {
	return sync.OnceValue(func() *models.GPU { return probeGPU(mainThread()) })
}

func probeGPU(mainThread func(func())) *models.GPU {
	if autoGPU() == BackendMetal {
		info, err := metal.Probe()
		if err != nil {
			return nil
		}
		return &models.GPU{Name: info.Name, Total: uint64(info.WorkingSet), Free: uint64(info.WorkingSet)}
	}
	info, err := gl.ProbeWith(gl.Options{MainThread: mainThread})
	if err != nil || info.Software || info.TotalMemory <= 0 {
		return nil
	}
	return &models.GPU{Name: info.Renderer, Total: uint64(info.TotalMemory), Free: uint64(max(info.FreeMemory, 0))}
}

// autoGPU is the GPU backend auto tries: Metal where the build has it
// (macOS), OpenGL elsewhere.
func autoGPU() string {
	if metal.Built {
		return BackendMetal
	}
	return BackendGL
}

// gpuBackend is what the app needs of a GPU backend.
type gpuBackend interface {
	engine.Backend
	// MemoryUsed returns the bytes of GPU memory the backend holds.
	MemoryUsed() int64
}

// gpuDevice describes the device a GPU backend opened.
type gpuDevice struct {
	summary  string // for notes: the GPU's name and memory
	software bool   // a CPU rasteriser, slower than the CPU backend
	free     int64  // memory the backend may fill, 0 when unknown
}

// openGPU opens the GPU backend api ("gl" or "metal").
func openGPU(api string, opts LoadOptions) (gpuBackend, gpuDevice, error) {
	if api == BackendMetal {
		b, err := metal.New(metal.Options{MemoryLimit: opts.GPUMemoryLimit})
		if err != nil {
			return nil, gpuDevice{}, err
		}
		info := b.Info()
		return b, gpuDevice{summary: info.Summary(), free: info.WorkingSet}, nil
	}
	b, err := gl.New(gl.Options{Options: compute.Options{MemoryLimit: opts.GPUMemoryLimit}, MainThread: opts.MainThread})
	if err != nil {
		return nil, gpuDevice{}, err
	}
	info := b.Info()
	return b, gpuDevice{summary: info.Summary(), software: info.Software, free: info.FreeMemory}, nil
}

// gpuNote describes a placement of layers on a GPU for BackendNote.
func gpuNote(api string, dev gpuDevice, layers, total int, cpuNote, why string) string {
	note := fmt.Sprintf("%s: %s; %d of %d layers on the GPU", api, dev.summary, layers, total)
	if layers < total {
		note += fmt.Sprintf(", the rest on the %s", cpuNote)
		if why != "" {
			note += " (" + why + ")"
		}
	}
	return note
}

// loadPlaced loads the model on the placement chosen by chooseBackends.
// When the GPU runs out of memory, it loads again with fewer layers on a
// fresh GPU backend: the whole layers the GPU held when it failed, less
// one, the rest on the CPU. When not even one layer fits, or the GPU fails
// otherwise, auto runs on the CPU alone and an explicit GPU backend is an
// error. BackendNote says what happened.
func (lm *LoadedModel) loadPlaced(p engine.Placement, opts LoadOptions) (*engine.Model, error) {
	for {
		m, err := engine.Load(lm.File, p)
		if err == nil {
			lm.placement = p
			return m, nil
		}
		if p.GPU == nil {
			return nil, err
		}
		fewer := 0
		why := ""
		if errors.Is(err, compute.ErrOutOfMemory) {
			total := lm.layers()
			fewer = min(layersIn(lm.File, total, p.GPU.(gpuBackend).MemoryUsed(), 0), p.GPULayers-1)
			why = fmt.Sprintf("the GPU ran out of memory with %d layers", p.GPULayers)
		}
		if p, err = lm.placeAgain(p, opts, fewer, why, "loading on the GPU failed", err); err != nil {
			return nil, err
		}
	}
}

// placeAgain closes the GPU backend of placement p after a failure (err)
// and returns the placement to try next: fewer layers on a fresh GPU
// backend, with a note saying why; or, when fewer is 0 or the GPU does not
// open again, the CPU alone for auto (the note says what failed) and an
// error for an explicit GPU backend.
func (lm *LoadedModel) placeAgain(p engine.Placement, opts LoadOptions, fewer int, why, failed string, err error) (engine.Placement, error) {
	api, explicit := gpuAPI(opts)
	cpuNote := fmt.Sprintf("cpu (%d threads)", p.CPU.(*cpu.Backend).Threads())
	lm.placement = engine.Placement{}
	lm.dropBackend(p.GPU)
	if fewer > 0 {
		g, dev, oerr := openGPU(api, opts)
		if oerr == nil {
			lm.backends = append(lm.backends, g)
			lm.BackendNote = gpuNote(api, dev, fewer, lm.layers(), cpuNote, why)
			return engine.Placement{CPU: p.CPU, GPU: g, GPULayers: fewer}, nil
		}
		err = oerr
	}
	if explicit {
		return engine.Placement{}, fmt.Errorf("%s backend: %w", api, err)
	}
	lm.BackendNote = fmt.Sprintf("%s: %s (%v)", cpuNote, failed, err)
	return engine.Placement{CPU: p.CPU}, nil
}

// gpuAPI returns the GPU backend the load options use ("gl" or "metal")
// and whether they named it (rather than auto).
func gpuAPI(opts LoadOptions) (api string, explicit bool) {
	if opts.Backend == BackendGL || opts.Backend == BackendMetal {
		return opts.Backend, true
	}
	return autoGPU(), false
}

// newContext makes one context of the model with alloc (a State, or a
// session holding one), with the options of a context of ctx positions
// (see StateOptions). When the GPU runs out of memory for it (the KV
// caches, buffers or logits of the layers it holds), the model is loaded
// again with fewer layers on the GPU, the context's share of the rest on
// the CPU, and alloc tried again: the whole layers that, with their part
// of the context, fit in what the GPU held when it failed, and at least one
// fewer each time. When no layer is left, auto runs on the CPU alone and an
// explicit GPU backend is an error. BackendNote says what happened. A model
// that already made a context keeps its layers (the other context uses
// them): its error says so.
func (lm *LoadedModel) newContext(ctx int, alloc func(engine.StateOptions) error) error {
	for {
		o := lm.StateOptions(ctx)
		err := alloc(o)
		if err == nil {
			lm.contexts++
			return nil
		}
		p := lm.placement
		if !errors.Is(err, compute.ErrOutOfMemory) || p.GPU == nil {
			return err
		}
		if lm.contexts > 0 {
			return fmt.Errorf("%w (another context of this model holds its layers on the GPU; close it, or use a shorter context)", err)
		}
		if o.Context <= 0 {
			o.Context = lm.Model.Config.ContextLen
		}
		need := lm.Model.Config.Needs(0, o)
		held := p.GPU.(gpuBackend).MemoryUsed() - need.Buffers
		fewer := min(layersIn(lm.File, lm.layers(), held, need.KV/int64(lm.layers())), p.GPULayers-1)
		what := fmt.Sprintf("a context of %d positions (%s KV cache)", o.Context, o.KVType)
		p, err = lm.placeAgain(p, lm.opts, fewer, fmt.Sprintf("the GPU ran out of memory for %s with %d layers", what, p.GPULayers),
			what+" did not fit on the GPU", fmt.Errorf("%w; a shorter context or a smaller KV cache type needs less", err))
		if err != nil {
			return err
		}
		lm.Model = nil
		if lm.Model, err = lm.loadPlaced(p, lm.opts); err != nil {
			return err
		}
	}
}

// layers returns the model's number of layers (LoadModel read its
// configuration before placing it, so this does not fail).
func (lm *LoadedModel) layers() int {
	cfg, err := engine.ConfigFromGGUF(lm.File)
	if err != nil {
		return 0
	}
	return cfg.Layers
}

// dropBackend closes a backend and forgets it.
func (lm *LoadedModel) dropBackend(b engine.Backend) {
	lm.backends = slices.DeleteFunc(lm.backends, func(x engine.Backend) bool { return x == b })
	b.Close()
}

// layersIn returns how many of the model's first layers fit in held bytes:
// their weights and perLayer bytes each (their KV caches).
func layersIn(f *gguf.File, total int, held, perLayer int64) int {
	var used int64
	for n := range total {
		used += perLayer + tensorBytes(f, fmt.Sprintf("blk.%d.", n))
		if used > held {
			return n
		}
	}
	return total
}
