// Package engine is Llamadesk's Llama inference engine: it loads a Llama
// model from a GGUF file, runs the forward pass on a Backend, and keeps the
// key/value cache of a context so that prompts are evaluated as one batch and
// generation proceeds one token at a time.
package engine

import (
	"fmt"
	"math"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// Config holds the hyperparameters of a Llama model, all read from the file.
type Config struct {
	Dim        int     // llama.embedding_length
	Layers     int     // llama.block_count
	FFN        int     // llama.feed_forward_length
	Heads      int     // llama.attention.head_count
	KVHeads    int     // llama.attention.head_count_kv (grouped-query attention when < Heads)
	HeadDim    int     // Dim / Heads
	Vocab      int     // rows of token_embd.weight
	ContextLen int     // llama.context_length, the training context
	RopeDims   int     // llama.rope.dimension_count
	RopeBase   float32 // llama.rope.freq_base
	RopeScale  float32 // position multiplier: 1 / llama.rope.scaling.factor for linear scaling, else 1
	NormEps    float32 // llama.attention.layer_norm_rms_epsilon
}

// KVDim is the width of one position of the key (or value) cache.
func (c Config) KVDim() int { return c.KVHeads * c.HeadDim }

// maxDimension bounds every size read from a file, far above any Llama.
const maxDimension = 1 << 20

// ConfigFromGGUF reads and checks the hyperparameters of a Llama GGUF file. A
// file of another architecture is refused.
func ConfigFromGGUF(f *gguf.File) (Config, error) {
	arch := f.Architecture()
	if arch == "" {
		return Config{}, fmt.Errorf("no general.architecture in the file")
	}
	if arch != "llama" {
		return Config{}, fmt.Errorf("architecture %q is not supported (Llamadesk runs Llama models: general.architecture must be \"llama\")", arch)
	}
	var c Config
	var err error
	need := func(key string) int {
		if err != nil {
			return 0
		}
		v, ok := f.Uint(key)
		if !ok {
			err = fmt.Errorf("missing or non-integer metadata %q", key)
			return 0
		}
		if v == 0 || v > maxDimension {
			err = fmt.Errorf("metadata %q = %d is out of range", key, v)
			return 0
		}
		return int(v)
	}
	c.Dim = need("llama.embedding_length")
	c.Layers = need("llama.block_count")
	c.FFN = need("llama.feed_forward_length")
	c.Heads = need("llama.attention.head_count")
	c.ContextLen = need("llama.context_length")
	if err != nil {
		return Config{}, err
	}
	c.KVHeads = c.Heads
	if _, ok := f.Lookup("llama.attention.head_count_kv"); ok {
		c.KVHeads = need("llama.attention.head_count_kv")
		if err != nil {
			return Config{}, err
		}
	}
	if c.Dim%c.Heads != 0 {
		return Config{}, fmt.Errorf("embedding length %d is not a multiple of the head count %d", c.Dim, c.Heads)
	}
	if c.Heads%c.KVHeads != 0 {
		return Config{}, fmt.Errorf("head count %d is not a multiple of the KV head count %d", c.Heads, c.KVHeads)
	}
	c.HeadDim = c.Dim / c.Heads
	c.RopeDims = c.HeadDim
	if _, ok := f.Lookup("llama.rope.dimension_count"); ok {
		c.RopeDims = need("llama.rope.dimension_count")
		if err != nil {
			return Config{}, err
		}
	}
	if c.RopeDims > c.HeadDim || c.RopeDims%2 != 0 {
		return Config{}, fmt.Errorf("rope dimension count %d must be even and at most the head size %d", c.RopeDims, c.HeadDim)
	}
	eps, ok := f.Float("llama.attention.layer_norm_rms_epsilon")
	if !ok {
		return Config{}, fmt.Errorf("missing metadata %q", "llama.attention.layer_norm_rms_epsilon")
	}
	if !(eps > 0 && eps < 1) {
		return Config{}, fmt.Errorf("metadata %q = %g is out of range", "llama.attention.layer_norm_rms_epsilon", eps)
	}
	c.NormEps = float32(eps)
	c.RopeBase = 10000
	if b, ok := f.Float("llama.rope.freq_base"); ok {
		if !(b > 1 && b < 1e12) {
			return Config{}, fmt.Errorf("metadata %q = %g is out of range", "llama.rope.freq_base", b)
		}
		c.RopeBase = float32(b)
	}
	c.RopeScale = 1
	scaling, _ := f.String("llama.rope.scaling.type")
	factor, hasFactor := f.Float("llama.rope.scaling.factor")
	switch {
	case scaling == "linear" && hasFactor && factor > 0:
		c.RopeScale = float32(1 / factor)
	case scaling == "" || scaling == "none":
		if lin, ok := f.Float("llama.rope.scale_linear"); ok && lin > 0 {
			c.RopeScale = float32(1 / lin)
		}
	default:
		return Config{}, fmt.Errorf("rope scaling %q is not supported", scaling)
	}
	if math.IsNaN(float64(c.RopeScale)) || c.RopeScale <= 0 {
		return Config{}, fmt.Errorf("invalid rope scaling factor")
	}
	return c, nil
}
