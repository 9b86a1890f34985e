package engine

import (
	"fmt"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
)

// Needs is the memory a model takes with one context, by part, in bytes.
// It is the one memory model of Llamadesk: the fit verdicts, the GPU layer
// placement, `info` and the checks that refuse a context too large for
// the machine all use it.
type Needs struct {
	// Weights is the model's tensor data (read in place from the mapped
	// file on the CPU; uploaded to a GPU).
	Weights int64 `json:"weights"`
	// KV is the key/value cache: keys and values of every layer at every
	// position, stored as the context's KV type.
	KV int64 `json:"kv"`
	// Buffers are the activations of one batch (up to DefaultBatch
	// positions), with the quantized copies the matrix products make of
	// their inputs.
	Buffers int64 `json:"buffers"`
	// Logits are the output rows kept (on the head backend and on the
	// host): a batch of them when every position's logits are asked for
	// (StateOptions.AllLogits), else one.
	Logits int64 `json:"logits"`
}

// Total returns the sum of the parts.
func (n Needs) Total() int64 { return n.Weights + n.KV + n.Buffers + n.Logits }

// KVBytesPerPosition returns the bytes one position of a KV cache of kvDim
// values per layer takes in every layer (keys and values) as typ.
func KVBytesPerPosition(layers, kvDim int, typ KVType) int64 {
	per := int64(layers) * int64(kvDim) * 2
	switch typ {
	case KVF32:
		return 4 * per
	case KVQ8_0:
		return per / 32 * 34
	}
	return 2 * per
}

// kvSlots is the positions a cache of ctx positions allocates (the CPU
// backend rounds up to blocks of 16).
func kvSlots(ctx int) int64 { return int64(ctx+15) &^ 15 }

// Needs returns what the model of config c, whose tensors take weights
// bytes, needs with the context o describes (o.Context 0: the training
// context). Not knowing the weights' types, it counts the quantized copies
// of activations in the largest layout (see NeedsOf). Backends' per-thread
// working memory (well under 1 MiB a thread) is not counted.
func (c Config) Needs(weights int64, o StateOptions) Needs {
	return c.needs(weights, o, ActivationRowBytes(gguf.TypeQ4_0, c.Dim)+ActivationRowBytes(gguf.TypeQ4_0, c.FFN))
}

// needs is Needs with the bytes of one position's quantized activations:
// a row of Dim inputs plus a row of FFN inputs.
func (c Config) needs(weights int64, o StateOptions, actRows int64) Needs {
	ctx := o.Context
	if ctx <= 0 {
		ctx = c.ContextLen
	}
	batch := int64(min(DefaultBatch, ctx))
	n := Needs{Weights: weights}
	n.KV = kvSlots(ctx) * KVBytesPerPosition(c.Layers, c.KVDim(), o.KVType)
	// x, xn, q, att, proj; k, v; gate, up (float32).
	n.Buffers = batch * int64(5*c.Dim+2*c.KVDim()+2*c.FFN) * 4
	// Quantized copies of the products' inputs, kept in two slots taken in
	// turn: one ends up holding the normalized inputs (Dim wide), the other
	// the feed-forward's inner activations (FFN wide).
	n.Buffers += batch * actRows
	// The embeddings of a batch on the host.
	n.Buffers += batch * int64(c.Dim) * 4
	rows := int64(1)
	if o.AllLogits {
		rows = batch
	}
	n.Logits = rows * int64(c.Vocab) * 4 * 2 // the head's buffer and its host copy
	return n
}

// ActivationRowBytes returns the size of one row of k activations as the
// CPU backend quantizes it for products with weights of type t: Q8_0 and
// Q8_1 blocks with precomputed sums and a regrouped copy (27/8 bytes a
// value), Q8_K blocks with their sums (about 1.14), or floats; rounded up
// to 64 bytes. (The CPU backend's tests check that it agrees.)
func ActivationRowBytes(t gguf.TensorType, k int) int64 {
	var n int64
	switch quant.VecDotType(t) {
	case gguf.TypeQ8_0, gguf.TypeQ8_1:
		n = int64(3*k + 3*k/8 + 128)
	case gguf.TypeQ8_K:
		n = int64(k + k/64 + k/8)
	default:
		n = 4 * int64(k)
	}
	return (n + 63) &^ 63
}

// WeightBytes returns the size of a GGUF file's tensor data.
func WeightBytes(f *gguf.File) int64 {
	var n int64
	for i := range f.Tensors {
		n += int64(f.Tensors[i].Size)
	}
	return n
}

// NeedsOf returns what the model in f needs with the context o describes,
// counting the quantized activations for its weights' types.
func NeedsOf(f *gguf.File, o StateOptions) (Needs, error) {
	c, err := ConfigFromGGUF(f)
	if err != nil {
		return Needs{}, err
	}
	if t, ok := f.Tensor("token_embd.weight"); ok && len(t.Dims) == 2 {
		c.Vocab = int(t.Dims[1])
	}
	var actDim, actFFN int64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if len(t.Dims) != 2 || t.Name == "token_embd.weight" || !quant.HasVecDot(t.Type) {
			continue
		}
		switch t.Dims[0] {
		case uint64(c.Dim):
			actDim = max(actDim, ActivationRowBytes(t.Type, c.Dim))
		case uint64(c.FFN):
			actFFN = max(actFFN, ActivationRowBytes(t.Type, c.FFN))
		}
	}
	if c.Dim == c.FFN {
		actFFN = actDim
	}
	return c.needs(WeightBytes(f), o, actDim+actFFN), nil
}

// FormatBytes formats a byte count with a binary unit ("2.00 GiB").
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
