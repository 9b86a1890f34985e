package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// runCLI executes one command with the given environment variables and
// returns its exit status, stdout and stderr.
func runCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return vars[k] }}
	code := Run(context.Background(), env, args)
	return code, out.String(), errOut.String()
}

// synthModel writes a one-layer 7B-shaped Q4_0 model (about 190 MB: the
// full-size embedding and output matrices) and returns its path.
func synthModel(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "7b-1layer.gguf")
	code, out, errOut := runCLI(t, nil, "dev", "synth", "--shape", "7b", "--layers", "1", "--type", "Q4_0", "--out", path)
	if code != 0 {
		t.Fatalf("dev synth: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "wrote "+path) || !strings.Contains(out, "Q6_K×1") || !strings.Contains(out, "synthetic vocabulary") {
		t.Errorf("dev synth output: %q", out)
	}
	return path
}

func TestDevSynth(t *testing.T) {
	path := synthModel(t)
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, _ := f.Uint("llama.block_count"); n != 1 {
		t.Errorf("block_count %d, want 1", n)
	}
	if n, _ := f.Uint("llama.embedding_length"); n != 4096 {
		t.Errorf("embedding_length %d, want 4096", n)
	}
	if ti, ok := f.Tensor("output.weight"); !ok || ti.Type != gguf.TypeQ6_K || ti.Dims[1] != 32000 {
		t.Errorf("output.weight: %+v", ti)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode: %v %v", fi.Mode(), err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.partial"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestDevSynthUsage(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.gguf")
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no shape", []string{"dev", "synth", "--type", "Q4_0", "--out", out}, 2, "--shape is required"},
		{"no type", []string{"dev", "synth", "--shape", "7b", "--out", out}, 2, "--type is required"},
		{"no out", []string{"dev", "synth", "--shape", "7b", "--type", "Q4_0"}, 2, "--out is required"},
		{"bad shape", []string{"dev", "synth", "--shape", "8b", "--type", "Q4_0", "--out", out}, 2, "unknown shape"},
		{"bad type", []string{"dev", "synth", "--shape", "7b", "--type", "Q4_9", "--out", out}, 2, "unknown file type"},
		{"negative layers", []string{"dev", "synth", "--shape", "7b", "--type", "Q4_0", "--layers", "-1", "--out", out}, 2, "--layers"},
		{"missing folder", []string{"dev", "synth", "--shape", "7b", "--layers", "1", "--type", "Q4_0", "--out", filepath.Join(dir, "no", "m.gguf")}, 1, "no such file"},
		{"bad vocab", []string{"dev", "synth", "--shape", "7b", "--layers", "1", "--type", "Q4_0", "--vocab", filepath.Join(dir, "none.gguf"), "--out", out}, 1, "vocabulary"},
		{"unknown tool", []string{"dev", "frobnicate"}, 2, "unknown dev tool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed run left %s", out)
	}
}

func TestBench(t *testing.T) {
	path := synthModel(t)
	t.Run("json", func(t *testing.T) {
		code, out, errOut := runCLI(t, nil, "bench", "--model", path, "-p", "8", "-n", "2", "--threads", "2", "-r", "1", "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		want := regexp.MustCompile(`^\{"backend":"cpu","threads":2,"pp_tokens":8,"pp_tokens_per_s":[0-9.e+-]+,"tg_tokens":2,"tg_tokens_per_s":[0-9.e+-]+,"rss_bytes":[0-9]+,"depth":0,"kv_type":"f16"\}\n$`)
		if !want.MatchString(out) {
			t.Fatalf("output %q does not match %s", out, want)
		}
		var res benchJSON
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		if res.PromptPerSec <= 0 || res.GenPerSec <= 0 || res.ResidentBytes <= 0 {
			t.Errorf("implausible result %+v", res)
		}
		if errOut != "" {
			t.Errorf("--json wrote to stderr: %q", errOut)
		}
	})
	t.Run("depth", func(t *testing.T) {
		code, out, errOut := runCLI(t, nil, "bench", "--model", path, "-p", "4", "-n", "3", "--depth", "40", "--kv-type", "q8_0", "--threads", "2", "-r", "2", "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var res benchJSON
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		if res.Depth != 40 || res.KVType != "q8_0" || res.PromptPerSec <= 0 || res.GenPerSec <= 0 {
			t.Errorf("result %+v, want depth 40 with a q8_0 cache", res)
		}
		code, out, errOut = runCLI(t, nil, "bench", "--model", path, "-p", "4", "-n", "0", "-d", "16", "--threads", "1", "-r", "1")
		if code != 0 || !strings.Contains(out, "pp4 @ d16") || !strings.Contains(out, "16 tokens in the context") {
			t.Errorf("exit %d, table:\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("table", func(t *testing.T) {
		code, out, errOut := runCLI(t, nil, "bench", "--model", path, "-p", "4", "-n", "0", "--threads", "1", "-r", "2")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, s := range []string{"| pp4 ", "1 threads", "resident memory"} {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
		if strings.Contains(out, "| tg") {
			t.Errorf("-n 0 still measured generation:\n%s", out)
		}
		if !strings.Contains(errOut, "pp4, run 2 of 2") {
			t.Errorf("no progress on stderr: %q", errOut)
		}
	})
}

func TestBenchUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no model", []string{"bench"}, 2, "--model is required"},
		{"nothing to do", []string{"bench", "--model", "x.gguf", "-p", "0", "-n", "0"}, 2, "one must be positive"},
		{"negative", []string{"bench", "--model", "x.gguf", "-p", "-1"}, 2, "must not be negative"},
		{"no repetitions", []string{"bench", "--model", "x.gguf", "-r", "0"}, 2, "--repetitions"},
		{"negative depth", []string{"bench", "--model", "x.gguf", "--depth", "-5"}, 2, "--depth"},
		{"unknown KV type", []string{"bench", "--model", "x.gguf", "--kv-type", "q4"}, 2, "--kv-type"},
		{"missing file", []string{"bench", "--model", filepath.Join(t.TempDir(), "none.gguf")}, 1, "none.gguf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
}
