package app

import (
	"sync"

	"github.com/llamadesk/llamadesk/gpu/gl"
	"github.com/llamadesk/llamadesk/models"
)

// newGPUProbe returns a function reporting the GPU that fit estimates may
// count on: a hardware OpenGL 4.3 device that reports its memory. A software
// renderer (llvmpipe) is not counted: auto never runs models on it. The GPU
// is probed once, on first use (it creates and destroys a GL context).
func newGPUProbe() func() *models.GPU {
	return sync.OnceValue(probeGPU)
}

func probeGPU() *models.GPU {
	info, err := gl.Probe()
	if err != nil || info.Software || info.TotalMemory <= 0 {
		return nil
	}
	return &models.GPU{Name: info.Renderer, Total: uint64(info.TotalMemory), Free: uint64(max(info.FreeMemory, 0))}
}
