//go:build linux && cgo

package gl

/*
#include "lgl.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
)

// makeContext makes the context o asks for on the calling (GL) thread: a
// headless EGL context, else a hidden GLFW window's (for machines without
// EGL, such as a desktop with only GLX).
func makeContext(o contextOptions) (glContext, error) {
	kind, err := contextKind(o)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "egl":
		return eglContext()
	case "glfw":
		return glfwContext(o.mainThread)
	}
	ctx, eerr := eglContext()
	if eerr == nil {
		return ctx, nil
	}
	ctx, gerr := glfwContext(o.mainThread)
	if gerr == nil {
		return ctx, nil
	}
	return nil, errors.Join(eerr, gerr)
}

// eglCtx is a headless EGL context (lgl_egl.c).
type eglCtx struct{ c *C.lgl_egl }

func eglContext() (glContext, error) {
	var msg [4096]C.char
	c := C.lgl_egl_create(&msg[0], C.int(len(msg)))
	if c == nil {
		return nil, fmt.Errorf("EGL: %s", strings.TrimRight(C.GoString(&msg[0]), "; "))
	}
	return eglCtx{c}, nil
}

func (e eglCtx) platform() string { return C.GoString(C.lgl_egl_platform(e.c)) }

func (e eglCtx) release() { C.lgl_egl_destroy(e.c) }
