//go:build (linux || windows) && cgo

package gl

/*
#cgo linux LDFLAGS: -ldl
#include <stdlib.h>
#include "lgl.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"github.com/llamadesk/llamadesk/gpu/compute"
	"github.com/llamadesk/llamadesk/gpu/kernels"
)

// glThread owns an OpenGL context current on one locked OS thread; every GL
// call runs there.
type glThread struct {
	calls    chan func()
	stopped  chan struct{}
	platform string
}

// glContext is an OpenGL context current on its GL thread, with the GL
// entry points installed for that thread (lgl_set_gl).
type glContext interface {
	// platform says how the context was made.
	platform() string
	// release destroys the context; it runs on the GL thread.
	release()
}

// contextOptions say how to make a context.
type contextOptions struct {
	// kind is "egl", "glfw" or "" (the platform's order: on Linux EGL, then
	// GLFW; on Windows GLFW).
	kind string
	// mainThread runs a function on the thread that owns the window system
	// (GLFW's main thread) and waits; nil runs it on the GL thread.
	mainThread func(func())
}

// startThread creates the context on a new locked thread.
func startThread(o contextOptions) (*glThread, error) {
	t := &glThread{calls: make(chan func()), stopped: make(chan struct{})}
	errc := make(chan error, 1)
	go t.loop(o, errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	return t, nil
}

func (t *glThread) loop(o contextOptions, errc chan<- error) {
	// The thread is never unlocked: when this goroutine ends, Go ends the
	// thread too, with whatever the driver left on it.
	runtime.LockOSThread()
	defer close(t.stopped)
	ctx, err := makeContext(o)
	if err != nil {
		errc <- fmt.Errorf("%w: %w", ErrUnavailable, err)
		return
	}
	t.platform = ctx.platform()
	errc <- nil
	for f := range t.calls {
		f()
	}
	ctx.release()
}

// contextKind is the kind of context asked for: o's, else
// LLAMADESK_GL_CONTEXT's ("egl" or "glfw"), else "" (the platform's order).
func contextKind(o contextOptions) (string, error) {
	kind := o.kind
	if kind == "" {
		kind = os.Getenv("LLAMADESK_GL_CONTEXT")
	}
	switch kind {
	case "", "egl", "glfw":
		return kind, nil
	}
	return "", fmt.Errorf("LLAMADESK_GL_CONTEXT=%q: want egl or glfw", kind)
}

// do runs f on the GL thread and waits for it. A panic in f is raised again
// in the caller.
func (t *glThread) do(f func()) {
	done := make(chan any, 1)
	t.calls <- func() {
		defer func() { done <- recover() }()
		f()
	}
	if p := <-done; p != nil {
		panic(p)
	}
}

// stop destroys the context and ends the thread.
func (t *glThread) stop() {
	close(t.calls)
	<-t.stopped
}

// The wrappers below must run on the GL thread.

func glString(name uint32) string {
	p := C.lgl_get_string(C.uint32_t(name))
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

func glExtensions() map[string]bool {
	exts := map[string]bool{}
	n := int(C.lgl_get_integer(C.LGL_NUM_EXTENSIONS))
	for i := range n {
		if p := C.lgl_get_stringi(C.LGL_EXTENSIONS, C.uint32_t(i)); p != nil {
			exts[C.GoString(p)] = true
		}
	}
	return exts
}

func glInteger(name uint32) int64 { return int64(C.lgl_get_integer(C.uint32_t(name))) }

func glIntegerIndex(name uint32, i int) int64 {
	return int64(C.lgl_get_integer_index(C.uint32_t(name), C.uint32_t(i)))
}

// glErrors reads and clears the GL error flags (a bounded number of them):
// it returns LGL_OUT_OF_MEMORY when any was, else the first, else 0.
func glErrors() uint32 { return uint32(C.lgl_drain_errors()) }

// clearErrors drains the GL error flags.
func clearErrors() { glErrors() }

// glProgram compiles and links a compute program.
func glProgram(src string) (uint32, error) {
	cs := C.CString(src)
	defer C.free(unsafe.Pointer(cs))
	var log [8192]C.char
	p := C.lgl_program(cs, &log[0], C.int(len(log)))
	if p == 0 {
		return 0, fmt.Errorf("%s", strings.TrimSpace(C.GoString(&log[0])))
	}
	return uint32(p), nil
}

// glBuffer creates a buffer of size bytes holding data (zeros when data is nil).
func glBuffer(size int64, data []byte) (uint32, error) {
	var ptr unsafe.Pointer
	if data != nil {
		ptr = unsafe.Pointer(unsafe.SliceData(data))
	}
	var glerr C.uint32_t
	name := C.lgl_buffer(C.int64_t(size), ptr, &glerr)
	if name == 0 {
		if glerr == C.LGL_OUT_OF_MEMORY {
			return 0, fmt.Errorf("allocate %d MiB of GPU memory: %w", size>>20, compute.ErrOutOfMemory)
		}
		return 0, fmt.Errorf("allocate %d bytes of GPU memory: OpenGL error 0x%x", size, uint32(glerr))
	}
	return uint32(name), nil
}

func glDeleteBuffers(names []uint32) {
	if len(names) > 0 {
		C.lgl_delete_buffers((*C.uint32_t)(unsafe.Pointer(&names[0])), C.int(len(names)))
	}
}

// glRead copies len(dst) bytes at byte offset off of buffer name into dst,
// after the compute.Barrier bits barrier.
func glRead(name uint32, off int64, dst []byte, barrier uint32) {
	if len(dst) == 0 {
		return
	}
	C.lgl_read(C.uint32_t(name), C.int64_t(off), C.int64_t(len(dst)), unsafe.Pointer(&dst[0]), C.uint32_t(barrier))
}

// glExec runs recorded commands (of compute.Cmd's layout, lgl_cmd),
// stopping early while *stop is set.
func glExec(cmds []compute.Cmd, ubo uint32, uniforms, data []byte, stop *C.int32_t) {
	if len(cmds) == 0 {
		return
	}
	var pp, dp unsafe.Pointer
	if len(uniforms) > 0 {
		pp = unsafe.Pointer(&uniforms[0])
	}
	if len(data) > 0 {
		dp = unsafe.Pointer(&data[0])
	}
	C.lgl_exec((*C.lgl_cmd)(unsafe.Pointer(&cmds[0])), C.int(len(cmds)), C.uint32_t(ubo), pp, C.int64_t(len(uniforms)),
		C.uint32_t(kernels.ParamsSize), dp, stop)
}
