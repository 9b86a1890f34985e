package kernels

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
	WGSize        = 64  // invocations of every kernel's workgroups but add, swiglu and kvstore
	BatchTokens   = 8   // NT of the batched matmul program
	MaxHeadDim    = 256 // HD_MAX of the attention kernels
	ElementwiseWG = 256 // workgroup size of add, swiglu and kvstore
	ParamsSize    = 48  // bytes of the std140 Params block of common.glsl
)

// Variant is the work split of a backend's programs.
type Variant struct {
	// Lanes is the number of invocations per dot product and per
	// normalised row: 1 in the serial kernels, 64 in the parallel ones.
	Lanes int
	// RPT is the number of weight rows per invocation in matmul.
	RPT int
}

var (
	// Serial gives each output to one invocation and uses no barriers: on
	// CPU rasterisers (llvmpipe), where a barrier costs a context switch
	// per invocation, it is several times faster.
	Serial = Variant{Lanes: 1, RPT: 1}
	// Parallel splits each dot product and each row over a workgroup and
	// sums with shared-memory (or subgroup) reductions: the layout GPUs need.
	Parallel = Variant{Lanes: 64, RPT: 2}
)

// Serial reports whether v is the serial variant.
func (v Variant) Serial() bool { return v.Lanes == 1 }

// RowsPerGroup is the number of weight rows a matmul workgroup covers.
func (v Variant) RowsPerGroup() int { return WGSize / v.Lanes * v.RPT }

func (v Variant) suffix() string {
	if v.Serial() {
		return "ser"
	}
	return "par"
}

// Spec names a program: a kernel file, the files it includes before it,
// its #defines and its workgroup size.
type Spec struct {
	// Name identifies the program in file names and messages ("matmul-q4_0-nt1-par").
	Name     string
	File     string
	Includes []string
	Defines  []string // "NAME VALUE"
	// WG is the workgroup size (local_size_x), which Metal needs at dispatch.
	WG int
	// Reduces is true for the programs that sum across invocations: they
	// use subgroup operations where the device has them (USE_SUBGROUPS),
	// the others are the same program either way.
	Reduces bool
}

// Key identifies the program of a spec.
func (k Spec) Key() string { return k.File + "|" + strings.Join(k.Defines, ",") }

// Files lists the GLSL files of a program in order; the compiler's
// messages number them from 0.
func (k Spec) Files() []string {
	return append(append([]string{"common"}, k.Includes...), k.File)
}

// GLSL assembles a spec's GLSL 4.30 source, with subgroup reductions
// (GL_KHR_shader_subgroup) or without (subgroups is ignored for programs
// that do not reduce).
func (k Spec) GLSL(subgroups bool) (string, error) {
	var b strings.Builder
	b.WriteString("#version 430\n")
	if subgroups && k.Reduces {
		b.WriteString("#extension GL_KHR_shader_subgroup_basic : require\n")
		b.WriteString("#extension GL_KHR_shader_subgroup_arithmetic : require\n")
		b.WriteString("#define USE_SUBGROUPS 1\n")
	}
	for _, d := range k.Defines {
		b.WriteString("#define " + d + "\n")
	}
	for i, f := range k.Files() {
		text, err := shaderFiles.ReadFile("shaders/" + f + ".glsl")
		if err != nil {
			return "", fmt.Errorf("shader %s: %w", f, err)
		}
		fmt.Fprintf(&b, "#line 1 %d\n", i)
		b.Write(text)
	}
	return b.String(), nil
}

// MatMul is the product program for a weight type, for one token (nt = 1)
// or a batch (nt = BatchTokens).
func (v Variant) MatMul(typ gguf.TensorType, nt int) Spec {
	l := layouts[typ]
	hasAux := 0
	if l.Aux != AuxNone {
		hasAux = 1
	}
	return Spec{
		Name:     fmt.Sprintf("matmul-%s-nt%d-%s", strings.ToLower(typ.String()), nt, v.suffix()),
		File:     "matmul",
		Includes: []string{"dequant"},
		Defines: []string{
			fmt.Sprintf("WTYPE %d", int(typ)),
			fmt.Sprintf("BLOCK_ELEMS %d", l.BlockElems),
			fmt.Sprintf("HAS_AUX %d", hasAux),
			fmt.Sprintf("LANES %d", v.Lanes),
			fmt.Sprintf("RPT %d", v.RPT),
			fmt.Sprintf("NT %d", nt),
		},
		WG:      WGSize,
		Reduces: !v.Serial(),
	}
}

// RMSNorm is the normalisation program.
func (v Variant) RMSNorm() Spec {
	k := Spec{Name: "rmsnorm-" + v.suffix(), File: "rmsnorm",
		Defines: []string{fmt.Sprintf("WG %d", WGSize), fmt.Sprintf("LANES %d", v.Lanes)}, WG: WGSize}
	if !v.Serial() {
		k.Includes, k.Reduces = []string{"reduce"}, true
	}
	return k
}

// Attention is the attention program over a KV cache of type kv.
func (v Variant) Attention(kv engine.KVType) Spec {
	defs := []string{fmt.Sprintf("HD_MAX %d", MaxHeadDim), fmt.Sprintf("KV_TYPE %d", kvTypeID(kv))}
	name := fmt.Sprintf("attention-%s-%s", kv, v.suffix())
	if v.Serial() {
		return Spec{Name: name, File: "attention_serial", Includes: []string{"kvlayout", "kvread"}, Defines: defs, WG: WGSize}
	}
	return Spec{Name: name, File: "attention", Includes: []string{"reduce", "kvlayout", "kvread"},
		Defines: append([]string{fmt.Sprintf("WG %d", WGSize)}, defs...), WG: WGSize, Reduces: true}
}

// KVStore converts keys or values into a cache of type kv (fp16 or Q8_0;
// float32 caches are filled by copies).
func KVStore(kv engine.KVType) Spec {
	return Spec{Name: "kvstore-" + kv.String(), File: "kvstore", Includes: []string{"round", "kvlayout"},
		Defines: []string{fmt.Sprintf("WG %d", ElementwiseWG), fmt.Sprintf("KV_TYPE %d", kvTypeID(kv))}, WG: ElementwiseWG}
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

// KVRowWords is the words one row of kvDim values takes in a KV cache of
// type kv (kvRowWords of kvlayout.glsl): float32 values, fp16 pairs, or
// Q8_0 quants followed by the row's fp16 scales, two to a word.
func KVRowWords(kv engine.KVType, kvDim int) int {
	switch kv {
	case engine.KVF16:
		return kvDim / 2
	case engine.KVQ8_0:
		return kvDim/4 + (kvDim/32+1)/2
	}
	return kvDim
}

// ActRound is the program rounding activations for weights whose dot
// products ggml computes against activations of type act
// (quant.VecDotType): Q8_0, Q8_K, F16 or BF16.
func ActRound(act gguf.TensorType) Spec {
	return Spec{Name: "actround-" + strings.ToLower(act.String()), File: "actround", Includes: []string{"round"},
		Defines: []string{fmt.Sprintf("ATYPE %d", int(act)), fmt.Sprintf("BLOCK %d", ActBlock(act))}, WG: 64}
}

// ActBlock is the number of floats one invocation of actround handles.
func ActBlock(act gguf.TensorType) int {
	switch act {
	case gguf.TypeQ8_K:
		return 256
	case gguf.TypeQ8_0:
		return 32
	}
	return 8
}

// RoundedActivations lists the activation types ActRound handles.
func RoundedActivations() []gguf.TensorType {
	return []gguf.TensorType{gguf.TypeQ8_0, gguf.TypeQ8_K, gguf.TypeF16, gguf.TypeBF16}
}

// The kernels without variants.
var (
	RoPE   = Spec{Name: "rope", File: "rope", Defines: []string{fmt.Sprintf("WG %d", WGSize)}, WG: WGSize}
	SwiGLU = Spec{Name: "swiglu", File: "swiglu", Defines: []string{fmt.Sprintf("WG %d", ElementwiseWG)}, WG: ElementwiseWG}
	Add    = Spec{Name: "add", File: "add", Defines: []string{fmt.Sprintf("WG %d", ElementwiseWG)}, WG: ElementwiseWG}
)

// All lists every program of a variant.
func (v Variant) All() []Spec {
	specs := []Spec{v.RMSNorm()}
	for _, kv := range engine.KVTypes() {
		specs = append(specs, v.Attention(kv))
	}
	for _, typ := range WeightTypes() {
		specs = append(specs, v.MatMul(typ, 1), v.MatMul(typ, BatchTokens))
	}
	for _, act := range RoundedActivations() {
		specs = append(specs, ActRound(act))
	}
	return append(specs, RoPE, SwiGLU, Add, KVStore(engine.KVF16), KVStore(engine.KVQ8_0))
}
