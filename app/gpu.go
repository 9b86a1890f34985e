package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
	api := opts.Backend
	explicit := api == BackendGL || api == BackendMetal
	if !explicit {
		api = autoGPU()
	}
	cpuNote := fmt.Sprintf("cpu (%d threads)", p.CPU.(*cpu.Backend).Threads())
	total := 0
	for {
		m, err := engine.Load(lm.File, p)
		if err == nil || p.GPU == nil {
			return m, err
		}
		if total == 0 {
			cfg, cerr := engine.ConfigFromGGUF(lm.File)
			if cerr != nil {
				return nil, cerr
			}
			total = cfg.Layers
		}
		g := p.GPU.(gpuBackend)
		fewer := 0
		why := ""
		if errors.Is(err, compute.ErrOutOfMemory) {
			fewer = min(layersIn(lm.File, total, g.MemoryUsed()), p.GPULayers-1)
			why = fmt.Sprintf("the GPU ran out of memory with %d layers", p.GPULayers)
		}
		lm.dropBackend(g)
		p = engine.Placement{CPU: p.CPU}
		if fewer > 0 {
			ng, dev, oerr := openGPU(api, opts)
			if oerr == nil {
				lm.backends = append(lm.backends, ng)
				p = engine.Placement{CPU: p.CPU, GPU: ng, GPULayers: fewer}
				lm.BackendNote = gpuNote(api, dev, fewer, total, cpuNote, why)
				continue
			}
			err = oerr
		}
		if explicit {
			return nil, fmt.Errorf("%s backend: %w", api, err)
		}
		lm.BackendNote = fmt.Sprintf("%s: loading on the GPU failed (%v)", cpuNote, err)
	}
}

// dropBackend closes a backend and forgets it.
func (lm *LoadedModel) dropBackend(b engine.Backend) {
	lm.backends = slices.DeleteFunc(lm.backends, func(x engine.Backend) bool { return x == b })
	b.Close()
}

// layersIn returns how many of the model's first layers have weights that
// fit in held bytes.
func layersIn(f *gguf.File, total int, held int64) int {
	var used int64
	for n := range total {
		prefix := fmt.Sprintf("blk.%d.", n)
		for i := range f.Tensors {
			if strings.HasPrefix(f.Tensors[i].Name, prefix) {
				used += int64(f.Tensors[i].Size)
			}
		}
		if used > held {
			return n
		}
	}
	return total
}
