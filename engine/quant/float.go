package quant

import (
	"encoding/binary"
	"math"
)

// Float layouts (little-endian, one element per slot, no blocks):
//   F32:  4 bytes, IEEE 754 binary32.
//   F16:  2 bytes, IEEE 754 binary16.
//   BF16: 2 bytes, the upper half of a binary32 (bfloat16).

// FP16ToFP32 converts an IEEE binary16 value to float32 exactly, by ggml's
// method (ggml_compute_fp16_to_fp32: scale the shifted bits for normal
// values, a magic-number subtraction for subnormals).
func FP16ToFP32(h uint16) float32 {
	const expOffset = uint32(0xE0) << 23
	const expScale float32 = 0x1p-112
	const magicMask = uint32(126) << 23
	const magicBias float32 = 0.5
	const denormalizedCutoff = uint32(1) << 27

	w := uint32(h) << 16
	sign := w & 0x80000000
	twoW := w + w

	var bits uint32
	if twoW < denormalizedCutoff {
		denormalized := float32(math.Float32frombits((twoW>>17)|magicMask) - magicBias)
		bits = math.Float32bits(denormalized)
	} else {
		normalized := float32(math.Float32frombits((twoW>>4)+expOffset) * expScale)
		bits = math.Float32bits(normalized)
	}
	return math.Float32frombits(sign | bits)
}

// FP32ToFP16 converts a float32 to IEEE binary16 rounding to nearest, ties to
// even, by ggml's method (ggml_compute_fp32_to_fp16): overflow gives ±Inf,
// tiny values round to subnormals or ±0, and every NaN becomes the quiet NaN
// 0x7E00 with its sign.
func FP32ToFP16(f float32) uint16 {
	const scaleToInf float32 = 0x1p+112
	const scaleToZero float32 = 0x1p-110

	w := math.Float32bits(f)
	abs := math.Float32frombits(w &^ 0x80000000)
	base := float32(float32(abs*scaleToInf) * scaleToZero)

	shl1W := w + w
	sign := w & 0x80000000
	bias := shl1W & 0xFF000000
	if bias < 0x71000000 {
		bias = 0x71000000
	}
	base = float32(math.Float32frombits((bias>>1)+0x07800000) + base)
	bits := math.Float32bits(base)
	expBits := (bits >> 13) & 0x00007C00
	mantissaBits := bits & 0x00000FFF
	nonsign := expBits + mantissaBits
	if shl1W > 0xFF000000 {
		nonsign = 0x7E00
	}
	return uint16((sign >> 16) | nonsign)
}

// BF16ToFP32 converts a bfloat16 value to float32 exactly.
func BF16ToFP32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// FP32ToBF16 converts a float32 to bfloat16 as ggml does
// (ggml_compute_fp32_to_bf16): round to nearest, ties to even; a NaN keeps
// its upper bits and is made quiet.
func FP32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + ((u >> 16) & 1))) >> 16)
}

// fp16At decodes the little-endian binary16 at b[0:2].
func fp16At(b []byte) float32 {
	return FP16ToFP32(binary.LittleEndian.Uint16(b))
}

func dequantizeF32(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func dequantizeF16(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = FP16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func dequantizeBF16(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = BF16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func quantizeF32(src []float32, dst []byte) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func quantizeF16(src []float32, dst []byte) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToFP16(v))
	}
}

func quantizeBF16(src []float32, dst []byte) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToBF16(v))
	}
}

// vecDotF32 follows ggml_vec_dot_f32's scalar path: each product rounded to
// float32, accumulated in float64.
func vecDotF32(w, x []byte) float32 {
	var sum float64
	for i := 0; i+4 <= len(w); i += 4 {
		a := math.Float32frombits(binary.LittleEndian.Uint32(w[i:]))
		b := math.Float32frombits(binary.LittleEndian.Uint32(x[i:]))
		sum += float64(float32(a * b))
	}
	return float32(sum)
}

// vecDotF16 follows ggml_vec_dot_f16's scalar path.
func vecDotF16(w, x []byte) float32 {
	var sum float64
	for i := 0; i+2 <= len(w); i += 2 {
		a := FP16ToFP32(binary.LittleEndian.Uint16(w[i:]))
		b := FP16ToFP32(binary.LittleEndian.Uint16(x[i:]))
		sum += float64(float32(a * b))
	}
	return float32(sum)
}

// vecDotBF16 follows ggml_vec_dot_bf16's scalar path.
func vecDotBF16(w, x []byte) float32 {
	var sum float64
	for i := 0; i+2 <= len(w); i += 2 {
		a := BF16ToFP32(binary.LittleEndian.Uint16(w[i:]))
		b := BF16ToFP32(binary.LittleEndian.Uint16(x[i:]))
		sum += float64(float32(a * b))
	}
	return float32(sum)
}
