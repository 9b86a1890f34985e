package tokenizer

import (
	"os"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// BenchmarkFromGGUF measures building the 32,000-token Llama 2 vocabulary
// from already parsed metadata.
func BenchmarkFromGGUF(b *testing.B) {
	f, err := gguf.Open(testenv.Path(b, "vocab", "llama2-spm.gguf"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromGGUF(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode measures encoding the long prompt with the full vocabulary.
func BenchmarkEncode(b *testing.B) {
	tok := openTokenizer(b, "vocab", "llama2-spm.gguf")
	text, err := os.ReadFile(testenv.Path(b, "prompts", "long.txt"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		tok.Encode(string(text), true, true)
	}
}

// BenchmarkDecoder measures streaming the long prompt's tokens back to text.
func BenchmarkDecoder(b *testing.B) {
	tok := openTokenizer(b, "vocab", "llama2-spm.gguf")
	text, err := os.ReadFile(testenv.Path(b, "prompts", "long.txt"))
	if err != nil {
		b.Fatal(err)
	}
	ids := tok.Encode(string(text), false, false)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		d := tok.NewDecoder()
		for _, id := range ids {
			d.Add(id)
		}
		d.Flush()
	}
}
