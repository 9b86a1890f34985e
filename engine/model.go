package engine

import (
	"errors"
	"fmt"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
)

// layer holds the weights of one transformer block on its backend.
type layer struct {
	backend                 Backend
	attnNorm, ffnNorm       Weight
	wq, wk, wv, wo          Weight
	ffnGate, ffnUp, ffnDown Weight
}

// Model is a loaded Llama model: its configuration and its weights prepared
// on one or more backends (the first layers may run on a GPU, the rest on
// the CPU). A Model is immutable and may serve several States, used one at a
// time.
type Model struct {
	Config Config

	file     *gguf.File
	embed    *gguf.TensorInfo // token_embd.weight, read on the CPU for each token
	layers   []layer
	outNorm  Weight
	output   Weight
	head     Backend // backend of the output norm and head (the last layer's)
	backends []Backend
}

// Placement assigns layers to backends: the first GPULayers layers (and,
// when all layers are there, the output head) go to GPU; the rest to CPU.
// A nil GPU puts everything on CPU.
type Placement struct {
	CPU       Backend
	GPU       Backend
	GPULayers int
}

// Load prepares the model of a Llama GGUF file on the placement's backends.
// The file must stay open while the model is used.
func Load(f *gguf.File, p Placement) (*Model, error) {
	if p.CPU == nil {
		return nil, errors.New("load model: no CPU backend")
	}
	cfg, err := ConfigFromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m := &Model{Config: cfg, file: f}
	embed, ok := f.Tensor("token_embd.weight")
	if !ok {
		return nil, fmt.Errorf("load model: missing tensor %q", "token_embd.weight")
	}
	if len(embed.Dims) != 2 || embed.Dims[0] != uint64(cfg.Dim) || embed.Dims[1] > maxDimension {
		return nil, fmt.Errorf("load model: tensor %q has shape %v, want [%d vocab]", embed.Name, embed.Dims, cfg.Dim)
	}
	m.embed = embed
	m.Config.Vocab = int(embed.Dims[1])

	gpuLayers := 0
	if p.GPU != nil {
		gpuLayers = min(max(p.GPULayers, 0), cfg.Layers)
		m.backends = append(m.backends, p.GPU)
	}
	if gpuLayers < cfg.Layers || p.GPU == nil {
		m.backends = append(m.backends, p.CPU)
	}
	load := func(b Backend, name string, rows, cols int) (Weight, error) {
		t, ok := f.Tensor(name)
		if !ok {
			return nil, fmt.Errorf("missing tensor %q", name)
		}
		want := []uint64{uint64(cols)}
		if rows > 1 || len(t.Dims) == 2 {
			want = append(want, uint64(rows))
		}
		if !equalDims(t.Dims, want) {
			return nil, fmt.Errorf("tensor %q has shape %v, want %v", name, t.Dims, want)
		}
		if !supportedWeightType(t.Type) {
			return nil, fmt.Errorf("tensor %q has type %s, which is not supported", name, t.Type)
		}
		w, err := b.LoadWeight(name, t.Type, rows, cols, f.TensorData(t))
		if err != nil {
			return nil, fmt.Errorf("tensor %q on %s: %w", name, b.Name(), err)
		}
		return w, nil
	}

	kv := cfg.KVDim()
	m.layers = make([]layer, cfg.Layers)
	for i := range m.layers {
		b := p.CPU
		if i < gpuLayers {
			b = p.GPU
		}
		l := &m.layers[i]
		l.backend = b
		pre := fmt.Sprintf("blk.%d.", i)
		specs := []struct {
			dst        *Weight
			name       string
			rows, cols int
		}{
			{&l.attnNorm, "attn_norm.weight", 1, cfg.Dim},
			{&l.wq, "attn_q.weight", cfg.Dim, cfg.Dim},
			{&l.wk, "attn_k.weight", kv, cfg.Dim},
			{&l.wv, "attn_v.weight", kv, cfg.Dim},
			{&l.wo, "attn_output.weight", cfg.Dim, cfg.Dim},
			{&l.ffnNorm, "ffn_norm.weight", 1, cfg.Dim},
			{&l.ffnGate, "ffn_gate.weight", cfg.FFN, cfg.Dim},
			{&l.ffnUp, "ffn_up.weight", cfg.FFN, cfg.Dim},
			{&l.ffnDown, "ffn_down.weight", cfg.Dim, cfg.FFN},
		}
		for _, s := range specs {
			w, err := load(b, pre+s.name, s.rows, s.cols)
			if err != nil {
				return nil, fmt.Errorf("load model: %w", err)
			}
			*s.dst = w
		}
	}
	m.head = p.CPU
	if p.GPU != nil && gpuLayers == cfg.Layers {
		m.head = p.GPU
	}
	if m.outNorm, err = load(m.head, "output_norm.weight", 1, cfg.Dim); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	outName := "output.weight"
	if _, ok := f.Tensor(outName); !ok {
		outName = "token_embd.weight" // tied embeddings
	}
	if m.output, err = load(m.head, outName, m.Config.Vocab, cfg.Dim); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	return m, nil
}

func equalDims(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// supportedWeightType reports whether the engine computes with weights of type t.
func supportedWeightType(t gguf.TensorType) bool {
	switch t {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1,
		gguf.TypeQ8_0, gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K:
		return true
	}
	return false
}

// File returns the GGUF file the model was loaded from.
func (m *Model) File() *gguf.File { return m.file }

// Backends lists the backends the model runs on, GPU first.
func (m *Model) Backends() []Backend { return m.backends }

// embedTokens writes the embedding rows of tokens into dst (rows of Dim floats).
func (m *Model) embedTokens(dst []float32, tokens []int32) error {
	dim := m.Config.Dim
	rowBytes := m.embed.Type.RowBytes(dim)
	data := m.file.TensorData(m.embed)
	for i, t := range tokens {
		if t < 0 || int(t) >= m.Config.Vocab {
			return fmt.Errorf("token id %d is outside the vocabulary (0..%d)", t, m.Config.Vocab-1)
		}
		row := data[int(t)*rowBytes : (int(t)+1)*rowBytes]
		if err := quant.Dequantize(m.embed.Type, row, dst[i*dim:(i+1)*dim]); err != nil {
			return fmt.Errorf("embedding of token %d: %w", t, err)
		}
	}
	return nil
}
