//go:build (linux || windows) && cgo

package gl

/*
#include <stdlib.h>
#include "lgl.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"github.com/go-gl/glfw/v3.3/glfw"
)

// glfwCtx is the OpenGL 4.3 core context of a hidden 1×1 GLFW window:
// WGL on Windows, GLX (or EGL, as GLFW chooses) on Linux. GLFW is the one
// Fyne uses, in the same process: its window calls run on the main thread
// where a runner for it is given (the window app), and the library is
// never terminated.
type glfwCtx struct {
	win  *glfw.Window
	main func(func())
	desc string
}

// guard runs f, turning the panics go-gl/glfw raises for GLFW errors into
// an error.
func guard(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return f()
}

// glfwContext makes the context on the calling (GL) thread; the window is
// made through main when it is not nil.
func glfwContext(main func(func())) (glContext, error) {
	if runtime.GOOS == "linux" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return nil, errors.New("GLFW: no window system (DISPLAY and WAYLAND_DISPLAY are unset)")
	}
	run := main
	if run == nil {
		run = func(f func()) { f() }
	}
	var win *glfw.Window
	var err error
	run(func() {
		err = guard(func() error {
			if err := glfw.Init(); err != nil {
				return err
			}
			glfw.WindowHint(glfw.Visible, glfw.False)
			glfw.WindowHint(glfw.Focused, glfw.False)
			glfw.WindowHint(glfw.ClientAPI, glfw.OpenGLAPI)
			glfw.WindowHint(glfw.ContextVersionMajor, 4)
			glfw.WindowHint(glfw.ContextVersionMinor, 3)
			glfw.WindowHint(glfw.OpenGLProfile, glfw.OpenGLCoreProfile)
			glfw.WindowHint(glfw.OpenGLForwardCompatible, glfw.True)
			defer glfw.DefaultWindowHints() // Fyne's windows keep their own
			var err error
			win, err = glfw.CreateWindow(1, 1, "Llamadesk compute", nil, nil)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("GLFW: no OpenGL 4.3 core context: %w", err)
	}
	c := &glfwCtx{win: win, main: main, desc: "GLFW " + strings.Fields(glfw.GetVersionString() + " ?")[0] + " hidden window"}
	err = guard(func() error {
		win.MakeContextCurrent()
		n := int(C.lgl_gl_count())
		procs := unsafe.Slice((*unsafe.Pointer)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0))))), n)
		defer C.free(unsafe.Pointer(&procs[0]))
		for i := range procs {
			procs[i] = glfw.GetProcAddress(C.GoString(C.lgl_gl_name(C.int(i))))
		}
		if missing := C.lgl_set_gl(&procs[0]); missing != nil {
			return fmt.Errorf("the OpenGL driver has no %s", C.GoString(missing))
		}
		return nil
	})
	if err != nil {
		c.release()
		return nil, fmt.Errorf("GLFW: %w", err)
	}
	return c, nil
}

func (c *glfwCtx) platform() string { return c.desc }

// release detaches the context from the GL thread and destroys the window
// on the main thread without waiting for it: that thread may be waiting
// for this one (closing a model from the UI).
func (c *glfwCtx) release() {
	_ = guard(func() error { glfw.DetachCurrentContext(); return nil })
	destroy := func() { _ = guard(func() error { c.win.Destroy(); return nil }) }
	if c.main == nil {
		destroy()
		return
	}
	go c.main(destroy)
}
