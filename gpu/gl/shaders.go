package gl

import (
	"embed"
	"fmt"
	"strings"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
)

//go:embed shaders/*.glsl
var shaderFiles embed.FS

// Workgroup sizes and tiling constants shared by the host and the shaders.
const (
	wgSize        = 64  // invocations of every kernel's workgroups but add and swiglu
	batchTokens   = 8   // NT of the batched matmul program
	maxHeadDim    = 256 // HD_MAX of the attention kernels
	elementwiseWG = 256 // workgroup size of add and swiglu
)

// Kernels selects how the shaders split their work.
type Kernels int

const (
	// KernelsAuto picks serial kernels on CPU rasterisers, parallel ones elsewhere.
	KernelsAuto Kernels = iota
	// KernelsParallel splits each dot product and each row over a workgroup
	// and sums with shared-memory (or subgroup) reductions: the layout GPUs need.
	KernelsParallel
	// KernelsSerial gives each output to one invocation and uses no
	// barriers: on llvmpipe, where a barrier costs a context switch per
	// invocation, it is several times faster.
	KernelsSerial
)

// String names the choice.
func (k Kernels) String() string {
	switch k {
	case KernelsParallel:
		return "parallel"
	case KernelsSerial:
		return "serial"
	}
	return "auto"
}

// variant is the work split of the programs a backend compiles.
type variant struct {
	lanes int // invocations per dot product and per normalised row
	rpt   int // weight rows per invocation in matmul
}

var (
	serialVariant   = variant{lanes: 1, rpt: 1}
	parallelVariant = variant{lanes: 64, rpt: 2}
)

// rowsPerGroup is the number of weight rows a matmul workgroup covers.
func (v variant) rowsPerGroup() int { return wgSize / v.lanes * v.rpt }

// kernelSpec names a program: a kernel file, the files it includes before
// it and its #defines.
type kernelSpec struct {
	file     string
	includes []string
	defines  []string // "NAME VALUE"
}

// key identifies the program of a spec.
func (k kernelSpec) key() string { return k.file + "|" + strings.Join(k.defines, ",") }

// files lists the GLSL files of a program in order; the compiler's
// messages number them from 0.
func (k kernelSpec) files() []string {
	return append(append([]string{"common"}, k.includes...), k.file)
}

// source assembles a spec's GLSL text.
func (k kernelSpec) source(subgroups bool) (string, error) {
	var b strings.Builder
	b.WriteString("#version 430\n")
	if subgroups {
		b.WriteString("#extension GL_KHR_shader_subgroup_basic : require\n")
		b.WriteString("#extension GL_KHR_shader_subgroup_arithmetic : require\n")
		b.WriteString("#define USE_SUBGROUPS 1\n")
	}
	for _, d := range k.defines {
		b.WriteString("#define " + d + "\n")
	}
	for i, f := range k.files() {
		text, err := shaderFiles.ReadFile("shaders/" + f + ".glsl")
		if err != nil {
			return "", fmt.Errorf("shader %s: %w", f, err)
		}
		fmt.Fprintf(&b, "#line 1 %d\n", i)
		b.Write(text)
	}
	return b.String(), nil
}

// matmulKernel is the product program for a weight type, for one token
// (nt = 1) or a batch (nt = batchTokens).
func (v variant) matmulKernel(typ gguf.TensorType, nt int) kernelSpec {
	l := layouts[typ]
	hasAux := 0
	if l.auxKind != auxNone {
		hasAux = 1
	}
	return kernelSpec{
		file:     "matmul",
		includes: []string{"dequant"},
		defines: []string{
			fmt.Sprintf("WTYPE %d", int(typ)),
			fmt.Sprintf("BLOCK_ELEMS %d", l.blockElems),
			fmt.Sprintf("HAS_AUX %d", hasAux),
			fmt.Sprintf("LANES %d", v.lanes),
			fmt.Sprintf("RPT %d", v.rpt),
			fmt.Sprintf("NT %d", nt),
		},
	}
}

func (v variant) rmsNormKernel() kernelSpec {
	k := kernelSpec{file: "rmsnorm", defines: []string{fmt.Sprintf("WG %d", wgSize), fmt.Sprintf("LANES %d", v.lanes)}}
	if v.lanes > 1 {
		k.includes = []string{"reduce"}
	}
	return k
}

// attentionKernel reads a KV cache of type kv.
func (v variant) attentionKernel(kv engine.KVType) kernelSpec {
	defs := []string{fmt.Sprintf("HD_MAX %d", maxHeadDim), fmt.Sprintf("KV_TYPE %d", kvTypeID(kv))}
	if v.lanes == 1 {
		return kernelSpec{file: "attention_serial", includes: []string{"kvlayout", "kvread"}, defines: defs}
	}
	return kernelSpec{file: "attention", includes: []string{"reduce", "kvlayout", "kvread"},
		defines: append([]string{fmt.Sprintf("WG %d", wgSize)}, defs...)}
}

// kvStoreKernel converts keys or values into a cache of type kv (fp16 or
// Q8_0; float32 caches are filled by copies).
func kvStoreKernel(kv engine.KVType) kernelSpec {
	return kernelSpec{file: "kvstore", includes: []string{"round", "kvlayout"},
		defines: []string{fmt.Sprintf("WG %d", elementwiseWG), fmt.Sprintf("KV_TYPE %d", kvTypeID(kv))}}
}

// kvTypeID is a cache type's KV_TYPE in the shaders.
func kvTypeID(kv engine.KVType) int {
	switch kv {
	case engine.KVF16:
		return 1
	case engine.KVQ8_0:
		return 2
	}
	return 0
}

// actRound is the program rounding activations for weights whose dot
// products ggml computes against activations of type act (quant.VecDotType).
func actRoundKernel(act gguf.TensorType) kernelSpec {
	return kernelSpec{file: "actround", includes: []string{"round"}, defines: []string{fmt.Sprintf("ATYPE %d", int(act)), fmt.Sprintf("BLOCK %d", actBlock(act))}}
}

// actBlock is the number of floats one invocation of actround handles.
func actBlock(act gguf.TensorType) int {
	switch act {
	case gguf.TypeQ8_K:
		return 256
	case gguf.TypeQ8_0:
		return 32
	}
	return 8
}

// The kernels without variants.
var (
	ropeKernel   = kernelSpec{file: "rope", defines: []string{fmt.Sprintf("WG %d", wgSize)}}
	swigluKernel = kernelSpec{file: "swiglu", defines: []string{fmt.Sprintf("WG %d", elementwiseWG)}}
	addKernel    = kernelSpec{file: "add", defines: []string{fmt.Sprintf("WG %d", elementwiseWG)}}
)
