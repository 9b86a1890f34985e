package quant

import (
	"errors"
	"math"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// fuzzType maps a fuzzer byte to a tensor type: mostly supported ones, with
// some unknown and unsupported values mixed in.
func fuzzType(sel uint8) gguf.TensorType {
	if int(sel) < 2*len(allTypes) {
		return allTypes[int(sel)%len(allTypes)]
	}
	return gguf.TensorType(sel - uint8(2*len(allTypes)))
}

// FuzzDequantize feeds random types, lengths and bytes to Dequantize (and,
// where the row is valid, to VecDot and Quantize): none may panic, and
// Dequantize must succeed exactly when the sizes fit.
func FuzzDequantize(f *testing.F) {
	f.Add(uint8(0), uint16(0), []byte{})
	f.Add(uint8(5), uint16(32), make([]byte, 18))
	f.Add(uint8(12), uint16(0), make([]byte, 210))
	f.Add(uint8(40), uint16(7), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, sel uint8, n16 uint16, data []byte) {
		typ := fuzzType(sel)
		n := int(n16)
		if n == 0 && typ.Known() && typ.BlockBytes() > 0 {
			// Derive a fitting length half the time, so decoding really runs.
			n = len(data) / typ.BlockBytes() * typ.BlockSize()
		}
		dst := make([]float32, n)
		err := Dequantize(typ, data, dst)
		fits := canDequantize(typ) && n%typ.BlockSize() == 0 && len(data) == typ.RowBytes(n)
		if fits != (err == nil) {
			t.Fatalf("Dequantize(%s, %d bytes, %d elements): error %v, sizes fit: %v", typ, len(data), n, err, fits)
		}
		if err != nil {
			if !errors.Is(err, ErrSize) && !errors.Is(err, ErrUnsupportedType) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if HasVecDot(typ) {
			xt := VecDotType(typ)
			x := make([]byte, xt.RowBytes(n))
			copy(x, data)
			_ = VecDot(typ, n, data, x)
		}
		if q := make([]byte, typ.RowBytes(n)); Quantize(typ, dst, q) != nil {
			for _, v := range dst {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return // only non-finite input may be refused, for integer types
				}
			}
			if isActivationType(typ) {
				t.Fatalf("Quantize %s refused finite values", typ)
			}
		}
	})
}
