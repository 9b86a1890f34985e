package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParse reads the two benchmarks' JSON as the programs print it.
func TestParse(t *testing.T) {
	ours, err := parseOurs([]byte(`{"backend":"gl","threads":16,"pp_tokens":512,"pp_tokens_per_s":1234.5,"tg_tokens":128,"tg_tokens_per_s":98.7,"rss_bytes":1}` + "\n"))
	if err != nil || ours != (rates{1234.5, 98.7}) {
		t.Errorf("parseOurs = %v, %v", ours, err)
	}
	if _, err := parseOurs([]byte(`{"backend":"cpu","pp_tokens_per_s":1}`)); err == nil {
		t.Error("a CPU run was accepted")
	}
	llama, err := parseLlama([]byte(`[{"n_prompt":512,"n_gen":0,"avg_ts":2000.5,"backends":"Vulkan"},{"n_prompt":0,"n_gen":128,"avg_ts":110.25,"backends":"Vulkan"}]`))
	if err != nil || llama != (rates{2000.5, 110.25}) {
		t.Errorf("parseLlama = %v, %v", llama, err)
	}
	if _, err := parseLlama([]byte(`[{"n_prompt":512,"n_gen":0,"avg_ts":20,"backends":"CPU"}]`)); err == nil {
		t.Error("a CPU llama-bench run was accepted")
	}
}

// TestProbeLine reads the device line the GL tests' TestProbe logs.
func TestProbeLine(t *testing.T) {
	out := "=== RUN   TestProbe\n    kernels_test.go:59: NVIDIA GeForce RTX 4090/PCIe/SSE2 (OpenGL 4.6.0 NVIDIA 550.54; 23.1 GiB free of 24.0 GiB) via EGL 1.5, hardware device 0; subgroups true; max storage block 2048 MiB\n--- PASS"
	m := probeRE.FindStringSubmatch(out)
	if m == nil || !strings.HasPrefix(m[1], "NVIDIA GeForce RTX 4090") || m[2] != "EGL 1.5, hardware device 0" || m[3] != "true" {
		t.Errorf("probe line read as %q", m)
	}
}

// TestTable checks medians, ranges and ratios.
func TestTable(t *testing.T) {
	var b bytes.Buffer
	table(&b, "NVIDIA L4, 550.54, 23034 MiB", device{renderer: "NVIDIA L4", platform: "EGL 1.5, hardware device 0"}, config{rounds: 3, prompt: 512, gen: 128},
		[]result{{model: "7B Q4_0", ourPP: series{900, 1000, 1100}, ourTG: series{40, 50, 45}, llamaPP: series{2000, 2100, 1900}, llamaTG: series{50, 52, 48}}})
	for _, want := range []string{
		"| 7B Q4_0 | pp512 | 1000.00 (900.00–1100.00) | 2000.00 (1900.00–2100.00) | 0.50× |",
		"| 7B Q4_0 | tg128 | 45.00 (40.00–50.00) | 50.00 (48.00–52.00) | 0.90× |",
		"GPU: NVIDIA L4",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	if m := (series{3, 1, 2, 10}).median(); m != 2.5 {
		t.Errorf("median = %g", m)
	}
}

// TestEnvironment checks that the carried libraries go first and that the
// environment's own vendor files are kept.
func TestEnvironment(t *testing.T) {
	dir := t.TempDir()
	libs := filepath.Join(dir, "libs")
	if err := os.MkdirAll(libs, 0o755); err != nil {
		t.Fatal(err)
	}
	env := environment(dir, []string{"LD_LIBRARY_PATH=/opt/x", "__EGL_VENDOR_LIBRARY_FILENAMES=/mine.json", "VK_DRIVER_FILES=/vk.json"})
	for _, want := range []string{"LD_LIBRARY_PATH=" + libs + ":/opt/x", "__EGL_VENDOR_LIBRARY_FILENAMES=/mine.json", "VK_DRIVER_FILES=/vk.json"} {
		if !slices.Contains(env, want) {
			t.Errorf("environment %v lacks %s", env, want)
		}
	}
}

// TestParseTests reads go test -v's verdicts, subtests included.
func TestParseTests(t *testing.T) {
	out := `=== RUN   TestMatMul
--- PASS: TestMatMul (1.20s)
    --- PASS: TestMatMul/serial/Q4_0/n=1 (0.01s)
=== RUN   TestGolden
    golden.go:12: logit 3: 1.5, want 1.2
--- FAIL: TestGolden (2.00s)
    --- FAIL: TestGolden/tiny-q4_0/all-layers (1.00s)
        --- FAIL: TestGolden/tiny-q4_0/all-layers/plain.txt (0.50s)
FAIL
`
	res := parseTests([]byte(out))
	want := []string{"TestGolden", "TestGolden/tiny-q4_0/all-layers", "TestGolden/tiny-q4_0/all-layers/plain.txt"}
	if res.passed != 2 || !slices.Equal(res.failed, want) {
		t.Errorf("parseTests = %+v, want 2 passed and %v failed", res, want)
	}
}

// TestTimeout: a program that runs past its limit is stopped with an error
// saying so.
func TestTimeout(t *testing.T) {
	r := &runner{log: io.Discard}
	start := time.Now()
	_, err := r.output(200*time.Millisecond, os.Environ(), "sleep", "10")
	if err == nil || !strings.Contains(err.Error(), "stopped after 200ms") || time.Since(start) > 5*time.Second {
		t.Errorf("sleep 10 with a limit of 200ms: %v after %v", err, time.Since(start))
	}
}

// TestDeviceScript runs device.sh on a bundle whose gpu-check is a shell
// script that records its arguments: the bundle is unpacked (with xz, and
// with Python's lzma where xz does not run), gpu-check runs with the
// unpacked folder and the log in OUT, its output goes to OUT/table.txt, and
// its exit status is device.sh's.
func TestDeviceScript(t *testing.T) {
	for _, tool := range []string{"bash", "tar", "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("device.sh's test needs %s: %v", tool, err)
		}
	}
	src := t.TempDir()
	fake := "#!/bin/sh\necho \"gpu-check $*\"\nwhile [ $# -gt 0 ]; do [ \"$1\" = -log ] && echo logged >\"$2\"; shift; done\nexit 3\n"
	if err := os.WriteFile(filepath.Join(src, "gpu-check"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle.tar.xz")
	if out, err := exec.Command("tar", "-C", src, "-cJf", bundle, "gpu-check").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	// First on the PATH, an xz that does not run.
	noXZ := t.TempDir()
	if err := os.WriteFile(filepath.Join(noXZ, "xz"), []byte("#!/bin/sh\nexit 127\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, path string }{
		{"xz", os.Getenv("PATH")},
		{"lzma", noXZ + string(os.PathListSeparator) + os.Getenv("PATH")},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := exec.LookPath("python3"); err != nil && c.name == "lzma" {
				t.Skipf("no python3 for the fallback: %v", err)
			}
			dir, out := filepath.Join(t.TempDir(), "unpacked"), t.TempDir()
			cmd := exec.Command("./device.sh", bundle, "-rounds", "1")
			cmd.Env = append(os.Environ(), "PATH="+c.path, "OUT="+out, "GPU_CHECK_DIR="+dir)
			stdout, err := cmd.Output()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 3 {
				t.Errorf("device.sh: %v, want exit status 3", err)
			}
			want := "gpu-check -dir " + dir + " -log " + filepath.Join(out, "gpu-check.log") + " -rounds 1\n"
			table, _ := os.ReadFile(filepath.Join(out, "table.txt"))
			logged, _ := os.ReadFile(filepath.Join(out, "gpu-check.log"))
			if string(stdout) != want || string(table) != want || string(logged) != "logged\n" {
				t.Errorf("output %q, table.txt %q, log %q; want %q and the log", stdout, table, logged, want)
			}
		})
	}
}
