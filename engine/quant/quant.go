// Package quant holds ggml's tensor block layouts: dequantization of weight
// rows, quantization of activation rows, and scalar reference dot products
// between a quantized weight row and a quantized activation row.
//
// Every function follows ggml's reference C (ggml-quants.c and the generic
// code of ggml-cpu) operation by operation, including fp16 rounding, roundf
// and nearest_int, so that results are bit-for-bit those of the reference.
// Each floating-point operation is rounded to float32 on its own (explicit
// conversions keep the Go compiler from fusing a multiply and an add), which
// is the C abstract machine's semantics. These functions are the correctness
// oracle for faster (SIMD) kernels.
package quant

import (
	"errors"
	"fmt"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// Sentinel errors, wrapped with context by the functions of this package.
var (
	// ErrUnsupportedType reports a tensor type the requested operation does not handle.
	ErrUnsupportedType = errors.New("unsupported tensor type")
	// ErrSize reports a row length or buffer size that does not fit the type's block layout.
	ErrSize = errors.New("bad size")
	// ErrNonFinite reports a NaN or infinite input value where a quantizer cannot represent it.
	ErrNonFinite = errors.New("non-finite value")
)

// QK is the number of elements in one block of the legacy types (Q4_0 … Q8_1).
const QK = 32

// QKK is the number of elements in one super-block of the K-quant types (Q2_K … Q8_K).
const QKK = 256

// checkRow verifies that n elements of typ fit a whole number of blocks
// and take exactly have bytes.
func checkRow(typ gguf.TensorType, n, have int) error {
	if n < 0 {
		return fmt.Errorf("%w: negative length %d", ErrSize, n)
	}
	if bs := typ.BlockSize(); n%bs != 0 {
		return fmt.Errorf("%w: %d elements is not a whole number of %s blocks of %d", ErrSize, n, typ, bs)
	}
	if want := typ.RowBytes(n); have != want {
		return fmt.Errorf("%w: %d elements of %s take %d bytes, got %d", ErrSize, n, typ, want, have)
	}
	return nil
}

// Dequantize decodes len(dst) elements of type typ from src (exactly
// typ.RowBytes(len(dst)) bytes). It supports F32, F16, BF16, Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and Q8_K. For Q8_1 the
// stored sum is ignored (values are d·q).
func Dequantize(typ gguf.TensorType, src []byte, dst []float32) error {
	if !canDequantize(typ) {
		return fmt.Errorf("dequantize %s: %w", typ, ErrUnsupportedType)
	}
	if err := checkRow(typ, len(dst), len(src)); err != nil {
		return fmt.Errorf("dequantize %s: %w", typ, err)
	}
	switch typ {
	case gguf.TypeF32:
		dequantizeF32(src, dst)
	case gguf.TypeF16:
		dequantizeF16(src, dst)
	case gguf.TypeBF16:
		dequantizeBF16(src, dst)
	case gguf.TypeQ4_0:
		dequantizeQ4_0(src, dst)
	case gguf.TypeQ4_1:
		dequantizeQ4_1(src, dst)
	case gguf.TypeQ5_0:
		dequantizeQ5_0(src, dst)
	case gguf.TypeQ5_1:
		dequantizeQ5_1(src, dst)
	case gguf.TypeQ8_0:
		dequantizeQ8_0(src, dst)
	case gguf.TypeQ8_1:
		dequantizeQ8_1(src, dst)
	case gguf.TypeQ2_K:
		dequantizeQ2K(src, dst)
	case gguf.TypeQ3_K:
		dequantizeQ3K(src, dst)
	case gguf.TypeQ4_K:
		dequantizeQ4K(src, dst)
	case gguf.TypeQ5_K:
		dequantizeQ5K(src, dst)
	case gguf.TypeQ6_K:
		dequantizeQ6K(src, dst)
	case gguf.TypeQ8_K:
		dequantizeQ8K(src, dst)
	}
	return nil
}

func canDequantize(typ gguf.TensorType) bool {
	switch typ {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16,
		gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ8_0, gguf.TypeQ8_1,
		gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeQ8_K:
		return true
	}
	return false
}

// VecDotType returns the type activations are quantized to before a dot
// product with a weight of type typ, as ggml-cpu's type traits say:
// Q4_0, Q5_0, Q8_0 → Q8_0; Q4_1, Q5_1 → Q8_1; Q2_K … Q6_K → Q8_K;
// F16 → F16; BF16 → BF16; F32 → F32. For a type without a dot product
// (see HasVecDot) it returns typ itself.
func VecDotType(typ gguf.TensorType) gguf.TensorType {
	switch typ {
	case gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ8_0:
		return gguf.TypeQ8_0
	case gguf.TypeQ4_1, gguf.TypeQ5_1:
		return gguf.TypeQ8_1
	case gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K:
		return gguf.TypeQ8_K
	}
	return typ
}

// HasVecDot reports whether VecDot handles weights of type typ: F32, F16,
// BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K.
func HasVecDot(typ gguf.TensorType) bool {
	switch typ {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16,
		gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ8_0,
		gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K:
		return true
	}
	return false
}

// Quantize encodes src into dst (exactly typ.RowBytes(len(src)) bytes) for
// the activation types Q8_0, Q8_1, Q8_K, F16, BF16 and F32, with ggml's
// reference quantizers (quantize_row_*_ref; Q8_K fills bsums). The integer
// quantizers reject NaN and infinite inputs with ErrNonFinite, where ggml's
// result would be undefined.
func Quantize(typ gguf.TensorType, src []float32, dst []byte) error {
	if !isActivationType(typ) {
		return fmt.Errorf("quantize %s: %w", typ, ErrUnsupportedType)
	}
	if err := checkRow(typ, len(src), len(dst)); err != nil {
		return fmt.Errorf("quantize %s: %w", typ, err)
	}
	var err error
	switch typ {
	case gguf.TypeF32:
		quantizeF32(src, dst)
	case gguf.TypeF16:
		quantizeF16(src, dst)
	case gguf.TypeBF16:
		quantizeBF16(src, dst)
	case gguf.TypeQ8_0:
		err = quantizeQ8_0(src, dst)
	case gguf.TypeQ8_1:
		err = quantizeQ8_1(src, dst)
	case gguf.TypeQ8_K:
		err = quantizeQ8K(src, dst)
	}
	if err != nil {
		return fmt.Errorf("quantize %s: %w", typ, err)
	}
	return nil
}

// isActivationType reports whether Quantize handles typ.
func isActivationType(typ gguf.TensorType) bool {
	switch typ {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ8_1, gguf.TypeQ8_K:
		return true
	}
	return false
}

// VecDot returns the dot product of one weight row w (type typ, n elements)
// with an activation row x already quantized to VecDotType(typ), computed
// as ggml's scalar reference does.
//
// VecDot is an inner kernel and returns no error: an unsupported type (see
// HasVecDot), an n that is not a whole number of blocks, or a w or x whose
// length is not exactly the row size of n elements is a programming error
// and panics with a message saying which.
func VecDot(typ gguf.TensorType, n int, w, x []byte) float32 {
	if !HasVecDot(typ) {
		panic(fmt.Sprintf("quant.VecDot: %s weights: %v", typ, ErrUnsupportedType))
	}
	if err := checkRow(typ, n, len(w)); err != nil {
		panic(fmt.Sprintf("quant.VecDot: %s weight row: %v", typ, err))
	}
	xt := VecDotType(typ)
	if err := checkRow(xt, n, len(x)); err != nil {
		panic(fmt.Sprintf("quant.VecDot: %s activation row for %s weights: %v", xt, typ, err))
	}
	switch typ {
	case gguf.TypeF32:
		return vecDotF32(w, x)
	case gguf.TypeF16:
		return vecDotF16(w, x)
	case gguf.TypeBF16:
		return vecDotBF16(w, x)
	case gguf.TypeQ4_0:
		return vecDotQ4_0(w, x)
	case gguf.TypeQ4_1:
		return vecDotQ4_1(w, x)
	case gguf.TypeQ5_0:
		return vecDotQ5_0(w, x)
	case gguf.TypeQ5_1:
		return vecDotQ5_1(w, x)
	case gguf.TypeQ8_0:
		return vecDotQ8_0(w, x)
	case gguf.TypeQ2_K:
		return vecDotQ2K(w, x)
	case gguf.TypeQ3_K:
		return vecDotQ3K(w, x)
	case gguf.TypeQ4_K:
		return vecDotQ4K(w, x)
	case gguf.TypeQ5_K:
		return vecDotQ5K(w, x)
	case gguf.TypeQ6_K:
		return vecDotQ6K(w, x)
	}
	panic("unreachable")
}
