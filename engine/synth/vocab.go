package synth

import (
	"fmt"
	"strings"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// Vocab is a SentencePiece vocabulary as GGUF stores it (tokenizer.ggml.*).
type Vocab struct {
	Tokens []string
	Scores []float32
	Types  []int32
	// extra holds the other tokenizer.* metadata of a vocabulary read from
	// a file (ids of special tokens, flags), copied as they are.
	extra []gguf.KV
}

// GGUF token types.
const (
	tokenNormal  = 1
	tokenUnknown = 2
	tokenControl = 3
	tokenByte    = 6
)

// VocabFromGGUF takes the tokenizer of a Llama GGUF file (for example the
// vocabulary-only llama2-spm.gguf): every tokenizer.* entry is copied.
func VocabFromGGUF(f *gguf.File) (Vocab, error) {
	var v Vocab
	if m, _ := f.String("tokenizer.ggml.model"); m != "llama" {
		return v, fmt.Errorf("tokenizer.ggml.model is %q, want \"llama\"", m)
	}
	for _, kv := range f.KV {
		if !strings.HasPrefix(kv.Key, "tokenizer.") {
			continue
		}
		switch kv.Key {
		case "tokenizer.ggml.tokens":
			a, ok := kv.Value.(gguf.Array)
			s, ok2 := a.Values.([]string)
			if !ok || !ok2 {
				return v, fmt.Errorf("%s is not an array of strings", kv.Key)
			}
			v.Tokens = s
		case "tokenizer.ggml.scores":
			a, ok := kv.Value.(gguf.Array)
			s, ok2 := a.Values.([]float32)
			if !ok || !ok2 {
				return v, fmt.Errorf("%s is not an array of float32", kv.Key)
			}
			v.Scores = s
		case "tokenizer.ggml.token_type":
			a, ok := kv.Value.(gguf.Array)
			s, ok2 := a.Values.([]int32)
			if !ok || !ok2 {
				return v, fmt.Errorf("%s is not an array of int32", kv.Key)
			}
			v.Types = s
		default:
			v.extra = append(v.extra, kv)
		}
	}
	if len(v.Tokens) == 0 || len(v.Scores) != len(v.Tokens) || len(v.Types) != len(v.Tokens) {
		return v, fmt.Errorf("vocabulary has %d tokens, %d scores and %d types", len(v.Tokens), len(v.Scores), len(v.Types))
	}
	return v, nil
}

// SyntheticVocab returns a vocabulary of size tokens laid out like Llama 2's:
// <unk>, <s>, </s>, the 256 byte tokens <0x00>…<0xFF> (so any text
// tokenizes through byte fallback), then made-up pieces ("▁a", "ab", …)
// with decreasing scores. size must be at least 259.
func SyntheticVocab(size int) Vocab {
	v := Vocab{
		Tokens: make([]string, 0, size),
		Scores: make([]float32, 0, size),
		Types:  make([]int32, 0, size),
	}
	add := func(tok string, score float32, typ int32) {
		v.Tokens = append(v.Tokens, tok)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, typ)
	}
	add("<unk>", 0, tokenUnknown)
	add("<s>", 0, tokenControl)
	add("</s>", 0, tokenControl)
	for b := 0; b < 256 && len(v.Tokens) < size; b++ {
		add(fmt.Sprintf("<0x%02X>", b), 0, tokenByte)
	}
	const letters = "etaoinshrdlucmfwypvbgkjqxzETAOINSHRDLUCMFWYPVBGKJQXZ0123456789"
	seen := map[string]bool{}
	piece := func(s string) {
		if len(v.Tokens) < size && !seen[s] {
			seen[s] = true
			add(s, -float32(len(v.Tokens)), tokenNormal)
		}
	}
	for _, c := range letters {
		piece("▁" + string(c))
		piece(string(c))
	}
	for length := 2; len(v.Tokens) < size; length++ {
		var grow func(prefix string)
		grow = func(prefix string) {
			if len(v.Tokens) >= size {
				return
			}
			if len([]rune(prefix)) == length {
				piece("▁" + prefix)
				piece(prefix)
				return
			}
			for _, c := range letters[:26] {
				grow(prefix + string(c))
			}
		}
		grow("")
	}
	v.extra = []gguf.KV{
		{Key: "tokenizer.ggml.bos_token_id", Type: gguf.ValueUint32, Value: uint32(1)},
		{Key: "tokenizer.ggml.eos_token_id", Type: gguf.ValueUint32, Value: uint32(2)},
		{Key: "tokenizer.ggml.unknown_token_id", Type: gguf.ValueUint32, Value: uint32(0)},
		{Key: "tokenizer.ggml.add_bos_token", Type: gguf.ValueBool, Value: true},
		{Key: "tokenizer.ggml.add_eos_token", Type: gguf.ValueBool, Value: false},
	}
	return v
}

// metadata returns the tokenizer.* entries to write, model first.
func (v *Vocab) metadata() []gguf.KV {
	out := []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: "llama"},
		{Key: "tokenizer.ggml.tokens", Value: v.Tokens},
		{Key: "tokenizer.ggml.scores", Value: v.Scores},
		{Key: "tokenizer.ggml.token_type", Value: v.Types},
	}
	for _, kv := range v.extra {
		if kv.Key != "tokenizer.ggml.model" {
			out = append(out, kv)
		}
	}
	return out
}
