//go:build cgo && (amd64 || arm64)

package cpu

/*
#cgo CFLAGS: -O3 -std=c11 -Wall -Wno-unused-function -Wno-psabi
#cgo LDFLAGS: -lm
#cgo linux LDFLAGS: -lpthread
#include "kern.h"
*/
import "C"

import (
	"unsafe"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// nativeBuilt reports whether this binary carries native kernels.
const nativeBuilt = true

func bytePtr(b []byte) *C.uint8_t { return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))) }

func floatPtr(f []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(f))) }

// nativeActKind returns the activation format for weights of type t, or -1.
func nativeActKind(t gguf.TensorType) int { return int(C.lk_act_kind(C.int(t))) }

// nativeActRowBytes returns the size of one quantized activation row.
func nativeActRowBytes(kind, k int) int { return int(C.lk_act_row_bytes(C.int(kind), C.int64_t(k))) }

// nativeActOffset returns the weight offset folded into the activations.
func nativeActOffset(level int, t gguf.TensorType) int {
	return int(C.lk_act_offset(C.int(level), C.int(t)))
}

// nativeScratchBytes returns the per-worker scratch a product needs.
func nativeScratchBytes(t gguf.TensorType, k int) int {
	return int(C.lk_scratch_bytes(C.int(t), C.int64_t(k)))
}

// nativeQuantize quantizes rows [r0, r1) of x (rows of k floats) into out
// and returns the number of blocks that held non-finite values.
func nativeQuantize(level, kind, off int, x []float32, k, r0, r1 int, out []byte) int {
	return int(C.lk_quantize(C.int(level), C.int(kind), C.int(off), floatPtr(x), C.int64_t(k), C.int64_t(r0), C.int64_t(r1), bytePtr(out)))
}

// nativeMatMul computes rows [r0, r1) of the product for n tokens.
func nativeMatMul(level int, t gguf.TensorType, w []byte, rowBytes, k, r0, r1 int, act []byte, actStride, n int, dst []float32, dstStride int, scratch []byte) bool {
	return C.lk_matmul(C.int(level), C.int(t), bytePtr(w), C.int64_t(rowBytes), C.int64_t(k), C.int64_t(r0), C.int64_t(r1),
		bytePtr(act), C.int64_t(actStride), C.int64_t(n), floatPtr(dst), C.int64_t(dstStride), bytePtr(scratch)) == 0
}

// nativeKVBytes returns the bytes of one layer's key (or value) cache, or -1.
func nativeKVBytes(typ, capacity, kvDim int) int {
	return int(C.lk_kv_bytes(C.int(typ), C.int64_t(capacity), C.int64_t(kvDim)))
}

// nativeKVStore writes tokens keys and values at positions start.. of a cache.
func nativeKVStore(level, typ int, kc, vc []byte, capacity, kvHeads, hd int, k, v []float32, start, tokens int) bool {
	return C.lk_kv_store(C.int(level), C.int(typ), bytePtr(kc), bytePtr(vc), C.int64_t(capacity), C.int64_t(kvHeads),
		C.int64_t(hd), floatPtr(k), floatPtr(v), C.int64_t(start), C.int64_t(tokens)) == 0
}

// nativeAttnJobs returns the number of attention jobs of a batch.
func nativeAttnJobs(tokens, heads, kvHeads int) int {
	return int(C.lk_attn_jobs(C.int64_t(tokens), C.int64_t(heads), C.int64_t(kvHeads)))
}

// nativeAttnScratch returns the floats of scratch one attention worker needs.
func nativeAttnScratch(heads, kvHeads, hd int) int {
	return int(C.lk_attn_scratch_floats(C.int64_t(heads), C.int64_t(kvHeads), C.int64_t(hd)))
}

// nativeAttention runs attention jobs [j0, j1) (nativeAttnJobs).
func nativeAttention(level, typ int, q []float32, kc, vc []byte, capacity int, out []float32, start, tokens, heads, kvHeads, hd int, scale float32, j0, j1 int, scratch []float32) bool {
	return C.lk_attention(C.int(level), C.int(typ), floatPtr(q), bytePtr(kc), bytePtr(vc), C.int64_t(capacity), floatPtr(out),
		C.int64_t(start), C.int64_t(tokens), C.int64_t(heads), C.int64_t(kvHeads), C.int64_t(hd), C.float(scale),
		C.int64_t(j0), C.int64_t(j1), floatPtr(scratch)) == 0
}

// nativeSwiGLU sets dst[i] = silu(gate[i])·up[i].
func nativeSwiGLU(level int, dst, gate, up []float32) bool {
	return C.lk_swiglu(C.int(level), floatPtr(dst), floatPtr(gate), floatPtr(up), C.int64_t(len(dst))) == 0
}

// nativePool is the C worker pool (pool.c): jobs run on threads the Go
// scheduler does not manage.
type nativePool struct {
	p    *C.lk_pool
	size int
}

// newNativePool starts a pool of threads participants (the caller is one);
// nil where the platform has none.
func newNativePool(threads int) *nativePool {
	p := C.lk_pool_new(C.int(threads))
	if p == nil {
		return nil
	}
	return &nativePool{p: p, size: int(C.lk_pool_size(p))}
}

// setStop raises or clears the pool's stop flag (any goroutine).
func (np *nativePool) setStop(stop bool) {
	v := 0
	if stop {
		v = 1
	}
	C.lk_pool_set_stop(np.p, C.int(v))
}

func (np *nativePool) close() {
	if np.p != nil {
		C.lk_pool_free(np.p)
		np.p = nil
	}
}

func (np *nativePool) matmul(level int, t gguf.TensorType, w []byte, rowBytes, k, rows int, act []byte, actStride, n int, dst []float32, dstStride int, scratch []byte, scratchStride, grain int) bool {
	return C.lk_pool_matmul(np.p, C.int(level), C.int(t), bytePtr(w), C.int64_t(rowBytes), C.int64_t(k), C.int64_t(rows),
		bytePtr(act), C.int64_t(actStride), C.int64_t(n), floatPtr(dst), C.int64_t(dstStride), bytePtr(scratch),
		C.int64_t(scratchStride), C.int64_t(grain)) == 0
}

func (np *nativePool) quantize(level, kind, off int, x []float32, k, n int, out []byte) int {
	return int(C.lk_pool_quantize(np.p, C.int(level), C.int(kind), C.int(off), floatPtr(x), C.int64_t(k), C.int64_t(n), bytePtr(out)))
}

func (np *nativePool) attention(level, typ int, q []float32, kc, vc []byte, capacity int, out []float32, start, tokens, heads, kvHeads, hd int, scale float32, scratch []float32, scratchStride int) bool {
	return C.lk_pool_attention(np.p, C.int(level), C.int(typ), floatPtr(q), bytePtr(kc), bytePtr(vc), C.int64_t(capacity),
		floatPtr(out), C.int64_t(start), C.int64_t(tokens), C.int64_t(heads), C.int64_t(kvHeads), C.int64_t(hd), C.float(scale),
		floatPtr(scratch), C.int64_t(scratchStride)) == 0
}

func (np *nativePool) swiglu(level int, dst, gate, up []float32) {
	C.lk_pool_swiglu(np.p, C.int(level), floatPtr(dst), floatPtr(gate), floatPtr(up), C.int64_t(len(dst)))
}
