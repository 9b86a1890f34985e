//go:build linux && cgo

package gl_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/gpu/compute"
	"github.com/llamadesk/llamadesk/gpu/gl"
)

// TestGoldenGLFW runs the golden checks of one model (every prompt, all
// layers) on a context of a hidden GLFW window, the way Windows and Linux
// machines without EGL make theirs, next to the EGL grid of TestGolden.
func TestGoldenGLFW(t *testing.T) {
	needDisplay(t)
	s := suiteWith("glfw")
	if p := newBackend(t, gl.Options{Context: "glfw"}).Info().Platform; !strings.HasPrefix(p, "GLFW") {
		t.Fatalf("the glfw context was made by %s", p)
	}
	s.GoldenModel(t, compute.Options{}, "tiny-gqa-q4_k_m", nil)
}

// TestContextWithoutEGL runs the test binary again with a libEGL.so.1 that
// has no symbols first on LD_LIBRARY_PATH, as on a machine without EGL:
// there the backend must make its context through GLFW and compute
// correctly, and an EGL context, asked for, must fail with the reason.
func TestContextWithoutEGL(t *testing.T) {
	if os.Getenv("LLAMADESK_TEST_NO_EGL") == "1" {
		noEGLChild(t)
		return
	}
	needDisplay(t)
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: no library to stand in for libEGL")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "empty.c")
	if err := os.WriteFile(src, []byte("int llamadesk_not_egl;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-shared", "-fPIC", "-Wl,-soname,libEGL.so.1", "-o", filepath.Join(dir, "libEGL.so.1"), src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestContextWithoutEGL$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "LLAMADESK_TEST_NO_EGL=1", "LD_LIBRARY_PATH="+dir, "LLAMADESK_GL_CONTEXT=")
	out, err := cmd.CombinedOutput()
	t.Logf("without EGL:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
}

// noEGLChild is TestContextWithoutEGL in the child process.
func noEGLChild(t *testing.T) {
	if _, err := gl.New(gl.Options{Context: "egl"}); err == nil || !strings.Contains(err.Error(), "libEGL.so.1 has no eglGetProcAddress") {
		t.Errorf("an EGL context without EGL: %v", err)
	}
	b := newBackend(t, gl.Options{})
	if p := b.Info().Platform; !strings.HasPrefix(p, "GLFW") {
		t.Fatalf("without EGL the context was made by %s", p)
	}
	suite.GoldenModel(t, compute.Options{}, "tiny-q4_0", []string{"plain.txt"})
}

// needDisplay skips a test of GLFW contexts without a window system
// (failing under CI=true, where make test runs under Xvfb).
func needDisplay(t *testing.T) {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no DISPLAY for a GLFW context (run under xvfb-run)")
		}
		t.Skip("no DISPLAY for a GLFW context (run under xvfb-run)")
	}
}
