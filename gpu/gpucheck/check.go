package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// config is what a check does.
type config struct {
	dir           string
	rounds        int
	prompt, gen   int
	shape         string
	layers        int
	types         []string
	allowSoftware bool
	skipTests     bool
	// testTimeout bounds the GL tests, timeout each other program's run
	// (a GPU that hangs must not take the machine's whole lease).
	testTimeout, timeout time.Duration
	// log is the file the programs' output goes to ("": gpu-check.log in dir).
	log string
}

// Where the NVIDIA driver's vendor files are, in containers (the first)
// and on hosts.
var (
	eglVendorFiles = []string{
		"/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json",
		"/usr/share/glvnd/egl_vendor.d/10_nvidia.json",
		"/etc/glvnd/egl_vendor.d/10_nvidia.json",
	}
	vulkanDriverFiles = []string{
		"/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json",
		"/usr/share/vulkan/icd.d/nvidia_icd.json",
		"/etc/vulkan/icd.d/nvidia_icd.json",
	}
)

// environment returns the environment of the checked programs: the
// carried libraries (libs/: the X11 client libraries the Go programs link)
// first on LD_LIBRARY_PATH, and the NVIDIA vendor files where the
// environment does not name any.
func environment(dir string, base []string) []string {
	env := slices.Clone(base)
	get := func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	set := func(k, v string) {
		env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
		env = append(env, k+"="+v)
	}
	libs := filepath.Join(dir, "libs")
	if _, err := os.Stat(libs); err == nil {
		path := libs
		if old := get("LD_LIBRARY_PATH"); old != "" {
			path += ":" + old
		}
		set("LD_LIBRARY_PATH", path)
	}
	if get("__EGL_VENDOR_LIBRARY_FILENAMES") == "" && get("__EGL_VENDOR_LIBRARY_DIRS") == "" {
		if f := firstFile(eglVendorFiles); f != "" {
			set("__EGL_VENDOR_LIBRARY_FILENAMES", f)
		}
	}
	if get("VK_DRIVER_FILES") == "" && get("VK_ICD_FILENAMES") == "" {
		if f := firstFile(vulkanDriverFiles); f != "" {
			set("VK_DRIVER_FILES", f)
		}
	}
	return env
}

func firstFile(paths []string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// runner runs the checked programs.
type runner struct {
	cfg config
	env []string
	log io.Writer
}

// output runs a program for at most timeout and returns its standard
// output; its standard error goes to the log.
func (r *runner) output(timeout time.Duration, env []string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = r.log
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("stopped after %v: %w", timeout, ctx.Err())
	}
	if err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return out.Bytes(), nil
}

func (r *runner) path(parts ...string) string {
	return filepath.Join(append([]string{r.cfg.dir}, parts...)...)
}

// probeRE finds the device line TestProbe logs.
var probeRE = regexp.MustCompile(`kernels_test.go:\d+: (.+) via (.+); subgroups (\w+); max storage block (\d+) MiB`)

// device is what the EGL probe found.
type device struct {
	renderer, platform string
	subgroups          bool
}

// checkEGL makes an EGL context through the GL tests' probe and checks
// that it is on a hardware device.
func (r *runner) checkEGL() (device, error) {
	env := append(slices.Clone(r.env), "LLAMADESK_GL_CONTEXT=egl", "CI=true")
	out, err := r.output(r.cfg.timeout, env, r.path("gl.test"), "-test.run", "^TestProbe$", "-test.v", "-test.count", "1")
	fmt.Fprintf(r.log, "%s", out)
	if err != nil {
		return device{}, fmt.Errorf("no EGL context: %w", err)
	}
	m := probeRE.FindSubmatch(out)
	if m == nil {
		return device{}, errors.New("the probe did not describe a device")
	}
	d := device{renderer: string(m[1]), platform: string(m[2]), subgroups: string(m[3]) == "true"}
	software := strings.Contains(d.platform, "software") || strings.Contains(strings.ToLower(d.renderer), "llvmpipe")
	if software && !r.cfg.allowSoftware {
		return d, fmt.Errorf("the EGL context is on %s (%s), not a GPU: is the NVIDIA EGL vendor file found (__EGL_VENDOR_LIBRARY_FILENAMES)?", d.renderer, d.platform)
	}
	return d, nil
}

// testResults are what a run of the GL tests printed.
type testResults struct {
	passed int      // tests and subtests
	failed []string // the names of those that failed
}

// runTests runs the GL tests on the device's EGL context, the golden
// checks included; those of GLFW contexts need a window system, which a
// GPU server has not.
func (r *runner) runTests() (testResults, error) {
	env := append(slices.Clone(r.env), "LLAMADESK_GL_CONTEXT=egl", "CI=true", "LLAMADESK_TESTDATA="+r.path("testdata"))
	out, err := r.output(r.cfg.testTimeout+time.Minute, env, r.path("gl.test"), "-test.v", "-test.count", "1",
		"-test.timeout", r.cfg.testTimeout.String(), "-test.skip", "^(TestGoldenGLFW|TestContextWithoutEGL)$")
	fmt.Fprintf(r.log, "%s", out)
	return parseTests(out), err
}

// parseTests reads the verdicts of go test -v.
func parseTests(out []byte) testResults {
	var res testResults
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "--- PASS: ") {
			res.passed++
		} else if name, ok := strings.CutPrefix(line, "--- FAIL: "); ok {
			name, _, _ = strings.Cut(name, " (")
			res.failed = append(res.failed, name)
		}
	}
	return res
}

// model writes (once) the benchmark model of a file type.
func (r *runner) model(typ string) (string, error) {
	name := fmt.Sprintf("%s-%s", r.cfg.shape, strings.ToLower(typ))
	if r.cfg.layers > 0 {
		name += fmt.Sprintf("-%dl", r.cfg.layers)
	}
	path := r.path("models", name+".gguf")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	args := []string{"dev", "synth", "--shape", r.cfg.shape, "--type", typ, "--out", path + ".part",
		"--vocab", r.path("testdata", "vocab", "llama2-spm.gguf")}
	if r.cfg.layers > 0 {
		args = append(args, "--layers", fmt.Sprint(r.cfg.layers))
	}
	out, err := r.output(r.cfg.timeout, r.env, r.path("llamadesk"), args...)
	fmt.Fprintf(r.log, "%s", out)
	if err != nil {
		return "", err
	}
	return path, os.Rename(path+".part", path)
}

// rates are one benchmark run's tokens per second.
type rates struct{ pp, tg float64 }

// benchOurs runs llamadesk bench on the GPU.
func (r *runner) benchOurs(model string) (rates, error) {
	out, err := r.output(r.cfg.timeout, r.env, r.path("llamadesk"), "bench", "--model", model, "--backend", "gl", "--gpu-layers", "-1",
		"-p", fmt.Sprint(r.cfg.prompt), "-n", fmt.Sprint(r.cfg.gen), "-r", "1", "--json")
	if err != nil {
		return rates{}, err
	}
	return parseOurs(out)
}

// parseOurs reads `llamadesk bench --json`.
func parseOurs(out []byte) (rates, error) {
	var v struct {
		Backend string  `json:"backend"`
		PP      float64 `json:"pp_tokens_per_s"`
		TG      float64 `json:"tg_tokens_per_s"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &v); err != nil {
		return rates{}, fmt.Errorf("llamadesk bench --json: %w", err)
	}
	if !strings.HasPrefix(v.Backend, "gl") {
		return rates{}, fmt.Errorf("llamadesk bench ran on %q, not the GPU", v.Backend)
	}
	return rates{pp: v.PP, tg: v.TG}, nil
}

// benchLlama runs llama.cpp's llama-bench with every layer on the Vulkan GPU.
func (r *runner) benchLlama(model string) (rates, error) {
	vk := r.path("vulkan")
	env := slices.Clone(r.env)
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "LD_LIBRARY_PATH="); ok {
			env[i] = "LD_LIBRARY_PATH=" + vk + ":" + v
			vk = ""
		}
	}
	if vk != "" {
		env = append(env, "LD_LIBRARY_PATH="+vk)
	}
	out, err := r.output(r.cfg.timeout, env, r.path("vulkan", "llama-bench"), "-m", model, "-ngl", "99",
		"-p", fmt.Sprint(r.cfg.prompt), "-n", fmt.Sprint(r.cfg.gen), "-r", "1", "-o", "json")
	if err != nil {
		return rates{}, err
	}
	return parseLlama(out)
}

// parseLlama reads `llama-bench -o json`: one object per test.
func parseLlama(out []byte) (rates, error) {
	var tests []struct {
		NPrompt  int     `json:"n_prompt"`
		NGen     int     `json:"n_gen"`
		AvgTS    float64 `json:"avg_ts"`
		Backends string  `json:"backends"`
	}
	if err := json.Unmarshal(out, &tests); err != nil {
		return rates{}, fmt.Errorf("llama-bench -o json: %w", err)
	}
	var r rates
	for _, t := range tests {
		if !strings.Contains(t.Backends, "Vulkan") {
			return rates{}, fmt.Errorf("llama-bench ran on %q, not Vulkan", t.Backends)
		}
		switch {
		case t.NPrompt > 0 && t.NGen == 0:
			r.pp = t.AvgTS
		case t.NGen > 0 && t.NPrompt == 0:
			r.tg = t.AvgTS
		}
	}
	return r, nil
}

// series are the rates of several rounds.
type series []float64

func (s series) median() float64 {
	if len(s) == 0 {
		return 0
	}
	v := slices.Sorted(slices.Values(s))
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (s series) String() string {
	if len(s) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", s.median(), slices.Min(s), slices.Max(s))
}

// result is a model's benchmark.
type result struct {
	model, typ       string
	ourPP, ourTG     series
	llamaPP, llamaTG series
}

// table prints the results as one Markdown table.
func table(w io.Writer, card string, d device, c config, results []result) {
	fmt.Fprintf(w, "\nGPU: %s — %s via %s (subgroups %v); %s\n", card, d.renderer, d.platform, d.subgroups, time.Now().Format("2006-01-02"))
	fmt.Fprintf(w, "tokens/s, median of %d alternating rounds (min–max); llama.cpp = llama-bench -ngl 99 (Vulkan, node-llama-cpp 3.21.1)\n\n", c.rounds)
	fmt.Fprintln(w, "| model | test | llamadesk gl | llama.cpp Vulkan | ratio |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range results {
		for _, t := range []struct {
			name        string
			ours, llama series
		}{{fmt.Sprintf("pp%d", c.prompt), r.ourPP, r.llamaPP}, {fmt.Sprintf("tg%d", c.gen), r.ourTG, r.llamaTG}} {
			ratio := "–"
			if len(t.ours) > 0 && t.llama.median() > 0 {
				ratio = fmt.Sprintf("%.2f×", t.ours.median()/t.llama.median())
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.model, t.name, t.ours, t.llama, ratio)
		}
	}
}

// cardName asks nvidia-smi for the GPU's name, driver and memory.
func cardName(env []string) string {
	cmd := exec.Command("nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return "(no nvidia-smi)"
	}
	return strings.TrimSpace(strings.Split(string(out), "\n")[0])
}

// run is the whole check; the table goes to w (after each round, so that
// a run stopped from outside still leaves numbers), the programs' output
// to the log. A failure of the GL tests or of one benchmark run does not
// stop the rest (the machine may be lent for minutes only): the table
// shows what ran, and run returns every failure.
func run(c config, w io.Writer) error {
	dir, err := filepath.Abs(c.dir)
	if err != nil {
		return err
	}
	c.dir = dir
	for _, f := range []string{"llamadesk", "gl.test", "vulkan/llama-bench", "testdata/vocab/llama2-spm.gguf"} {
		if _, err := os.Stat(filepath.Join(c.dir, f)); err != nil {
			return fmt.Errorf("%s is missing: run make gpu-check-prepare first (%w)", f, err)
		}
	}
	if c.log == "" {
		c.log = filepath.Join(c.dir, "gpu-check.log")
	}
	logf, err := os.Create(c.log)
	if err != nil {
		return err
	}
	defer logf.Close()
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(w, "[%4.0fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	r := &runner{cfg: c, env: environment(c.dir, os.Environ()), log: logf}
	card := cardName(r.env)
	say("GPU: %s", card)
	d, err := r.checkEGL()
	if err != nil {
		return err
	}
	say("EGL context: %s via %s (subgroups %v)", d.renderer, d.platform, d.subgroups)
	var failures []error
	if !c.skipTests {
		say("GL tests on the device (golden checks included)…")
		res, err := r.runTests()
		say("GL tests: %d passed, %d failed (%s has the output)", res.passed, len(res.failed), c.log)
		for i, name := range res.failed {
			if i == 20 {
				fmt.Fprintf(w, "        … and %d more\n", len(res.failed)-i)
				break
			}
			fmt.Fprintf(w, "        FAIL %s\n", name)
		}
		if err != nil {
			failures = append(failures, fmt.Errorf("GL tests: %w", err))
		}
	}
	var results []result
	models := map[string]string{}
	for _, typ := range c.types {
		say("writing the %s %s model…", c.shape, typ)
		path, err := r.model(typ)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		models[typ] = path
		label := fmt.Sprintf("%s %s", strings.ToUpper(c.shape), typ)
		if c.layers > 0 {
			label += fmt.Sprintf(" (%d layers)", c.layers)
		}
		results = append(results, result{model: label, typ: typ})
	}
	for round := 1; round <= c.rounds; round++ {
		say("round %d of %d…", round, c.rounds)
		for i := range results {
			res := &results[i]
			// Alternate which program goes first.
			ours := func() {
				v, err := r.benchOurs(models[res.typ])
				if err != nil {
					failures = append(failures, fmt.Errorf("round %d: %w", round, err))
					return
				}
				res.ourPP, res.ourTG = append(res.ourPP, v.pp), append(res.ourTG, v.tg)
			}
			llama := func() {
				v, err := r.benchLlama(models[res.typ])
				if err != nil {
					failures = append(failures, fmt.Errorf("round %d: %w", round, err))
					return
				}
				res.llamaPP, res.llamaTG = append(res.llamaPP, v.pp), append(res.llamaTG, v.tg)
			}
			if round%2 == 1 {
				ours()
				llama()
			} else {
				llama()
				ours()
			}
		}
		say("after round %d of %d:", round, c.rounds)
		done := c
		done.rounds = round
		table(w, card, d, done, results)
	}
	return errors.Join(failures...)
}
