// Package compute is the backend-neutral half of the GPU backends: Backend
// implements engine.Backend by planning each operation (which kernel of
// package kernels, which buffers and ranges, which grid, which
// parameters, where memory barriers go) and recording it as commands; a
// Device runs the commands on one GPU API. The OpenGL backend (gpu/gl) and
// the Metal backend (gpu/metal) are Devices, thin executors that create
// programs and buffers, bind, dispatch and read back, so everything the
// golden tests verify through OpenGL on Linux is what Metal runs.
//
// Commands are recorded until a Read (or a long list) sends them to the
// device in one call, so a token's several hundred dispatches cost one
// crossing into C; barriers are placed only between commands that touch
// the same buffer. Failures of recorded work (a GPU error, memory that
// could not be allocated while recording) are kept and returned by the
// next Read: the operations themselves cannot fail.
package compute
