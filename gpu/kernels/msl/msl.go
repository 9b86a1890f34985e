// Package msl holds the Metal Shading Language translations of the GPU
// kernels, generated from their GLSL (package kernels) by
// glslangValidator and SPIRV-Cross and committed: `go generate
// ./gpu/kernels/msl` writes them, and TestUpToDate fails when they differ
// from what the GLSL gives. TOOLS names the translators that wrote them.
package msl

import (
	"embed"
	"fmt"

	"github.com/llamadesk/llamadesk/gpu/kernels"
)

//go:generate go run ./gen -dir .

//go:embed *.metal TOOLS
var files embed.FS

// Source returns the MSL translation of a program, with or without
// subgroup reductions; its kernel function is kernels.MSLEntry.
func Source(k kernels.Spec, subgroups bool) (string, error) {
	b, err := files.ReadFile(kernels.MSLFile(k, subgroups))
	if err != nil {
		return "", fmt.Errorf("no MSL translation of %s (run go generate ./gpu/kernels/msl): %w", k.Name, err)
	}
	return string(b), nil
}

// Tools names the translators that wrote the files.
func Tools() string {
	b, _ := files.ReadFile("TOOLS")
	return string(b)
}
