package synth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/tokenizer"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// typesOf returns name → type for the tensors of a generated file.
func typesOf(t *testing.T, o Options) map[string]gguf.TensorType {
	t.Helper()
	tensors, err := o.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]gguf.TensorType{}
	for _, ts := range tensors {
		m[ts.Name] = ts.Type
	}
	return m
}

func mustType(t *testing.T, name string) FileType {
	t.Helper()
	ft, err := ParseFileType(name)
	if err != nil {
		t.Fatal(err)
	}
	return ft
}

// TestTensorTypeMix checks the type llama.cpp's quantizer (llama-quant.cpp,
// llama_tensor_get_type) gives each tensor of a Llama 2 model.
func TestTensorTypeMix(t *testing.T) {
	s7, s70 := shapes["7b"], shapes["70b"]
	// use_more_bits for 32 layers: layers 0-3, 28-31 and 6, 9, ..., 27.
	moreBits32 := map[int]bool{}
	for l := 0; l < 32; l++ {
		moreBits32[l] = l < 4 || l >= 28 || (l-4)%3 == 2
	}
	tests := []struct {
		name   string
		shape  Shape
		ftype  string
		tensor string
		want   gguf.TensorType
	}{
		{"Q4_0 bulk", s7, "Q4_0", "blk.5.attn_q.weight", gguf.TypeQ4_0},
		{"Q4_0 output", s7, "Q4_0", "output.weight", gguf.TypeQ6_K},
		{"Q4_0 embeddings", s7, "Q4_0", "token_embd.weight", gguf.TypeQ4_0},
		{"Q4_0 ffn_down without imatrix", s7, "Q4_0", "blk.0.ffn_down.weight", gguf.TypeQ4_0},
		{"norms stay F32", s7, "Q4_K_M", "blk.3.attn_norm.weight", gguf.TypeF32},
		{"output norm F32", s7, "Q8_0", "output_norm.weight", gguf.TypeF32},
		{"Q8_0 output", s7, "Q8_0", "output.weight", gguf.TypeQ8_0},
		{"F16 output", s7, "F16", "output.weight", gguf.TypeF16},
		{"F16 bulk", s7, "F16", "blk.0.ffn_up.weight", gguf.TypeF16},
		{"Q4_K_M embeddings", s7, "Q4_K_M", "token_embd.weight", gguf.TypeQ4_K},
		{"Q4_K_M output", s7, "Q4_K_M", "output.weight", gguf.TypeQ6_K},
		{"Q4_K_M attn_v layer 0", s7, "Q4_K_M", "blk.0.attn_v.weight", gguf.TypeQ6_K},
		{"Q4_K_M attn_v layer 4", s7, "Q4_K_M", "blk.4.attn_v.weight", gguf.TypeQ4_K},
		{"Q4_K_M attn_v layer 6", s7, "Q4_K_M", "blk.6.attn_v.weight", gguf.TypeQ6_K},
		{"Q4_K_M ffn_down layer 31", s7, "Q4_K_M", "blk.31.ffn_down.weight", gguf.TypeQ6_K},
		{"Q4_K_M ffn_down layer 5", s7, "Q4_K_M", "blk.5.ffn_down.weight", gguf.TypeQ4_K},
		{"Q4_K_M attn_k", s7, "Q4_K_M", "blk.0.attn_k.weight", gguf.TypeQ4_K},
		{"Q4_K_M 70B attn_v bumped", s70, "Q4_K_M", "blk.20.attn_v.weight", gguf.TypeQ5_K},
		{"Q4_K_M 70B attn_v more bits", s70, "Q4_K_M", "blk.0.attn_v.weight", gguf.TypeQ6_K},
		{"Q2_K attn_v 7B", s7, "Q2_K", "blk.7.attn_v.weight", gguf.TypeQ3_K},
		{"Q2_K attn_v 70B (GQA)", s70, "Q2_K", "blk.7.attn_v.weight", gguf.TypeQ5_K},
		{"Q2_K ffn_down", s7, "Q2_K", "blk.7.ffn_down.weight", gguf.TypeQ3_K},
		{"Q2_K attn_output", s7, "Q2_K", "blk.7.attn_output.weight", gguf.TypeQ3_K},
		{"Q2_K bulk", s7, "Q2_K", "blk.7.ffn_gate.weight", gguf.TypeQ2_K},
		{"Q3_K_M attn_v layer 1", s7, "Q3_K_M", "blk.1.attn_v.weight", gguf.TypeQ5_K},
		{"Q3_K_M attn_v layer 2", s7, "Q3_K_M", "blk.2.attn_v.weight", gguf.TypeQ4_K},
		{"Q3_K_M ffn_down layer 1", s7, "Q3_K_M", "blk.1.ffn_down.weight", gguf.TypeQ5_K},
		{"Q3_K_M ffn_down layer 2", s7, "Q3_K_M", "blk.2.ffn_down.weight", gguf.TypeQ4_K},
		{"Q3_K_M attn_output", s7, "Q3_K_M", "blk.9.attn_output.weight", gguf.TypeQ4_K},
		{"Q3_K_M bulk", s7, "Q3_K_M", "blk.9.attn_q.weight", gguf.TypeQ3_K},
		{"Q4_K_S attn_v layer 3", s7, "Q4_K_S", "blk.3.attn_v.weight", gguf.TypeQ5_K},
		{"Q4_K_S attn_v layer 4", s7, "Q4_K_S", "blk.4.attn_v.weight", gguf.TypeQ4_K},
		{"Q4_K_S ffn_down layer 3", s7, "Q4_K_S", "blk.3.ffn_down.weight", gguf.TypeQ5_K},
		{"Q4_K_S ffn_down layer 4", s7, "Q4_K_S", "blk.4.ffn_down.weight", gguf.TypeQ4_K},
		{"Q5_K_M attn_v layer 31", s7, "Q5_K_M", "blk.31.attn_v.weight", gguf.TypeQ6_K},
		{"Q5_K_M bulk", s7, "Q5_K_M", "blk.10.ffn_up.weight", gguf.TypeQ5_K},
		{"Q6_K output", s7, "Q6_K", "output.weight", gguf.TypeQ6_K},
		{"Q6_K bulk", s7, "Q6_K", "blk.10.attn_q.weight", gguf.TypeQ6_K},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := typesOf(t, Options{Shape: tt.shape, Type: mustType(t, tt.ftype)})[tt.tensor]
			if got != tt.want {
				t.Errorf("%s %s %s: %s, want %s", tt.shape.Name, tt.ftype, tt.tensor, got, tt.want)
			}
		})
	}
	// The whole use_more_bits pattern of a 7B Q4_K_M file.
	m := typesOf(t, Options{Shape: s7, Type: mustType(t, "Q4_K_M")})
	for l := 0; l < 32; l++ {
		want := gguf.TypeQ4_K
		if moreBits32[l] {
			want = gguf.TypeQ6_K
		}
		for _, name := range []string{"attn_v", "ffn_down"} {
			if got := m[fmt.Sprintf("blk.%d.%s.weight", l, name)]; got != want {
				t.Errorf("Q4_K_M layer %d %s: %s, want %s", l, name, got, want)
			}
		}
	}
}

// TestLayersOverride: fewer layers change the per-layer rules (they depend
// on the layer count) and stop a 70B shape from counting as llama.cpp's 70B.
func TestLayersOverride(t *testing.T) {
	m := typesOf(t, Options{Shape: shapes["70b"], Layers: 2, Type: mustType(t, "Q4_K_M")})
	if len(m) != 3+2*9 {
		t.Fatalf("%d tensors, want %d", len(m), 3+2*9)
	}
	// With 2 layers, use_more_bits holds for layer 1 (>= 7·2/8) only.
	if got := m["blk.0.attn_v.weight"]; got != gguf.TypeQ4_K {
		t.Errorf("layer 0 attn_v of a 2-layer 70B shape: %s, want Q4_K (no 70B bump)", got)
	}
	if got := m["blk.1.attn_v.weight"]; got != gguf.TypeQ6_K {
		t.Errorf("layer 1 attn_v of a 2-layer 70B shape: %s, want Q6_K", got)
	}
}

func TestParseNames(t *testing.T) {
	for _, name := range []string{"q4_k_m", "Q4_0", "f16"} {
		if _, err := ParseFileType(name); err != nil {
			t.Errorf("ParseFileType(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", "Q4_K", "IQ2_XXS", "q9"} {
		if _, err := ParseFileType(name); err == nil {
			t.Errorf("ParseFileType(%q) accepted", name)
		}
	}
	if _, err := ShapeByName("7B"); err != nil {
		t.Error(err)
	}
	if _, err := ShapeByName("8b"); err == nil || !strings.Contains(err.Error(), "7b") {
		t.Errorf("ShapeByName(8b): %v", err)
	}
}

// tinyShape is a small model with the Llama layout, quick to write and run.
var tinyShape = Shape{Name: "tiny", Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, FFN: 512, Vocab: 512, ContextLen: 256}

// TestWrittenFileLoadsAndRuns writes small models of every file type, then
// reads them back: metadata, tensor types and shapes, data sizes, and a
// forward pass on the CPU backend that gives finite logits.
func TestWrittenFileLoadsAndRuns(t *testing.T) {
	for _, name := range FileTypeNames() {
		t.Run(name, func(t *testing.T) {
			ft := mustType(t, name)
			o := Options{Shape: tinyShape, Type: ft, Seed: 7}
			path := filepath.Join(t.TempDir(), "m.gguf")
			out, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			n, err := Write(out, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
			data, err := o.DataBytes()
			if err != nil {
				t.Fatal(err)
			}
			if n < data || n > data+1<<20 {
				t.Errorf("wrote %d bytes for %d bytes of tensor data", n, data)
			}
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if v, _ := f.Uint("general.file_type"); v != uint64(ft.ID) {
				t.Errorf("general.file_type = %d, want %d", v, ft.ID)
			}
			specs, _ := o.Tensors()
			if len(f.Tensors) != len(specs) {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), len(specs))
			}
			for _, s := range specs {
				ti, ok := f.Tensor(s.Name)
				if !ok || ti.Type != s.Type || fmt.Sprint(ti.Dims) != fmt.Sprint(s.Dims) || int64(len(f.TensorData(ti))) != s.Bytes() {
					t.Fatalf("tensor %s: %+v, want %+v", s.Name, ti, s)
				}
			}
			tok, err := tokenizer.FromGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Encode("hello", true, false); len(got) < 2 {
				t.Errorf("tokenizing with the synthetic vocabulary gave %v", got)
			}
			b := cpu.New(2)
			defer b.Close()
			m, err := engine.Load(f, engine.Placement{CPU: b})
			if err != nil {
				t.Fatal(err)
			}
			st, err := m.NewState(16)
			if err != nil {
				t.Fatal(err)
			}
			logits, err := st.Eval(context.Background(), []int32{1, 300, 301, 302}, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range logits {
				if v != v || v > 1e30 || v < -1e30 {
					t.Fatalf("logit %g is not a sane finite value", v)
				}
			}
		})
	}
}

// TestWriteIsDeterministic: the same options give the same bytes, another
// seed other weights.
func TestWriteIsDeterministic(t *testing.T) {
	o := Options{Shape: tinyShape, Type: mustType(t, "Q4_K_M"), Seed: 3}
	var a, b, c bytes.Buffer
	if _, err := Write(&a, o); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(&b, o); err != nil {
		t.Fatal(err)
	}
	o.Seed = 4
	if _, err := Write(&c, o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same seed, different files")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("different seeds, same files")
	}
}

// TestVocabFromFile copies the real Llama 2 vocabulary.
func TestVocabFromFile(t *testing.T) {
	f, err := gguf.Open(testenv.Path(t, "vocab", "llama2-spm.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := VocabFromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Tokens) != 32000 || v.Tokens[1] != "<s>" {
		t.Fatalf("%d tokens, token 1 %q", len(v.Tokens), v.Tokens[1])
	}
	o := Options{Shape: tinyShape, Type: mustType(t, "Q8_0"), Vocab: &v}
	if _, err := Write(io.Discard, o); err == nil {
		t.Error("a 32000-token vocabulary was accepted for a 512-token shape")
	}
	o.Shape.Vocab = 32000
	path := filepath.Join(t.TempDir(), "v.gguf")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(out, o); err != nil {
		t.Fatal(err)
	}
	out.Close()
	g, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	want, _ := tokenizer.FromGGUF(f)
	got, err := tokenizer.FromGGUF(g)
	if err != nil {
		t.Fatal(err)
	}
	text := "The quick brown fox jumps over the lazy dog."
	if a, b := fmt.Sprint(got.Encode(text, true, false)), fmt.Sprint(want.Encode(text, true, false)); a != b {
		t.Errorf("tokens %s, want %s", a, b)
	}
}

func TestSyntheticVocab(t *testing.T) {
	v := SyntheticVocab(32000)
	if len(v.Tokens) != 32000 || len(v.Scores) != 32000 || len(v.Types) != 32000 {
		t.Fatalf("sizes %d %d %d", len(v.Tokens), len(v.Scores), len(v.Types))
	}
	seen := map[string]bool{}
	for i, tok := range v.Tokens {
		if seen[tok] {
			t.Fatalf("token %d %q repeats", i, tok)
		}
		seen[tok] = true
	}
	if v.Tokens[3] != "<0x00>" || v.Tokens[258] != "<0xFF>" || v.Types[3] != tokenByte {
		t.Errorf("byte tokens misplaced: %q %q", v.Tokens[3], v.Tokens[258])
	}
}
