package msl

import (
	"bytes"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/gpu/kernels"
)

// TestUpToDate translates every program again and compares the result with
// the committed files: a change to the GLSL (or to the programs) without
// `go generate ./gpu/kernels/msl` fails here. It needs glslangValidator
// and spirv-cross (skipped without them, failing under CI=true).
func TestUpToDate(t *testing.T) {
	tr, err := kernels.NewTranslator()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	defer tr.Close()
	versions, err := tr.Versions()
	if err != nil {
		t.Fatal(err)
	}
	hint := "run go generate ./gpu/kernels/msl"
	if strings.TrimSpace(versions) != strings.TrimSpace(Tools()) {
		hint += "; note that the committed files come from " + strings.TrimSpace(Tools()) + ", these tools are " + versions
	}
	want := map[string]bool{}
	for _, k := range kernels.MSLPrograms() {
		for _, sg := range subgroupChoices(k) {
			name := kernels.MSLFile(k, sg)
			want[name] = true
			got, err := tr.MSL(k, sg)
			if err != nil {
				t.Fatal(err)
			}
			committed, err := files.ReadFile(name)
			if err != nil {
				t.Errorf("%s is missing (%s)", name, hint)
				continue
			}
			if !bytes.Equal(got, committed) {
				t.Errorf("%s differs from the translation of its GLSL (%s)", name, hint)
			}
		}
	}
	stale, _ := fs.Glob(files, "*.metal")
	for _, name := range stale {
		if !want[name] {
			t.Errorf("%s belongs to no program (%s)", name, hint)
		}
	}
}

// TestSource checks that every program's translation is found, names its
// program and has the entry point the Metal backend looks up.
func TestSource(t *testing.T) {
	for _, k := range kernels.MSLPrograms() {
		for _, sg := range subgroupChoices(k) {
			src, err := Source(k, sg)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(src, "// Program "+k.Name+":") || !strings.Contains(src, "kernel void "+kernels.MSLEntry+"(") {
				t.Errorf("%s: not the translation of %s with entry %s", kernels.MSLFile(k, sg), k.Name, kernels.MSLEntry)
			}
			if sg != strings.Contains(src, "simd_sum") {
				t.Errorf("%s: subgroups %v, simd functions %v", kernels.MSLFile(k, sg), sg, !sg)
			}
		}
	}
	if _, err := Source(kernels.Serial.RMSNorm(), false); err == nil {
		t.Error("a serial program has an MSL translation")
	}
}

// subgroupChoices are the translations a program has: with and without
// subgroup operations for those that reduce, one for the others.
func subgroupChoices(k kernels.Spec) []bool {
	if k.Reduces {
		return []bool{false, true}
	}
	return []bool{false}
}
