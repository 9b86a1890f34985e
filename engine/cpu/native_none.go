//go:build !cgo || !(amd64 || arm64)

package cpu

import "github.com/llamadesk/llamadesk/engine/gguf"

// nativeBuilt reports whether this binary carries native kernels: not
// without cgo or on other architectures, where the portable Go kernels run.
const nativeBuilt = false

func nativeActKind(gguf.TensorType) int                                  { return -1 }
func nativeActRowBytes(int, int) int                                     { return 0 }
func nativeActOffset(int, gguf.TensorType) int                           { return 0 }
func nativeScratchBytes(gguf.TensorType, int) int                        { return 0 }
func nativeQuantize(int, int, int, []float32, int, int, int, []byte) int { return 0 }
func nativeMatMul(int, gguf.TensorType, []byte, int, int, int, int, []byte, int, int, []float32, int, []byte) bool {
	return false
}
func nativeKVBytes(int, int, int) int { return -1 }
func nativeKVStore(int, int, []byte, []byte, int, int, int, []float32, []float32, int, int) bool {
	return false
}
func nativeAttnJobs(int, int, int) int    { return 0 }
func nativeAttnScratch(int, int, int) int { return 0 }
func nativeAttention(int, int, []float32, []byte, []byte, int, []float32, int, int, int, int, int, float32, int, int, []float32) bool {
	return false
}
func nativeSwiGLU(int, []float32, []float32, []float32) bool { return false }

// nativePool does not exist without native kernels.
type nativePool struct{ size int }

func newNativePool(int) *nativePool { return nil }
func (*nativePool) close()          {}
func (*nativePool) setStop(bool)    {}
func (*nativePool) matmul(int, gguf.TensorType, []byte, int, int, int, []byte, int, int, []float32, int, []byte, int, int) bool {
	return false
}
func (*nativePool) quantize(int, int, int, []float32, int, int, []byte) int { return 0 }
func (*nativePool) attention(int, int, []float32, []byte, []byte, int, []float32, int, int, int, int, int, float32, []float32, int) bool {
	return false
}
func (*nativePool) swiglu(int, []float32, []float32, []float32) {}
