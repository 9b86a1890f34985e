package kernels

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestShadersValidate checks every program of both variants, with and
// without subgroup reductions, with the Khronos reference compiler
// (glslangValidator, from glslang-tools; the test skips without it, but
// fails under CI=true): the subgroup variants run only on GPUs, never on
// llvmpipe, and this is what compiles them in CI.
func TestShadersValidate(t *testing.T) {
	validator := tool(t, "glslangValidator", "glslang-tools")
	dir := t.TempDir()
	keys := map[string]string{} // name → key
	for _, v := range []Variant{Serial, Parallel} {
		for _, k := range v.All() {
			if key, ok := keys[k.Name]; ok {
				if key != k.Key() {
					t.Errorf("two programs are named %s", k.Name)
				}
				continue // a program without variants
			}
			keys[k.Name] = k.Key()
			choices := []bool{false}
			if k.Reduces {
				choices = append(choices, true)
			}
			for _, subgroups := range choices {
				src, err := k.GLSL(subgroups)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, k.Name+".comp")
				if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command(validator, path).CombinedOutput(); err != nil {
					t.Errorf("program %s %v (subgroups %v), files %v:\n%s", k.Name, k.Defines, subgroups, k.Files(), out)
				}
			}
		}
	}
}

// tool finds a command-line tool the test needs: it skips without it, but
// fails under CI=true, where .ci/run installs it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		msg := name + " not found (apt-get install " + pkg + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}
