package gl

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
)

// allKernels lists every program the backend can compile.
func allKernels() []kernelSpec {
	var specs []kernelSpec
	for _, v := range []variant{serialVariant, parallelVariant} {
		specs = append(specs, v.rmsNormKernel())
		for _, kv := range engine.KVTypes() {
			specs = append(specs, v.attentionKernel(kv))
		}
		for typ := range layouts {
			specs = append(specs, v.matmulKernel(typ, 1), v.matmulKernel(typ, batchTokens))
		}
	}
	for _, act := range []gguf.TensorType{gguf.TypeQ8_0, gguf.TypeQ8_K, gguf.TypeF16, gguf.TypeBF16} {
		specs = append(specs, actRoundKernel(act))
	}
	return append(specs, ropeKernel, swigluKernel, addKernel, kvStoreKernel(engine.KVF16), kvStoreKernel(engine.KVQ8_0))
}

// TestShadersValidate checks every program, with and without subgroup
// reductions, with the Khronos reference compiler (glslangValidator, from
// glslang-tools; the test skips without it, but fails under CI=true): the
// subgroup variants run only on GPUs, never on llvmpipe, and this is what
// compiles them in CI.
func TestShadersValidate(t *testing.T) {
	validator, err := exec.LookPath("glslangValidator")
	if err != nil {
		msg := "glslangValidator not found (apt-get install glslang-tools)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	for i, k := range allKernels() {
		for _, subgroups := range []bool{false, true} {
			src, err := k.source(subgroups)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, k.file+".comp")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(validator, path).CombinedOutput(); err != nil {
				t.Errorf("program %d %s %v (subgroups %v), files %v:\n%s", i, k.file, k.defines, subgroups, k.files(), out)
			}
		}
	}
}
