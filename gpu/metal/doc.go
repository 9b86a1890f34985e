// Package metal is the engine's Metal backend for macOS: the plan of
// package compute run by a Metal device (cgo and a small Objective-C
// layer, lmtl.m), with the same kernels as the OpenGL backend, translated
// from their GLSL to the Metal Shading Language by glslangValidator and
// SPIRV-Cross (package kernels/msl; only the parallel variant, with SIMD-
// group reductions where the GPU has them).
//
// It is written against the Metal API but has not yet run on a Mac: this
// project's machines are Linux ones. What is checked there: the MSL files
// are what the GLSL gives (a test regenerates them), the plan is the one
// the OpenGL tests verify, and `make vet-darwin` type-checks this
// package's Go side and its calls into lmtl.h for macOS. The darwin test
// files run the GPU test suite (every kernel against the CPU backend, the
// golden checks of whole models) on a Mac with `go test ./gpu/metal/`.
//
// Design:
//   - Weights in place: on unified memory (Apple silicon) a weight stored
//     as it is in the file (K-quants, F16, F32, BF16) becomes a buffer over
//     the pages of the memory-mapped model with newBufferWithBytesNoCopy;
//     repacked types (Q4_0, Q8_0, Q6_K, ...) and discrete GPUs copy.
//   - Commands are encoded into command buffers of at most 64 dispatches,
//     one running while the next is encoded; Stop (engine.Interruptible)
//     takes effect between command buffers.
//   - Programs are compiled from MSL at first use, with fast math off so
//     that the kernels' fma chains are computed as written.
package metal
