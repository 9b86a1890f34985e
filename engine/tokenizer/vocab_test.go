package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// vocabCase is one input of llama.cpp's tokenizer test with its expected ids.
type vocabCase struct {
	text string
	want []int32
}

// openTokenizer loads the tokenizer of a shared test file.
func openTokenizer(tb testing.TB, elem ...string) *Tokenizer {
	tb.Helper()
	f, err := gguf.Open(testenv.Path(tb, elem...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	tok, err := FromGGUF(f)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// splitInputs splits a .inp file as llama.cpp's test-tokenizer-0 does: on
// "\n__ggml_vocab_test__\n", keeping every other newline of a case; a
// separator at the very end does not start another case.
func splitInputs(raw string) []string {
	const sep = "\n__ggml_vocab_test__\n"
	var cases []string
	for pos := 0; pos < len(raw); {
		next := strings.Index(raw[pos:], sep)
		if next < 0 {
			cases = append(cases, raw[pos:])
			break
		}
		cases = append(cases, raw[pos:pos+next])
		pos += next + len(sep)
	}
	return cases
}

// readVocabCases reads the shared .inp/.out pair.
func readVocabCases(tb testing.TB) []vocabCase {
	tb.Helper()
	inp, err := os.ReadFile(testenv.Path(tb, "vocab", "llama2-spm.inp"))
	if err != nil {
		tb.Fatal(err)
	}
	outRaw, err := os.ReadFile(testenv.Path(tb, "vocab", "llama2-spm.out"))
	if err != nil {
		tb.Fatal(err)
	}
	inputs := splitInputs(string(inp))
	lines := strings.Split(strings.TrimSuffix(string(outRaw), "\n"), "\n")
	if len(inputs) != len(lines) {
		tb.Fatalf("%d inputs but %d output lines", len(inputs), len(lines))
	}
	cases := make([]vocabCase, len(inputs))
	for i, text := range inputs {
		var ids []int32
		for _, field := range strings.Fields(lines[i]) {
			v, err := strconv.ParseInt(field, 10, 32)
			if err != nil {
				tb.Fatalf("output line %d: %v", i+1, err)
			}
			ids = append(ids, int32(v))
		}
		cases[i] = vocabCase{text: text, want: ids}
	}
	return cases
}

func TestSplitInputs(t *testing.T) {
	tests := []struct {
		raw  string
		want []string
	}{
		{"a\n__ggml_vocab_test__\n", []string{"a"}},
		{"a\n__ggml_vocab_test__\n\n__ggml_vocab_test__\n", []string{"a", ""}},
		{"\n\n__ggml_vocab_test__\n \n__ggml_vocab_test__\n", []string{"\n", " "}},
		{"a\n__ggml_vocab_test__\nb", []string{"a", "b"}},
	}
	for _, tc := range tests {
		if got := splitInputs(tc.raw); !slices.Equal(got, tc.want) {
			t.Errorf("splitInputs(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

// TestEncodeLlamaCppVocabCases reproduces every case of llama.cpp's
// test-tokenizer-0 for the Llama 2 vocabulary (no BOS, parse_special=false).
func TestEncodeLlamaCppVocabCases(t *testing.T) {
	tok := openTokenizer(t, "vocab", "llama2-spm.gguf")
	cases := readVocabCases(t)
	if len(cases) < 40 {
		t.Fatalf("only %d cases read", len(cases))
	}
	for i, c := range cases {
		got := tok.Encode(c.text, false, false)
		if !slices.Equal(got, c.want) {
			t.Errorf("case %d %q:\n got %v\nwant %v", i, c.text, got, c.want)
		}
	}
}

// TestDecodeRoundTrip checks Decode(Encode(x)) == x for every vocabulary
// case: llama.cpp's round trip holds for all of them, including those that
// start with spaces (Encode adds one space, Decode strips exactly one). It
// would not hold for text containing "▁" (decoded as a space), invalid UTF-8
// or characters without a byte token; the cases have none of those.
func TestDecodeRoundTrip(t *testing.T) {
	tok := openTokenizer(t, "vocab", "llama2-spm.gguf")
	for i, c := range readVocabCases(t) {
		if got := tok.Decode(tok.Encode(c.text, false, false)); got != c.text {
			t.Errorf("case %d: Decode(Encode(%q)) = %q", i, c.text, got)
		}
		withBOS := tok.Encode(c.text, true, false)
		if got := tok.Decode(withBOS[1:]); got != c.text {
			t.Errorf("case %d: Decode(Encode(%q) less BOS) = %q", i, c.text, got)
		}
	}
}

// goldenFile is the part of golden/*.logits.json this package checks.
type goldenFile struct {
	Model string `json:"model"`
	Cases []struct {
		PromptFile string  `json:"prompt_file"`
		Tokens     []int32 `json:"tokens"`
	} `json:"cases"`
}

// TestEncodeGoldenPrompts checks the tokens llama.cpp fed each model against
// Encode(prompt, addBOS=true, parseSpecial=true) with the model's own vocabulary.
func TestEncodeGoldenPrompts(t *testing.T) {
	goldens, err := filepath.Glob(testenv.Path(t, "golden", "*.logits.json"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden logits files (%v)", err)
	}
	checked := 0
	for _, path := range goldens {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var g goldenFile
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if g.Model == "" || len(g.Cases) == 0 {
			t.Fatalf("%s: no model or no cases", path)
		}
		tok := openTokenizer(t, "models", g.Model)
		for _, c := range g.Cases {
			prompt, err := os.ReadFile(testenv.Path(t, "prompts", c.PromptFile))
			if err != nil {
				t.Fatal(err)
			}
			got := tok.Encode(string(prompt), true, true)
			if !slices.Equal(got, c.Tokens) {
				t.Errorf("%s / %s:\n got %v\nwant %v", g.Model, c.PromptFile, got, c.Tokens)
			}
			checked++
		}
	}
	t.Logf("%d prompts checked against %d golden files", checked, len(goldens))
}

// TestTokenizerOutlivesFile checks that the tokenizer keeps no reference to
// the file's memory map.
func TestTokenizerOutlivesFile(t *testing.T) {
	f, err := gguf.Open(testenv.Path(t, "models", "tiny-f16.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 512 || tok.Piece(2) != "</s>" {
		t.Fatalf("after Close: %d tokens, piece 2 %q", tok.VocabSize(), tok.Piece(2))
	}
	text := "Hello, llama!"
	if got := tok.Decode(tok.Encode(text, false, true)); got != text {
		t.Errorf("after Close: round trip gave %q", got)
	}
}
