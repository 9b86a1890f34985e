//go:build windows && cgo

package gl

import "errors"

// makeContext makes the context o asks for on the calling (GL) thread: on
// Windows, a hidden GLFW window's, through WGL.
func makeContext(o contextOptions) (glContext, error) {
	kind, err := contextKind(o)
	if err != nil {
		return nil, err
	}
	if kind == "egl" {
		return nil, errors.New("EGL contexts are made on Linux only; Windows uses GLFW (WGL)")
	}
	return glfwContext(o.mainThread)
}
