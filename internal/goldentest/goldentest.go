// Package goldentest checks an engine backend against the golden outputs of
// the shared test data (llama.cpp's and float64 logits, greedy
// continuations), by the rules of the test data's README. Both the CPU and
// the GPU backends' tests use it.
package goldentest

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/tokenizer"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// Pair is a token id and its logit.
type Pair struct {
	ID    int32
	Logit float64
}

// UnmarshalJSON reads a pair written as [id, logit].
func (p *Pair) UnmarshalJSON(b []byte) error {
	var v [2]float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.ID, p.Logit = int32(v[0]), v[1]
	return nil
}

// Case is one prompt of a golden logits file.
type Case struct {
	PromptFile string    `json:"prompt_file"`
	Text       string    `json:"text"`
	Tokens     []int32   `json:"tokens"`
	LlamaTop10 [][]Pair  `json:"llamacpp_top10"`
	ExactTop10 [][]Pair  `json:"exact_top10"`
	Greedy24   []int32   `json:"llamacpp_greedy24"`
	LastLogits []float64 `json:"llamacpp_last_logits"`
}

// Golden is a model's golden logits file.
type Golden struct {
	Model string `json:"model"`
	Cases []Case `json:"cases"`
}

// Load reads golden/NAME.logits.json.
func Load(tb testing.TB, name string) *Golden {
	tb.Helper()
	raw, err := os.ReadFile(testenv.Path(tb, "golden", name+".logits.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var g Golden
	if err := json.Unmarshal(raw, &g); err != nil {
		tb.Fatalf("parse golden %s: %v", name, err)
	}
	return &g
}

// Prompt reads a prompt file of the shared test data.
func Prompt(tb testing.TB, file string) string {
	tb.Helper()
	raw, err := os.ReadFile(testenv.Path(tb, "prompts", file))
	if err != nil {
		tb.Fatal(err)
	}
	return string(raw)
}

// OpenModel opens a shared model file and its tokenizer.
func OpenModel(tb testing.TB, name string) (*gguf.File, *tokenizer.Tokenizer) {
	tb.Helper()
	f, err := gguf.Open(testenv.Path(tb, "models", name+".gguf"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		tb.Fatal(err)
	}
	return f, tok
}

// IsF16 reports whether the model's weights are unquantized floats.
func IsF16(name string) bool { return strings.HasSuffix(name, "-f16") }

// Stats summarises how a set of logits compares to a reference.
type Stats struct {
	MaxDiff, MeanDiff float64
	N                 int
}

func (s *Stats) add(d float64) {
	s.N++
	s.MeanDiff += d
	s.MaxDiff = max(s.MaxDiff, d)
}

func (s *Stats) done() {
	if s.N > 0 {
		s.MeanDiff /= float64(s.N)
	}
}

// compareTop compares logits (rows of vocab) with the reference top-10 lists.
func compareTop(logits []float32, vocab int, ref [][]Pair) Stats {
	var s Stats
	for pos, pairs := range ref {
		row := logits[pos*vocab : (pos+1)*vocab]
		for _, p := range pairs {
			s.add(math.Abs(float64(row[p.ID]) - p.Logit))
		}
	}
	s.done()
	return s
}

// argmax2 returns the best and second-best ids of a row and their logits.
func argmax2(row []float32) (best int32, margin float32) {
	b, s := -1, -1
	for i, v := range row {
		if b < 0 || v > row[b] {
			s, b = b, i
		} else if s < 0 || v > row[s] {
			s = i
		}
	}
	return int32(b), row[b] - row[s]
}

// topInExact3 reports the share of positions where the row's top token is
// among the exact reference's top 3.
func topInExact3(logits []float32, vocab int, exact [][]Pair) float64 {
	hits := 0
	for pos, pairs := range exact {
		best, _ := argmax2(logits[pos*vocab : (pos+1)*vocab])
		for _, p := range pairs[:min(3, len(pairs))] {
			if p.ID == best {
				hits++
				break
			}
		}
	}
	return float64(hits) / float64(len(exact))
}

// NewState builds a model state for a shared model; the test decides the placement.
type NewState func(tb testing.TB, f *gguf.File) *engine.State

// Check runs every rule of the test data README for one model and one
// backend placement: tokens, logits against llama.cpp or exact, greedy
// continuation through the KV cache, and batch against one-token-at-a-time.
// The states' KV cache must be float32, as the references' was.
func Check(t *testing.T, name string, newState NewState) {
	CheckKV(t, name, engine.KVF32, newState)
}

// CheckKV is Check for states whose KV cache is of type kv. A cache of
// reduced precision (f16, q8_0) rounds the keys and values as quantized
// weights round the products, so the logits of every model, F16 weights
// included, are held to the quantized models' rules (within 0.05 of
// llama.cpp's, or close to exact with the same top tokens), and greedy
// generation may depart from llama.cpp's (float32 cache) where our two best
// logits are within ReducedKVTie: on these random-weight models a rounded
// cache moves logits by up to about 0.35 (measured: f16 and q8_0 caches
// against float32), so margins up to 0.2 flip.
func CheckKV(t *testing.T, name string, kv engine.KVType, newState NewState) {
	CheckPrompts(t, name, kv, nil, newState)
}

// CheckPrompts is CheckKV for the named prompt files of the model's golden
// file only (every prompt when prompts is empty).
func CheckPrompts(t *testing.T, name string, kv engine.KVType, prompts []string, newState NewState) {
	f, tok := OpenModel(t, name)
	g := Load(t, name)
	ctx := context.Background()
	for _, c := range g.Cases {
		if len(prompts) > 0 && !slices.Contains(prompts, c.PromptFile) {
			continue
		}
		t.Run(c.PromptFile, func(t *testing.T) {
			text := Prompt(t, c.PromptFile)
			if text != c.Text {
				t.Fatalf("prompt file %s differs from the golden text", c.PromptFile)
			}
			tokens := tok.Encode(text, tok.AddBOS(), true)
			if !slices.Equal(tokens, c.Tokens) {
				t.Fatalf("tokens differ from llama.cpp's:\n got %v\nwant %v", tokens, c.Tokens)
			}
			st := newState(t, f)
			vocab := st.Model().Config.Vocab
			batch, err := st.Eval(ctx, c.Tokens, true)
			if err != nil {
				t.Fatal(err)
			}
			checkLogits(t, IsF16(name) && kv == engine.KVF32, batch, vocab, c)

			// The same prompt one token at a time through the cache.
			st2 := newState(t, f)
			var maxDiff float64
			for i, id := range c.Tokens {
				row, err := st2.Eval(ctx, []int32{id}, false)
				if err != nil {
					t.Fatal(err)
				}
				for j, v := range row {
					maxDiff = max(maxDiff, math.Abs(float64(v-batch[i*vocab+j])))
				}
			}
			if maxDiff > 1e-3 {
				t.Errorf("batch and one-at-a-time logits differ by up to %.5f (limit 1e-3)", maxDiff)
			}

			tie := float32(0.1)
			if kv != engine.KVF32 {
				tie = ReducedKVTie
			}
			checkGreedy(t, st, batch[(len(c.Tokens)-1)*vocab:], c, tie)
		})
	}
}

func checkLogits(t *testing.T, f16Rule bool, logits []float32, vocab int, c Case) {
	t.Helper()
	exact := compareTop(logits, vocab, c.ExactTop10)
	if f16Rule {
		if exact.MaxDiff > 0.05 {
			t.Errorf("F16: logits differ from exact by up to %.4f (limit 0.05)", exact.MaxDiff)
		}
		t.Logf("vs exact: max %.4f mean %.4f", exact.MaxDiff, exact.MeanDiff)
		return
	}
	llama := compareTop(logits, vocab, c.LlamaTop10)
	if c.LastLogits != nil {
		last := logits[(len(c.Tokens)-1)*vocab:]
		for id, want := range c.LastLogits {
			llama.MaxDiff = max(llama.MaxDiff, math.Abs(float64(last[id])-want))
		}
	}
	top3 := topInExact3(logits, vocab, c.ExactTop10)
	t.Logf("vs llama.cpp: max %.4f mean %.4f; vs exact: max %.4f mean %.4f, top in exact top-3 %.1f%%",
		llama.MaxDiff, llama.MeanDiff, exact.MaxDiff, exact.MeanDiff, 100*top3)
	if llama.MaxDiff <= 0.05 {
		return
	}
	if exact.MeanDiff > 0.1 || exact.MaxDiff > 1.0 || top3 < 0.99 {
		t.Errorf("logits agree with neither llama.cpp (max diff %.4f > 0.05) nor exact (mean %.4f, max %.4f, top-3 %.1f%%)",
			llama.MaxDiff, exact.MeanDiff, exact.MaxDiff, 100*top3)
	}
}

// ReducedKVTie is the near-tie margin of greedy generation with an f16 or
// q8_0 KV cache (see CheckKV).
const ReducedKVTie = 0.25

// checkGreedy continues the prompt greedily one token at a time. Each step
// is fed llama.cpp's token, so every step is checked: our best token must be
// llama.cpp's unless our two best logits are within tie of each other.
func checkGreedy(t *testing.T, st *engine.State, logits []float32, c Case, tie float32) {
	t.Helper()
	ctx := context.Background()
	for step, want := range c.Greedy24 {
		best, margin := argmax2(logits)
		if best != want && margin >= tie {
			t.Errorf("greedy step %d: got token %d, llama.cpp %d, and our margin %.3f is not a near tie", step, best, want, margin)
			return
		}
		var err error
		logits, err = st.Eval(ctx, []int32{want}, false)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Models lists the shared models.
func Models(tb testing.TB) []string { return testenv.Models(tb) }
