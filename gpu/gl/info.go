package gl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/llamadesk/llamadesk/gpu/compute"
)

// ErrUnavailable reports that no OpenGL 4.3 compute context can be created:
// the binary was built without the backend, EGL or a driver is missing, or
// the driver lacks what the backend needs. Errors of New and Probe wrap it.
var ErrUnavailable = errors.New("OpenGL 4.3 compute is unavailable")

// ErrOutOfMemory reports that the GPU (or Options.MemoryLimit) could not
// hold an allocation; it is compute.ErrOutOfMemory.
var ErrOutOfMemory = compute.ErrOutOfMemory

// Info describes the OpenGL device a context runs on.
type Info struct {
	Vendor      string // GL_VENDOR
	Renderer    string // GL_RENDERER, the GPU's name
	Version     string // GL_VERSION
	GLSLVersion string // GL_SHADING_LANGUAGE_VERSION
	Platform    string // how the context was made, e.g. "EGL 1.5, hardware device 0"
	// Software is true for a CPU rasteriser (Mesa's llvmpipe or softpipe):
	// correct, but slower than the engine's CPU backend.
	Software bool
	// TotalMemory and FreeMemory are the GPU's dedicated memory in bytes, from
	// GL_NVX_gpu_memory_info or GL_ATI_meminfo; 0 when the driver does not say.
	TotalMemory, FreeMemory int64
	// MaxStorageBlock is GL_MAX_SHADER_STORAGE_BLOCK_SIZE in bytes.
	MaxStorageBlock int64
	// Subgroups is true when GL_KHR_shader_subgroup offers arithmetic
	// operations in compute shaders; SubgroupSize is then the subgroup width.
	Subgroups    bool
	SubgroupSize int
}

// Summary is a one-line description for logs and the UI, such as
// "NVIDIA GeForce RTX 3060 (OpenGL 4.6.0 NVIDIA 550.54; 11.8 GiB free of 12.0 GiB)".
func (i Info) Summary() string {
	s := fmt.Sprintf("%s (OpenGL %s", i.Renderer, i.Version)
	if i.TotalMemory > 0 {
		s += fmt.Sprintf("; %.1f GiB free of %.1f GiB", float64(i.FreeMemory)/(1<<30), float64(i.TotalMemory)/(1<<30))
	}
	return s + ")"
}

// isSoftwareRenderer reports whether a GL_RENDERER string names a CPU rasteriser.
func isSoftwareRenderer(renderer string) bool {
	r := strings.ToLower(renderer)
	for _, s := range []string{"llvmpipe", "softpipe", "swrast", "swiftshader", "software rasterizer"} {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}

// Kernels selects how the shaders split their work (compute.Kernels).
type Kernels = compute.Kernels

// The kernel choices.
const (
	KernelsAuto     = compute.KernelsAuto
	KernelsParallel = compute.KernelsParallel
	KernelsSerial   = compute.KernelsSerial
)

// Options configure a backend: the options of every GPU backend
// (compute.Options: storage block cap, subgroups, kernels, activation
// rounding, memory limit) and how the OpenGL context is made.
type Options struct {
	compute.Options
	// Context is how the context is made: "egl" (Linux: headless), "glfw"
	// (a hidden GLFW window: WGL on Windows, GLX on Linux), or "" for
	// LLAMADESK_GL_CONTEXT's choice, else the platform's order (Linux: EGL,
	// then GLFW; Windows: GLFW).
	Context string
	// MainThread, when not nil, runs a function on the thread that owns
	// GLFW (Fyne's main thread, in the window app) and waits for it: the
	// GLFW context's window is made and destroyed there. New must then not
	// be called from that thread. Nil makes the window on the backend's own
	// thread (the command line, where nothing else uses GLFW).
	MainThread func(func())
}
