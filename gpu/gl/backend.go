//go:build (linux || windows) && cgo

package gl

/*
#include <stdlib.h>
#include "lgl.h"
*/
import "C"

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/llamadesk/llamadesk/gpu/compute"
	"github.com/llamadesk/llamadesk/gpu/kernels"
)

// Backend is the OpenGL 4.3 compute implementation of engine.Backend: the
// plan of package compute run by an OpenGL device.
type Backend struct {
	*compute.Backend
	info Info
}

// New creates a context on the first usable GPU (see the package
// documentation) and prepares the backend's programs. It fails, wrapping
// ErrUnavailable, when no OpenGL 4.3 context exists or it lacks what the
// backend needs.
func New(opts Options) (*Backend, error) {
	th, err := startThread(contextOptions{kind: opts.Context, mainThread: opts.MainThread})
	if err != nil {
		return nil, err
	}
	d := &device{th: th}
	th.do(func() { d.info, d.lim, err = query(th.platform) })
	if err == nil {
		th.do(func() { d.ubo, err = glBuffer(kernels.ParamsSize, nil) })
	}
	if err != nil {
		th.stop()
		return nil, fmt.Errorf("gl: %w", err)
	}
	d.stop = (*C.int32_t)(C.calloc(1, 4))
	cb, err := compute.New(d, "gl", d.info.Renderer, opts.Options)
	if err != nil {
		return nil, fmt.Errorf("gl: %w: %w", ErrUnavailable, err)
	}
	return &Backend{Backend: cb, info: d.info}, nil
}

// Probe reports the GPU New would use (with the context LLAMADESK_GL_CONTEXT
// asks for), without keeping a context.
func Probe() (Info, error) { return ProbeWith(Options{}) }

// ProbeWith is Probe with the context options of opts (Context,
// MainThread).
func ProbeWith(opts Options) (Info, error) {
	th, err := startThread(contextOptions{kind: opts.Context, mainThread: opts.MainThread})
	if err != nil {
		return Info{}, err
	}
	defer th.stop()
	var info Info
	th.do(func() { info, _, err = query(th.platform) })
	return info, err
}

// Info describes the backend's GPU.
func (b *Backend) Info() Info { return b.info }

// query reads the device's description and limits; it runs on the GL thread.
func query(platform string) (Info, compute.Limits, error) {
	info := Info{
		Vendor:      glString(C.LGL_VENDOR),
		Renderer:    glString(C.LGL_RENDERER),
		Version:     glString(C.LGL_VERSION),
		GLSLVersion: glString(C.LGL_SHADING_LANGUAGE_VERSION),
		Platform:    platform,
	}
	info.Software = isSoftwareRenderer(info.Renderer)
	major, minor := glInteger(C.LGL_MAJOR_VERSION), glInteger(C.LGL_MINOR_VERSION)
	if major*10+minor < 43 {
		return info, compute.Limits{}, fmt.Errorf("%w: %s offers OpenGL %d.%d; compute shaders need 4.3", ErrUnavailable, info.Renderer, major, minor)
	}
	exts := glExtensions()
	switch {
	case exts["GL_NVX_gpu_memory_info"]:
		info.TotalMemory = glInteger(C.LGL_GPU_MEMORY_INFO_TOTAL_AVAILABLE_MEMORY_NVX) * 1024
		info.FreeMemory = glInteger(C.LGL_GPU_MEMORY_INFO_CURRENT_AVAILABLE_VIDMEM_NVX) * 1024
	case exts["GL_ATI_meminfo"]:
		var free [4]C.int32_t
		C.lgl_get_integers(C.LGL_VBO_FREE_MEMORY_ATI, &free[0])
		info.FreeMemory = int64(free[0]) * 1024
	}
	if exts["GL_KHR_shader_subgroup"] {
		stages := glInteger(C.LGL_SUBGROUP_SUPPORTED_STAGES_KHR)
		features := glInteger(C.LGL_SUBGROUP_SUPPORTED_FEATURES_KHR)
		const computeStage, arithmetic = 0x20, 0x4
		if stages&computeStage != 0 && features&arithmetic != 0 {
			info.Subgroups = true
			info.SubgroupSize = int(glInteger(C.LGL_SUBGROUP_SIZE_KHR))
		}
	}
	info.MaxStorageBlock = glInteger(C.LGL_MAX_SHADER_STORAGE_BLOCK_SIZE)
	lim := compute.Limits{
		// Shaders index words and floats with 32-bit integers: 2 GiB bindings keep them in range.
		MaxBinding:  min(info.MaxStorageBlock, 1<<31),
		BindAlign:   max(glInteger(C.LGL_SHADER_STORAGE_BUFFER_OFFSET_ALIGNMENT), 16),
		ParamsAlign: int(max(glInteger(C.LGL_UNIFORM_BUFFER_OFFSET_ALIGNMENT), 16)),
		MaxGroups:   int(min(glIntegerIndex(C.LGL_MAX_COMPUTE_WORK_GROUP_COUNT, 0), 1<<30)),
		Subgroups:   info.Subgroups,
		Software:    info.Software,
	}
	invocations := glInteger(C.LGL_MAX_COMPUTE_WORK_GROUP_INVOCATIONS)
	shared := glInteger(C.LGL_MAX_COMPUTE_SHARED_MEMORY_SIZE)
	clearErrors()
	switch {
	case lim.MaxBinding < 1<<24:
		return info, lim, fmt.Errorf("%w: %s allows %d-byte storage blocks; the backend needs 16 MiB", ErrUnavailable, info.Renderer, lim.MaxBinding)
	case invocations < 256 || shared < 32768 || lim.MaxGroups < 65535:
		return info, lim, fmt.Errorf("%w: %s has compute limits below OpenGL 4.3's minimums", ErrUnavailable, info.Renderer)
	}
	return info, lim, nil
}

// device is the OpenGL compute.Device: a context on its own thread.
type device struct {
	th   *glThread
	info Info
	lim  compute.Limits
	ubo  uint32     // the uniform buffer of the dispatches' parameters
	stop *C.int32_t // the interrupt flag lgl_exec reads (C memory)
}

// The commands of package compute go to lgl_exec as they are.
var (
	_ = [1]int{}[unsafe.Sizeof(compute.Cmd{})-C.sizeof_lgl_cmd]
	_ = [1]int{}[C.sizeof_lgl_cmd-unsafe.Sizeof(compute.Cmd{})]
	_ = [1]int{}[unsafe.Offsetof(compute.Cmd{}.Buf)-unsafe.Offsetof(C.lgl_cmd{}.buf)]
	_ = [1]int{}[unsafe.Offsetof(compute.Cmd{}.Off)-unsafe.Offsetof(C.lgl_cmd{}.off)]
	_ = [1]int{}[unsafe.Offsetof(compute.Cmd{}.Size)-unsafe.Offsetof(C.lgl_cmd{}.size)]
	_ = [1]int{}[compute.MaxBind-C.LGL_CMD_MAXBIND]
)

// Limits implements compute.Device.
func (d *device) Limits() compute.Limits { return d.lim }

// Program implements compute.Device: it compiles the kernel's GLSL.
func (d *device) Program(k kernels.Spec, subgroups bool) (uint32, error) {
	src, err := k.GLSL(subgroups)
	if err != nil {
		return 0, err
	}
	var p uint32
	d.th.do(func() { p, err = glProgram(src) })
	return p, err
}

// NewBuffer implements compute.Device.
func (d *device) NewBuffer(size int64, data []byte) (uint32, error) {
	var name uint32
	var err error
	d.th.do(func() { name, err = glBuffer(size, data) })
	return name, err
}

// WrapBuffer implements compute.Device: OpenGL copies every weight.
func (d *device) WrapBuffer([]byte) (uint32, int64, bool) { return 0, 0, false }

// Run implements compute.Device: the commands, the read back and the
// deletions run on the GL thread in one cgo call each.
func (d *device) Run(b *compute.Batch) error {
	var glerr uint32
	d.th.do(func() {
		glExec(b.Cmds, d.ubo, b.Params, b.Data, d.stop)
		if r := b.Read; r != nil {
			glRead(r.Buf, r.Off, r.Dst, r.Barrier)
		}
		glDeleteBuffers(b.Delete)
		glerr = glErrors()
	})
	switch {
	case glerr == C.LGL_OUT_OF_MEMORY:
		return fmt.Errorf("OpenGL error 0x%x while running %d commands on %s: %w", glerr, len(b.Cmds), d.info.Renderer, compute.ErrOutOfMemory)
	case glerr != 0:
		return fmt.Errorf("OpenGL error 0x%x while running %d commands on %s", glerr, len(b.Cmds), d.info.Renderer)
	}
	return nil
}

// Interrupt implements compute.Device: lgl_exec stops issuing commands
// while the flag is set.
func (d *device) Interrupt(on bool) {
	v := int32(0)
	if on {
		v = 1
	}
	atomic.StoreInt32((*int32)(unsafe.Pointer(d.stop)), v)
}

// Close implements compute.Device: it destroys the context and with it
// every buffer and program.
func (d *device) Close() error {
	d.th.stop()
	C.free(unsafe.Pointer(d.stop))
	return nil
}

// Built reports whether this build has the OpenGL backend.
const Built = true
