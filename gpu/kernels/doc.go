// Package kernels holds the GPU compute kernels, written once in GLSL 4.30
// (shaders/), and what the backends need to run them: the programs
// (Spec: a kernel file specialised by #defines), the work split
// (Variant), the repacked weight layouts the shaders read (Layout) and
// the KV cache layouts.
//
// The OpenGL backend compiles the GLSL as it is. The Metal backend runs
// the same programs translated to the Metal Shading Language: ToMSL
// compiles a program to SPIR-V with glslangValidator and translates it
// with SPIRV-Cross; `go generate ./gpu/...` writes the translations of
// every parallel program into gpu/kernels/msl, where they are committed,
// and a test there fails when they differ from what the GLSL gives.
package kernels
