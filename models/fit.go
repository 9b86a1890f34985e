package models

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/models/download"
)

// Shape is what the fit estimate needs to know about a model.
type Shape struct {
	Layers        int `json:"layers"`
	Embedding     int `json:"embedding"`
	Heads         int `json:"heads"`
	KVHeads       int `json:"kv_heads"`
	HeadDim       int `json:"head_dim"`
	FFN           int `json:"ffn,omitempty"`
	Vocab         int `json:"vocab,omitempty"`
	ContextLength int `json:"context_length"`
	// WeightBytes is the size of all tensor data (or of the file, which is
	// a few megabytes more).
	WeightBytes uint64 `json:"weight_bytes"`
	// LayerBytes is the part of WeightBytes in the repeating layers; the
	// rest (embeddings, output) stays on the CPU in a partial offload.
	LayerBytes uint64 `json:"layer_bytes"`
}

// ShapeOf returns the shape of a catalog file, before it is downloaded. The
// layers' share of the weights is estimated from the parameter counts.
func ShapeOf(m *Model, f *File) Shape {
	a := m.Arch
	s := Shape{
		Layers: a.Layers, Embedding: a.Embedding, Heads: a.Heads, KVHeads: a.KVHeads, HeadDim: a.HeadDim,
		FFN: a.FFN, Vocab: a.Vocab, ContextLength: m.ContextLength, WeightBytes: uint64(f.Size),
	}
	outside := uint64(2*a.Vocab*a.Embedding + a.Embedding) // token embeddings, output, final norm
	if m.Parameters > outside {
		s.LayerBytes = uint64(float64(s.WeightBytes) * float64(m.Parameters-outside) / float64(m.Parameters))
	}
	return s
}

// Memory is the machine's RAM in bytes. Available is 0 where the system
// does not tell (macOS); the estimate then uses 80% of Total.
type Memory struct {
	Total     uint64 `json:"total"`
	Available uint64 `json:"available"`
}

// budget is how much RAM a model may use.
func (m Memory) budget() uint64 {
	if m.Available > 0 {
		return m.Available
	}
	return m.Total / 10 * 8
}

// GPU describes a GPU's memory, as a GPU backend reports it.
type GPU struct {
	Name  string `json:"name"`
	Total uint64 `json:"total"`
	// Free is 0 when unknown; the estimate then uses 90% of Total.
	Free uint64 `json:"free"`
}

func (g *GPU) budget() uint64 {
	if g.Free > 0 {
		return g.Free
	}
	return g.Total / 10 * 9
}

// FitOptions tunes the estimate.
type FitOptions struct {
	// Context is the number of positions the KV cache holds (default: the
	// model's context length).
	Context int
	// KVType is the KV cache's element type (default f16).
	KVType engine.KVType
	// Overhead is the memory for compute buffers; 0 means DefaultOverhead.
	Overhead uint64
}

// Verdict is the outcome of a fit estimate.
type Verdict int

// The verdicts, best first.
const (
	FitsGPU        Verdict = iota // everything on the GPU
	PartialOffload                // some layers on the GPU, the rest on the CPU
	CPUOnly                       // everything in RAM, computed by the CPU
	WontFit                       // not enough memory
)

var verdictNames = [...]string{"fits on GPU", "partial offload", "CPU only", "won't fit"}

// String returns the verdict as shown to people, such as "CPU only".
func (v Verdict) String() string {
	if v >= 0 && int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Fit is an estimate of how a model would run on this machine, with the
// numbers behind it.
type Fit struct {
	Verdict Verdict `json:"verdict"`
	// GPULayers of Layers go to the GPU (all for FitsGPU, none on the CPU).
	GPULayers int `json:"gpu_layers"`
	Layers    int `json:"layers"`
	Context   int `json:"context"`
	// The memory the model needs: weights, KV cache at Context, compute
	// buffers, and their sum.
	WeightBytes   uint64 `json:"weight_bytes"`
	KVBytes       uint64 `json:"kv_bytes"`
	OverheadBytes uint64 `json:"overhead_bytes"`
	TotalBytes    uint64 `json:"total_bytes"`
	RAM           Memory `json:"ram"`
	GPU           *GPU   `json:"gpu,omitempty"`
}

// String returns the verdict with the layer split for a partial offload,
// such as "partial offload (20 of 40 layers)".
func (f Fit) String() string {
	if f.Verdict == PartialOffload {
		return fmt.Sprintf("partial offload (%d of %d layers)", f.GPULayers, f.Layers)
	}
	return f.Verdict.String()
}

// Explain gives the numbers behind the verdict in one sentence.
func (f Fit) Explain() string {
	b := func(n uint64) string { return download.FormatBytes(int64(n)) }
	s := fmt.Sprintf("needs %s (%s weights, %s KV cache for %d tokens, %s buffers); ",
		b(f.TotalBytes), b(f.WeightBytes), b(f.KVBytes), f.Context, b(f.OverheadBytes))
	if f.RAM.Available > 0 {
		s += fmt.Sprintf("%s of %s RAM available", b(f.RAM.Available), b(f.RAM.Total))
	} else {
		s += fmt.Sprintf("%s RAM", b(f.RAM.Total))
	}
	if f.GPU != nil {
		s += fmt.Sprintf(", %s of %s free on %s", b(f.GPU.budget()), b(f.GPU.Total), f.GPU.Name)
	}
	return s
}

// KVCacheBytes is the size of a KV cache: keys and values for every layer,
// position and KV head: 2 · layers · ctx · kvHeads · headDim · elemBytes.
func KVCacheBytes(layers, ctx, kvHeads, headDim, elemBytes int) uint64 {
	return 2 * uint64(layers) * uint64(ctx) * uint64(kvHeads) * uint64(headDim) * uint64(elemBytes)
}

// runtimeOverhead is memory the program itself takes beside the model: the
// Go runtime, libraries and the window.
const runtimeOverhead = 128 << 20

// engineConfig is the engine's view of a shape, for its memory model.
func (s Shape) engineConfig() engine.Config {
	c := engine.Config{Dim: s.Embedding, Layers: s.Layers, Heads: s.Heads, KVHeads: s.KVHeads, HeadDim: s.HeadDim,
		FFN: s.FFN, Vocab: s.Vocab, ContextLen: s.ContextLength}
	if c.FFN == 0 {
		c.FFN = 11008 * s.Embedding / 4096 // Llama 2's ratio, where the file does not say
	}
	if c.Vocab == 0 {
		c.Vocab = 32000
	}
	return c
}

// DefaultOverhead estimates the compute buffers with the engine's memory
// model (a batch of activations, their quantized copies, the logits) plus
// the program's own memory.
func DefaultOverhead(s Shape, ctx int) uint64 {
	n := s.engineConfig().Needs(0, engine.StateOptions{Context: ctx})
	return uint64(n.Buffers+n.Logits) + runtimeOverhead
}

// EstimateFit judges whether a model of shape s fits this machine: on the
// GPU (when gpu is not nil), partly on it, in RAM, or not at all.
func EstimateFit(s Shape, ram Memory, gpu *GPU, opt FitOptions) Fit {
	ctx := opt.Context
	if ctx <= 0 {
		ctx = s.ContextLength
	}
	if ctx <= 0 {
		ctx = 4096
	}
	over := opt.Overhead
	if over == 0 {
		over = DefaultOverhead(s, ctx)
	}
	need := s.engineConfig().Needs(0, engine.StateOptions{Context: ctx, KVType: opt.KVType})
	f := Fit{
		Layers: s.Layers, Context: ctx, WeightBytes: s.WeightBytes,
		KVBytes:       uint64(need.KV),
		OverheadBytes: over, RAM: ram, GPU: gpu,
	}
	f.TotalBytes = f.WeightBytes + f.KVBytes + f.OverheadBytes
	ramBudget := ram.budget()

	if gpu != nil && gpu.Total > 0 && s.Layers > 0 {
		gpuBudget := gpu.budget()
		if f.TotalBytes <= gpuBudget {
			f.Verdict, f.GPULayers = FitsGPU, s.Layers
			return f
		}
		layerBytes := min(s.LayerBytes, s.WeightBytes)
		perLayer := layerBytes/uint64(s.Layers) + f.KVBytes/uint64(s.Layers)
		n := 0
		if gpuBudget > over && perLayer > 0 {
			n = int(min((gpuBudget-over)/perLayer, uint64(s.Layers)))
		}
		if n > 0 {
			host := f.TotalBytes - uint64(n)*perLayer
			if host <= ramBudget {
				f.Verdict, f.GPULayers = PartialOffload, n
				return f
			}
			f.Verdict = WontFit
			return f
		}
	}
	if f.TotalBytes <= ramBudget {
		f.Verdict = CPUOnly
	} else {
		f.Verdict = WontFit
	}
	return f
}

// parseMeminfo reads MemTotal and MemAvailable from Linux's /proc/meminfo.
func parseMeminfo(r io.Reader) (Memory, error) {
	var m Memory
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch key {
		case "MemTotal":
			dst = &m.Total
		case "MemAvailable":
			dst = &m.Available
		default:
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return Memory{}, fmt.Errorf("meminfo: %s has no value", key)
		}
		v, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("meminfo: %s: %w", key, err)
		}
		mult := uint64(1)
		if len(fields) > 1 && strings.EqualFold(fields[1], "kB") {
			mult = 1024
		}
		if v > (1<<64-1)/mult {
			return Memory{}, fmt.Errorf("meminfo: %s is too large", key)
		}
		*dst = v * mult
	}
	if err := sc.Err(); err != nil {
		return Memory{}, fmt.Errorf("meminfo: %w", err)
	}
	if m.Total == 0 {
		return Memory{}, fmt.Errorf("meminfo: no MemTotal")
	}
	if m.Available > m.Total {
		m.Available = m.Total
	}
	return m, nil
}
