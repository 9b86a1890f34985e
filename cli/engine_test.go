package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/internal/goldentest"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

func TestEvalJSON(t *testing.T) {
	h := newHistoryEnv(t)
	g := goldentest.Load(t, "tiny-q4_0")
	out := h.ok(t, "eval", "--model", testenv.Path(t, "models", "tiny-q4_0.gguf"),
		"--prompt-file", testenv.Path(t, "prompts", "chat.txt"), "--top", "5", "--backend", "cpu")
	var got struct {
		Tokens []int32       `json:"tokens"`
		Top    [][][]float64 `json:"top"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := g.Cases[1]
	if want.PromptFile != "chat.txt" || !slices.Equal(got.Tokens, want.Tokens) {
		t.Fatalf("tokens %v, want llama.cpp's %v", got.Tokens, want.Tokens)
	}
	if len(got.Top) != len(got.Tokens) {
		t.Fatalf("%d top lists for %d tokens", len(got.Top), len(got.Tokens))
	}
	for pos, pairs := range got.Top {
		if len(pairs) != 5 {
			t.Fatalf("position %d: %d pairs", pos, len(pairs))
		}
		for i := 1; i < len(pairs); i++ {
			if pairs[i][1] > pairs[i-1][1] {
				t.Fatalf("position %d not highest first: %v", pos, pairs)
			}
		}
		ref := want.LlamaTop10[pos][0]
		if int32(pairs[0][0]) != ref.ID && pairs[0][1]-ref.Logit > 0.5 {
			t.Errorf("position %d: top %v, llama.cpp's %v", pos, pairs[0], ref)
		}
	}
}

// TestGenerateGreedyMatchesLlamaCpp: `generate --temp 0` is plain greedy
// decoding: it reproduces llama.cpp's greedy continuation, departing only
// where our two best logits are within 0.1 of each other.
func TestGenerateGreedyMatchesLlamaCpp(t *testing.T) {
	h := newHistoryEnv(t)
	for _, name := range goldentest.Models(t) {
		g := goldentest.Load(t, name)
		c := g.Cases[0]
		out := h.ok(t, "generate", "--model", testenv.Path(t, "models", name+".gguf"),
			"--prompt-file", testenv.Path(t, "prompts", c.PromptFile), "-n", "24", "--temp", "0", "--json", "--ignore-eos")
		var got struct {
			Tokens []int32       `json:"tokens"`
			Top2   [][][]float64 `json:"top2"`
			Text   string        `json:"text"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Tokens) != 24 || len(got.Top2) != 24 {
			t.Fatalf("%s: %d tokens, %d top2", name, len(got.Tokens), len(got.Top2))
		}
		for i, id := range got.Tokens {
			if int32(got.Top2[i][0][0]) != id {
				t.Fatalf("%s step %d: chose %d, not the best %v", name, i, id, got.Top2[i])
			}
			if id != c.Greedy24[i] {
				if margin := got.Top2[i][0][1] - got.Top2[i][1][1]; margin >= 0.1 {
					t.Errorf("%s step %d: %d, llama.cpp %d, margin %.3f is no near tie", name, i, id, c.Greedy24[i], margin)
				}
				break
			}
		}
	}
}

func TestTokenizeFlags(t *testing.T) {
	h := newHistoryEnv(t)
	model := testenv.Path(t, "models", "chat-q4_k_m.gguf")
	text := filepath.Join(t.TempDir(), "t.txt")
	if err := os.WriteFile(text, []byte("Hi </s><s>there"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := func(args ...string) []int32 {
		var got struct {
			Tokens []int32 `json:"tokens"`
		}
		out := h.ok(t, append([]string{"tokenize", "--model", model, "--text-file", text}, args...)...)
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		return got.Tokens
	}
	plain, special, noBOS := tokens(), tokens("--parse-special"), tokens("--no-bos")
	if plain[0] != 1 || noBOS[0] == 1 || !slices.Equal(plain[1:], noBOS) {
		t.Errorf("BOS handling: %v vs %v", plain, noBOS)
	}
	if slices.Contains(plain[1:], 2) || !slices.Contains(special, 2) || !slices.Contains(special[1:], 1) {
		t.Errorf("special tokens: plain %v, --parse-special %v", plain, special)
	}
}

func TestInfoJSON(t *testing.T) {
	h := newHistoryEnv(t)
	out := h.ok(t, "info", "--model", testenv.Path(t, "models", "tiny-gqa-q4_k_m.gguf"), "--json")
	var info map[string]any
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{"architecture": "llama", "context_length": 4096.0, "quantization": "Q4_K_M",
		"heads": 8.0, "kv_heads": 1.0, "layers": 2.0, "chat_format": "file's chat_template (Llama 2)"} {
		if info[key] != want {
			t.Errorf("%s = %v, want %v", key, info[key], want)
		}
	}
	if info["parameters"].(float64) <= 0 || info["file_bytes"].(float64) <= 0 {
		t.Errorf("info %v", info)
	}
}

func TestEngineCommandErrors(t *testing.T) {
	h := newHistoryEnv(t)
	bad := filepath.Join(t.TempDir(), "bad.gguf")
	if err := os.WriteFile(bad, []byte("GGUF\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff"), 0o600); err != nil {
		t.Fatal(err)
	}
	prompt := testenv.Path(t, "prompts", "plain.txt")
	if msg := h.fail(t, 2, "eval", "--prompt-file", prompt); !strings.Contains(msg, "--model is required") {
		t.Errorf("stderr %q", msg)
	}
	if msg := h.fail(t, 1, "eval", "--model", bad, "--prompt-file", prompt); !strings.Contains(msg, "tensor count") {
		t.Errorf("stderr %q", msg)
	}
	if msg := h.fail(t, 1, "info", "--model", filepath.Join(t.TempDir(), "missing.gguf")); !strings.Contains(msg, "no such file") {
		t.Errorf("stderr %q", msg)
	}
	model := testenv.Path(t, "models", "tiny-q8_0.gguf")
	if msg := h.fail(t, 1, "generate", "--model", model, "--prompt-file", prompt, "-n", "5000"); !strings.Contains(msg, "exceed the context") {
		t.Errorf("stderr %q", msg)
	}
	h.fail(t, 2, "eval", "--model", model, "--prompt-file", prompt, "--backend", "vulkan")
}
