package app

import (
	"fmt"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/tokenizer"
)

// ModelInfo describes a model file for `llamadesk info` and the window.
type ModelInfo struct {
	Path          string           `json:"path"`
	FileBytes     int64            `json:"file_bytes"`
	Name          string           `json:"name"`
	Architecture  string           `json:"architecture"`
	Parameters    int64            `json:"parameters"`
	Quantization  string           `json:"quantization"`
	TensorTypes   []gguf.TypeUsage `json:"tensor_types"`
	ContextLength int              `json:"context_length"`
	Layers        int              `json:"layers"`
	Embedding     int              `json:"embedding"`
	Heads         int              `json:"heads"`
	KVHeads       int              `json:"kv_heads"`
	FeedForward   int              `json:"feed_forward"`
	Vocabulary    int              `json:"vocabulary"`
	ChatFormat    string           `json:"chat_format"`
	ChatTemplate  string           `json:"chat_template,omitempty"`
	// Memory is what the model needs with a context of MemoryContext
	// positions and a KV cache of type MemoryKVType (the engine's memory
	// model: weights, KV cache, buffers, logits).
	Memory        engine.Needs `json:"memory"`
	MemoryTotal   int64        `json:"memory_total"`
	MemoryContext int          `json:"memory_context"`
	MemoryKVType  string       `json:"memory_kv_type"`
}

// DescribeModel reads a GGUF file's metadata without loading its weights;
// its memory needs are given at the training context with an f16 KV cache.
func DescribeModel(path string) (*ModelInfo, error) {
	return DescribeModelAt(path, engine.StateOptions{})
}

// DescribeModelAt is DescribeModel with the memory needs of the context o
// describes (o.Context 0: the training context).
func DescribeModelAt(path string, o engine.StateOptions) (*ModelInfo, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, err := engine.ConfigFromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", path, err)
	}
	s := gguf.Summarize(f)
	info := &ModelInfo{
		Path: path, FileBytes: f.Size(), Name: s.Name, Architecture: s.Architecture,
		Parameters: s.Parameters, Quantization: s.Quantization, TensorTypes: s.TensorTypes,
		ContextLength: cfg.ContextLen, Layers: cfg.Layers, Embedding: cfg.Dim, Heads: cfg.Heads,
		KVHeads: cfg.KVHeads, FeedForward: cfg.FFN,
	}
	if emb, ok := f.Tensor("token_embd.weight"); ok && len(emb.Dims) == 2 {
		info.Vocabulary = int(emb.Dims[1])
	}
	if o.Context <= 0 {
		o.Context = cfg.ContextLen
	}
	if info.Memory, err = engine.NeedsOf(f, o); err != nil {
		return nil, fmt.Errorf("describe %s: %w", path, err)
	}
	info.MemoryTotal, info.MemoryContext, info.MemoryKVType = info.Memory.Total(), o.Context, o.KVType.String()
	info.ChatTemplate, _ = f.String("tokenizer.chat_template")
	info.ChatFormat = chat.DetectNamed(f, path).Describe()
	return info, nil
}

// OpenTokenizer opens a GGUF file and builds its tokenizer without loading
// the weights. Call the returned function to close the file.
func OpenTokenizer(path string) (*tokenizer.Tokenizer, func() error, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("tokenizer of %s: %w", path, err)
	}
	return tok, f.Close, nil
}
