package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// Buffer is a backend-owned array of float32 activations. Batched
// activations are stored row-major: n rows (tokens) of a fixed width.
type Buffer interface {
	// Len returns the number of float32 elements the buffer holds.
	Len() int
}

// Weight is a backend-owned weight tensor prepared by Backend.LoadWeight.
type Weight interface {
	// Rows returns the number of output rows (ggml's ne[1]; 1 for a vector).
	Rows() int
	// Cols returns the row length (ggml's ne[0]).
	Cols() int
}

// KVCache is one layer's key and value cache on a backend: Capacity
// positions of kvDim values each, for keys and for values, stored as the
// cache's KVType.
type KVCache interface {
	// Capacity returns the number of positions the cache holds.
	Capacity() int
}

// KVType is the element type a KV cache stores keys and values in.
type KVType uint8

// The KV cache types. The zero value, KVF16, is the default (as in
// llama.cpp): half the memory of float32 at a precision the golden tests
// accept. KVF32 is the precision of the golden references.
const (
	KVF16  KVType = iota // IEEE binary16
	KVF32                // float32
	KVQ8_0               // ggml's Q8_0 blocks: 32 int8 values and one fp16 scale
)

// String returns the type's name as the command line spells it ("f16").
func (t KVType) String() string {
	switch t {
	case KVF16:
		return "f16"
	case KVF32:
		return "f32"
	case KVQ8_0:
		return "q8_0"
	}
	return fmt.Sprintf("KVType(%d)", uint8(t))
}

// KVTypes lists the KV cache types, the default first.
func KVTypes() []KVType { return []KVType{KVF16, KVF32, KVQ8_0} }

// ParseKVType reads a KV cache type by name ("f16", "f32", "q8_0").
func ParseKVType(s string) (KVType, error) {
	for _, t := range KVTypes() {
		if strings.EqualFold(s, t.String()) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown KV cache type %q (want f16, f32 or q8_0)", s)
}

// ErrUnsupportedKV is wrapped by AllocKV when a backend cannot hold a cache
// of the requested type.
var ErrUnsupportedKV = errors.New("KV cache type not supported by this backend")

// AttentionParams describes one attention call of a layer.
type AttentionParams struct {
	Tokens   int // tokens in the batch
	StartPos int // position of the batch's first token; earlier positions come from the cache
	Heads    int // query heads
	KVHeads  int // key/value heads; each serves Heads/KVHeads query heads
	HeadDim  int
}

// RoPEParams describes rotary position embedding in GGML's normal mode:
// adjacent pairs (x[2i], x[2i+1]) of the first Dims elements of each head
// rotate by the angle p·Base^(-2i/Dims), where p = pos·Scale.
type RoPEParams struct {
	Tokens   int
	StartPos int // position of the first token; token t is at StartPos+t
	Heads    int
	HeadDim  int
	Dims     int // rotated elements per head (llama.rope.dimension_count)
	Base     float32
	Scale    float32 // position multiplier (1 unless the model uses linear rope scaling)
}

// Backend computes the operations of the Llama forward pass. The model calls
// these in order for every layer; a backend may run them asynchronously as
// long as Read returns the finished result. A Backend is used by one
// goroutine at a time.
//
// Row-major batch layouts: a matrix product's input holds n rows of w.Cols()
// floats and its output n rows of w.Rows() floats.
type Backend interface {
	// Name identifies the backend ("cpu", "gl", ...).
	Name() string
	// LoadWeight prepares a weight from its GGUF bytes (a view into the
	// memory-mapped file, which outlives the backend). For a vector (a norm
	// weight) rows is 1.
	LoadWeight(name string, typ gguf.TensorType, rows, cols int, data []byte) (Weight, error)
	// Alloc returns a zeroed buffer of n floats, or an error when the
	// backend's memory cannot hold it.
	Alloc(n int) (Buffer, error)
	// AllocKV returns a key/value cache of capacity positions of kvDim
	// values stored as typ; a type the backend cannot store gives an error
	// wrapping ErrUnsupportedKV.
	AllocKV(capacity, kvDim int, typ KVType) (KVCache, error)
	// Write copies src into the start of dst.
	Write(dst Buffer, src []float32)
	// Read copies the start of src into dst, waiting for pending work. It
	// returns the first error of the work since the previous Read (a GPU
	// that ran out of memory or reported an error): the operations record
	// work and cannot fail by themselves, so their failures surface here,
	// and after such an error the results of that work are undefined.
	Read(dst []float32, src Buffer) error
	// Copy copies count floats from src[srcOff:] to dst[dstOff:].
	Copy(dst Buffer, dstOff int, src Buffer, srcOff, count int)

	// RMSNorm sets dst[r] = src[r] / sqrt(mean(src[r]²) + eps) * w for each of
	// the n rows of w.Cols() floats.
	RMSNorm(dst, src Buffer, w Weight, n int, eps float32)
	// MatMul sets dst[r][i] = Σ_k w[i][k]·x[r][k] for the n rows of x.
	MatMul(dst Buffer, w Weight, x Buffer, n int)
	// RoPE rotates the heads of buf (rows of Heads·HeadDim floats) in place.
	RoPE(buf Buffer, p RoPEParams)
	// Attention stores the batch's keys and values (rows of KVHeads·HeadDim)
	// in the cache at StartPos.., then sets out (rows of Heads·HeadDim) to
	// causal softmax(q·kᵀ/√HeadDim)·v over positions 0..StartPos+t.
	Attention(out, q, k, v Buffer, cache KVCache, p AttentionParams)
	// SwiGLU sets dst[i] = silu(gate[i]) · up[i] for the first count elements.
	SwiGLU(dst, gate, up Buffer, count int)
	// Add sets dst[i] += src[i] for the first count elements.
	Add(dst, src Buffer, count int)

	// Close releases the backend's resources.
	Close() error
}

// Interruptible is implemented by backends that can abandon a long
// operation (a large matrix product during prompt processing). The engine
// calls Interrupt, from another goroutine, when an evaluation's context is
// cancelled, so that Stop takes effect within a fraction of a layer; the
// results of interrupted operations are undefined and the engine discards
// them. ResetInterrupt, called before each evaluation, makes the backend
// run operations fully again.
type Interruptible interface {
	Interrupt()
	ResetInterrupt()
}
