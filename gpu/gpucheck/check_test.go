package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
	libs := filepath.Join(dir, "libs", "usr", "lib", "x86_64-linux-gnu")
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
