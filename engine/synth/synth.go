// Package synth writes random-weight Llama 2 GGUF files for benchmarks: the
// real shapes (7B, 13B, 70B), the real vocabulary size, and the mix of tensor
// types llama.cpp's quantizer picks for a file type. Weights are valid
// random quant blocks (quant.RandomBlocks), streamed to disk, so a 70B file
// needs no more memory than a small one. Speed does not depend on the
// values, and the files load in llama.cpp as well as in Llamadesk.
package synth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
)

// Shape is a Llama 2 model's architecture.
type Shape struct {
	Name       string
	Dim        int // embedding length
	Layers     int
	Heads      int
	KVHeads    int
	FFN        int // feed-forward length
	Vocab      int
	ContextLen int
}

// shapes are the published Llama 2 shapes.
var shapes = map[string]Shape{
	"7b":  {Name: "7B", Dim: 4096, Layers: 32, Heads: 32, KVHeads: 32, FFN: 11008, Vocab: 32000, ContextLen: 4096},
	"13b": {Name: "13B", Dim: 5120, Layers: 40, Heads: 40, KVHeads: 40, FFN: 13824, Vocab: 32000, ContextLen: 4096},
	"70b": {Name: "70B", Dim: 8192, Layers: 80, Heads: 64, KVHeads: 8, FFN: 28672, Vocab: 32000, ContextLen: 4096},
}

// ShapeNames lists the shape names ShapeByName accepts.
func ShapeNames() []string { return sortedKeys(shapes) }

// ShapeByName returns the shape "7b", "13b" or "70b" (any case).
func ShapeByName(name string) (Shape, error) {
	s, ok := shapes[strings.ToLower(name)]
	if !ok {
		return Shape{}, fmt.Errorf("unknown shape %q (want one of %s)", name, strings.Join(ShapeNames(), ", "))
	}
	return s, nil
}

// FileType is one of llama.cpp's file types (llama_ftype): the default
// tensor type and the rules that give some tensors more bits.
type FileType struct {
	Name    string
	ID      uint32 // general.file_type
	Default gguf.TensorType
}

// fileTypes are the file types the generator writes.
var fileTypes = map[string]FileType{
	"F16":    {"F16", 1, gguf.TypeF16},
	"Q4_0":   {"Q4_0", 2, gguf.TypeQ4_0},
	"Q8_0":   {"Q8_0", 7, gguf.TypeQ8_0},
	"Q2_K":   {"Q2_K", 10, gguf.TypeQ2_K},
	"Q3_K_M": {"Q3_K_M", 12, gguf.TypeQ3_K},
	"Q4_K_S": {"Q4_K_S", 14, gguf.TypeQ4_K},
	"Q4_K_M": {"Q4_K_M", 15, gguf.TypeQ4_K},
	"Q5_K_M": {"Q5_K_M", 17, gguf.TypeQ5_K},
	"Q6_K":   {"Q6_K", 18, gguf.TypeQ6_K},
}

// FileTypeNames lists the names ParseFileType accepts.
func FileTypeNames() []string { return sortedKeys(fileTypes) }

// ParseFileType returns the file type named like llama.cpp's quantize tool
// does ("Q4_K_M", case-insensitive).
func ParseFileType(name string) (FileType, error) {
	ft, ok := fileTypes[strings.ToUpper(name)]
	if !ok {
		return FileType{}, fmt.Errorf("unknown file type %q (want one of %s)", name, strings.Join(FileTypeNames(), ", "))
	}
	return ft, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Tensor roles, as llama.cpp's quantizer categorizes them.
type role int

const (
	roleNorm role = iota
	roleTokenEmbd
	roleOutput
	roleAttnQ
	roleAttnK
	roleAttnV
	roleAttnOutput
	roleFFNGate
	roleFFNUp
	roleFFNDown
)

// useMoreBits is llama.cpp's use_more_bits: the first and last eighth of
// the layers and every third layer between them.
func useMoreBits(layer, layers int) bool {
	return layer < layers/8 || layer >= 7*layers/8 || (layer-layers/8)%3 == 2
}

// tensorType returns the type llama.cpp's quantizer (llama_tensor_get_type,
// for a Llama model without an importance matrix) gives a tensor of role r
// in layer of layers; is70B is llama.cpp's LLM_TYPE_70B (80 layers with
// grouped-query attention), gqa the query heads per KV head.
func (ft FileType) tensorType(r role, layer, layers int, is70B bool, gqa int) gguf.TensorType {
	if r == roleNorm {
		return gguf.TypeF32
	}
	t := ft.Default
	if t == gguf.TypeF16 {
		return t // only quantized file types adjust tensor types
	}
	switch r {
	case roleOutput:
		if t != gguf.TypeQ8_0 {
			t = gguf.TypeQ6_K
		}
	case roleAttnV:
		switch ft.Name {
		case "Q2_K":
			if gqa >= 4 {
				t = gguf.TypeQ4_K
			} else {
				t = gguf.TypeQ3_K
			}
		case "Q3_K_M":
			if layer < 2 {
				t = gguf.TypeQ5_K
			} else {
				t = gguf.TypeQ4_K
			}
		case "Q4_K_M", "Q5_K_M":
			if useMoreBits(layer, layers) {
				t = gguf.TypeQ6_K
			}
		case "Q4_K_S":
			if layer < 4 {
				t = gguf.TypeQ5_K
			}
		}
		if is70B && (t == gguf.TypeQ3_K || t == gguf.TypeQ4_K) {
			t = gguf.TypeQ5_K
		}
	case roleFFNDown:
		switch ft.Name {
		case "Q2_K":
			t = gguf.TypeQ3_K
		case "Q3_K_M":
			if layer < layers/16 {
				t = gguf.TypeQ5_K
			} else {
				t = gguf.TypeQ4_K
			}
		case "Q4_K_M", "Q5_K_M":
			if useMoreBits(layer, layers) {
				t = gguf.TypeQ6_K
			}
		case "Q4_K_S":
			if layer < layers/8 {
				t = gguf.TypeQ5_K
			}
		}
	case roleAttnOutput:
		switch ft.Name {
		case "Q2_K":
			t = gguf.TypeQ3_K
		case "Q3_K_M":
			t = gguf.TypeQ4_K
		}
	}
	return t
}

// TensorSpec is one tensor of a generated file.
type TensorSpec struct {
	Name string
	Type gguf.TensorType
	Dims []uint64 // ggml order: row length first
}

// Bytes returns the size of the tensor's data.
func (t TensorSpec) Bytes() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= int64(d)
	}
	return n / int64(t.Type.BlockSize()) * int64(t.Type.BlockBytes())
}

// Options describe a file to generate.
type Options struct {
	Shape Shape
	// Layers overrides the shape's layer count when positive.
	Layers int
	Type   FileType
	// Vocab supplies the tokenizer; nil means SyntheticVocab(Shape.Vocab).
	Vocab *Vocab
	// Seed makes the weights reproducible.
	Seed uint64
}

func (o Options) layers() int {
	if o.Layers > 0 {
		return o.Layers
	}
	return o.Shape.Layers
}

// Tensors lists the tensors of the file, in file order.
func (o Options) Tensors() ([]TensorSpec, error) {
	s := o.Shape
	if s.Dim <= 0 || s.Heads <= 0 || s.KVHeads <= 0 || s.FFN <= 0 || s.Vocab <= 0 || s.Dim%s.Heads != 0 || s.Heads%s.KVHeads != 0 {
		return nil, fmt.Errorf("invalid shape %+v", s)
	}
	layers := o.layers()
	if layers > 1024 {
		return nil, fmt.Errorf("%d layers is too many", layers)
	}
	kv := s.Dim / s.Heads * s.KVHeads
	is70B := layers == 80 && s.Heads != s.KVHeads
	gqa := s.Heads / s.KVHeads
	var out []TensorSpec
	add := func(name string, r role, layer int, dims ...int) error {
		t := o.Type.tensorType(r, layer, layers, is70B, gqa)
		if dims[0]%t.BlockSize() != 0 {
			return fmt.Errorf("tensor %s: row length %d is not a multiple of the %s block size", name, dims[0], t)
		}
		d := make([]uint64, len(dims))
		for i, v := range dims {
			d[i] = uint64(v)
		}
		out = append(out, TensorSpec{Name: name, Type: t, Dims: d})
		return nil
	}
	var errs []error
	errs = append(errs, add("token_embd.weight", roleTokenEmbd, 0, s.Dim, s.Vocab))
	for l := 0; l < layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		errs = append(errs,
			add(p+"attn_norm.weight", roleNorm, l, s.Dim),
			add(p+"attn_q.weight", roleAttnQ, l, s.Dim, s.Dim),
			add(p+"attn_k.weight", roleAttnK, l, s.Dim, kv),
			add(p+"attn_v.weight", roleAttnV, l, s.Dim, kv),
			add(p+"attn_output.weight", roleAttnOutput, l, s.Dim, s.Dim),
			add(p+"ffn_norm.weight", roleNorm, l, s.Dim),
			add(p+"ffn_gate.weight", roleFFNGate, l, s.Dim, s.FFN),
			add(p+"ffn_up.weight", roleFFNUp, l, s.Dim, s.FFN),
			add(p+"ffn_down.weight", roleFFNDown, l, s.FFN, s.Dim),
		)
	}
	errs = append(errs,
		add("output_norm.weight", roleNorm, 0, s.Dim),
		add("output.weight", roleOutput, 0, s.Dim, s.Vocab),
	)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// DataBytes returns the bytes of tensor data the file holds (without the
// header and alignment padding).
func (o Options) DataBytes() (int64, error) {
	tensors, err := o.Tensors()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, t := range tensors {
		n += t.Bytes()
	}
	return n, nil
}

// Write streams the file to out and returns the number of bytes written.
func Write(out io.Writer, o Options) (int64, error) {
	w, err := o.writer()
	if err != nil {
		return 0, err
	}
	return w.WriteTo(out)
}

// writer builds the GGUF writer; each tensor's data is generated from its
// own seed as it is written.
func (o Options) writer() (*gguf.Writer, error) {
	tensors, err := o.Tensors()
	if err != nil {
		return nil, err
	}
	voc := o.Vocab
	if voc == nil {
		v := SyntheticVocab(o.Shape.Vocab)
		voc = &v
	}
	if len(voc.Tokens) != o.Shape.Vocab {
		return nil, fmt.Errorf("the vocabulary has %d tokens, the shape %d", len(voc.Tokens), o.Shape.Vocab)
	}
	s := o.Shape
	w := gguf.NewWriter()
	set := func(k string, v any) {
		if err == nil {
			err = w.Set(k, v)
		}
	}
	set("general.architecture", "llama")
	set("general.name", fmt.Sprintf("llamadesk synth %s %s", s.Name, o.Type.Name))
	set("general.file_type", o.Type.ID)
	if o.Type.Default != gguf.TypeF16 {
		set("general.quantization_version", uint32(2))
	}
	set("llama.context_length", uint32(s.ContextLen))
	set("llama.embedding_length", uint32(s.Dim))
	set("llama.block_count", uint32(o.layers()))
	set("llama.feed_forward_length", uint32(s.FFN))
	set("llama.rope.dimension_count", uint32(s.Dim/s.Heads))
	set("llama.attention.head_count", uint32(s.Heads))
	set("llama.attention.head_count_kv", uint32(s.KVHeads))
	set("llama.attention.layer_norm_rms_epsilon", float32(1e-5))
	set("llama.rope.freq_base", float32(10000))
	set("llama.vocab_size", uint32(s.Vocab))
	for _, kv := range voc.metadata() {
		set(kv.Key, kv.Value)
	}
	if err != nil {
		return nil, err
	}
	for i, t := range tensors {
		seed := o.Seed*1_000_003 + uint64(i)
		t := t
		if err := w.AddTensor(t.Name, t.Type, t.Dims, func(out io.Writer) error {
			return writeRandom(out, t, seed)
		}); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// chunkBytes is about how much tensor data is generated per write.
const chunkBytes = 4 << 20

// writeRandom writes the tensor's data as random blocks; norm weights are
// drawn near 1 so that activations keep a sane scale.
func writeRandom(out io.Writer, t TensorSpec, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	total := t.Bytes()
	bb := int64(t.Type.BlockBytes())
	chunk := max(chunkBytes/bb, 1) * bb
	buf := make([]byte, min(chunk, total))
	for done := int64(0); done < total; {
		n := min(int64(len(buf)), total-done)
		b := buf[:n]
		quant.RandomBlocks(t.Type, b, rng)
		if len(t.Dims) == 1 && t.Type == gguf.TypeF32 {
			nearOne(b, rng)
		}
		if _, err := out.Write(b); err != nil {
			return err
		}
		done += n
	}
	return nil
}

// nearOne overwrites float32 values with ones drawn from [0.5, 1.5).
func nearOne(b []byte, rng *rand.Rand) {
	for i := 0; i+4 <= len(b); i += 4 {
		binary.LittleEndian.PutUint32(b[i:], math.Float32bits(0.5+rng.Float32()))
	}
}
