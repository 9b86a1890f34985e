package quant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Legacy block layouts: 32 elements a block, little-endian fp16 scales.
//
//   Q4_0 (18 bytes): [0:2] d fp16 · [2:18] qs: byte j holds element j in its
//                    low nibble and element j+16 in its high nibble.
//                    value = (q - 8)·d
//   Q4_1 (20 bytes): [0:2] d fp16 · [2:4] m fp16 · [4:20] qs as in Q4_0.
//                    value = q·d + m
//   Q5_0 (22 bytes): [0:2] d fp16 · [2:6] qh uint32: bit j is the fifth bit
//                    of element j · [6:22] qs as in Q4_0 (low four bits).
//                    value = (q - 16)·d
//   Q5_1 (24 bytes): [0:2] d fp16 · [2:4] m fp16 · [4:8] qh · [8:24] qs.
//                    value = q·d + m
//   Q8_0 (34 bytes): [0:2] d fp16 · [2:34] qs int8. value = q·d
//   Q8_1 (36 bytes): [0:2] d fp16 · [2:4] s fp16 = d·Σq · [4:36] qs int8.
//                    value = q·d

const (
	q4_0Bytes = 18
	q4_1Bytes = 20
	q5_0Bytes = 22
	q5_1Bytes = 24
	q8_0Bytes = 34
	q8_1Bytes = 36
)

func dequantizeQ4_0(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QK; b++ {
		blk := src[b*q4_0Bytes : (b+1)*q4_0Bytes]
		y := dst[b*QK : (b+1)*QK]
		d := fp16At(blk[0:])
		qs := blk[2:18]
		for j := 0; j < QK/2; j++ {
			x0 := int32(qs[j]&0x0F) - 8
			x1 := int32(qs[j]>>4) - 8
			y[j] = float32(x0) * d
			y[j+QK/2] = float32(x1) * d
		}
	}
}

func dequantizeQ4_1(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QK; b++ {
		blk := src[b*q4_1Bytes : (b+1)*q4_1Bytes]
		y := dst[b*QK : (b+1)*QK]
		d := fp16At(blk[0:])
		m := fp16At(blk[2:])
		qs := blk[4:20]
		for j := 0; j < QK/2; j++ {
			x0 := int32(qs[j] & 0x0F)
			x1 := int32(qs[j] >> 4)
			y[j] = float32(float32(x0)*d) + m
			y[j+QK/2] = float32(float32(x1)*d) + m
		}
	}
}

// q5Quants returns the two 5-bit quants stored for elements j and j+16.
func q5Quants(qh uint32, qs byte, j int) (int32, int32) {
	xh0 := byte((qh>>uint(j))<<4) & 0x10
	xh1 := byte(qh>>uint(j+12)) & 0x10
	return int32(qs&0x0F | xh0), int32(qs>>4 | xh1)
}

func dequantizeQ5_0(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QK; b++ {
		blk := src[b*q5_0Bytes : (b+1)*q5_0Bytes]
		y := dst[b*QK : (b+1)*QK]
		d := fp16At(blk[0:])
		qh := binary.LittleEndian.Uint32(blk[2:])
		qs := blk[6:22]
		for j := 0; j < QK/2; j++ {
			x0, x1 := q5Quants(qh, qs[j], j)
			y[j] = float32(x0-16) * d
			y[j+QK/2] = float32(x1-16) * d
		}
	}
}

func dequantizeQ5_1(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QK; b++ {
		blk := src[b*q5_1Bytes : (b+1)*q5_1Bytes]
		y := dst[b*QK : (b+1)*QK]
		d := fp16At(blk[0:])
		m := fp16At(blk[2:])
		qh := binary.LittleEndian.Uint32(blk[4:])
		qs := blk[8:24]
		for j := 0; j < QK/2; j++ {
			x0, x1 := q5Quants(qh, qs[j], j)
			y[j] = float32(float32(x0)*d) + m
			y[j+QK/2] = float32(float32(x1)*d) + m
		}
	}
}

func dequantizeQ8_0(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QK; b++ {
		blk := src[b*q8_0Bytes : (b+1)*q8_0Bytes]
		y := dst[b*QK : (b+1)*QK]
		d := fp16At(blk[0:])
		for j, q := range blk[2:34] {
			y[j] = float32(int8(q)) * d
		}
	}
}

func dequantizeQ8_1(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QK; b++ {
		blk := src[b*q8_1Bytes : (b+1)*q8_1Bytes]
		y := dst[b*QK : (b+1)*QK]
		d := fp16At(blk[0:])
		for j, q := range blk[4:36] {
			y[j] = float32(int8(q)) * d
		}
	}
}

// absMax returns the largest |v| of x, or ErrNonFinite naming the first NaN
// or infinity (at index offset+i of the row).
func absMax(x []float32, offset int) (float32, error) {
	var amax float32
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("%w %v at element %d", ErrNonFinite, v, offset+i)
		}
		if a := float32(math.Abs(float64(v))); a > amax {
			amax = a
		}
	}
	return amax, nil
}

// roundToInt8 rounds half away from zero, as C's roundf, and stores the
// result as int8. Only a degenerate block (a scale so small that its inverse
// overflows) gives values outside int8; they become 0, as ggml's conversion
// does on x86, where C leaves it undefined.
func roundToInt8(v float32) int8 {
	r := math.Round(float64(v))
	if !(r >= -128 && r <= 127) {
		return 0
	}
	return int8(r)
}

// quantizeQ8_0 follows quantize_row_q8_0_ref.
func quantizeQ8_0(src []float32, dst []byte) error {
	for b := 0; b < len(src)/QK; b++ {
		x := src[b*QK : (b+1)*QK]
		y := dst[b*q8_0Bytes : (b+1)*q8_0Bytes]
		amax, err := absMax(x, b*QK)
		if err != nil {
			return err
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y[0:], FP32ToFP16(d))
		for j, v := range x {
			y[2+j] = byte(roundToInt8(float32(v * id)))
		}
	}
	return nil
}

// quantizeQ8_1 follows quantize_row_q8_1_ref.
func quantizeQ8_1(src []float32, dst []byte) error {
	for b := 0; b < len(src)/QK; b++ {
		x := src[b*QK : (b+1)*QK]
		y := dst[b*q8_1Bytes : (b+1)*q8_1Bytes]
		amax, err := absMax(x, b*QK)
		if err != nil {
			return err
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y[0:], FP32ToFP16(d))
		var sum int32
		for j, v := range x {
			q := roundToInt8(float32(v * id))
			y[4+j] = byte(q)
			sum += int32(q)
		}
		binary.LittleEndian.PutUint16(y[2:], FP32ToFP16(float32(float32(sum)*d)))
	}
	return nil
}

// vecDotQ4_0 follows ggml_vec_dot_q4_0_q8_0_generic.
func vecDotQ4_0(w, x []byte) float32 {
	var sumf float32
	for b := 0; b < len(w)/q4_0Bytes; b++ {
		wb := w[b*q4_0Bytes : (b+1)*q4_0Bytes]
		xb := x[b*q8_0Bytes : (b+1)*q8_0Bytes]
		qs, q8 := wb[2:18], xb[2:34]
		var sumi0, sumi1 int32
		for j := 0; j < QK/2; j++ {
			v0 := int32(qs[j]&0x0F) - 8
			v1 := int32(qs[j]>>4) - 8
			sumi0 += v0 * int32(int8(q8[j]))
			sumi1 += v1 * int32(int8(q8[j+QK/2]))
		}
		sumi := sumi0 + sumi1
		sumf += float32(float32(float32(sumi)*fp16At(wb)) * fp16At(xb))
	}
	return sumf
}

// vecDotQ4_1 follows ggml_vec_dot_q4_1_q8_1_generic.
func vecDotQ4_1(w, x []byte) float32 {
	var sumf float32
	for b := 0; b < len(w)/q4_1Bytes; b++ {
		wb := w[b*q4_1Bytes : (b+1)*q4_1Bytes]
		xb := x[b*q8_1Bytes : (b+1)*q8_1Bytes]
		qs, q8 := wb[4:20], xb[4:36]
		var sumi0, sumi1 int32
		for j := 0; j < QK/2; j++ {
			v0 := int32(qs[j] & 0x0F)
			v1 := int32(qs[j] >> 4)
			sumi0 += v0 * int32(int8(q8[j]))
			sumi1 += v1 * int32(int8(q8[j+QK/2]))
		}
		sumi := sumi0 + sumi1
		scaled := float32(float32(fp16At(wb[0:])*fp16At(xb[0:])) * float32(sumi))
		offset := float32(fp16At(wb[2:]) * fp16At(xb[2:]))
		sumf += float32(scaled + offset)
	}
	return sumf
}

// vecDotQ5_0 follows ggml_vec_dot_q5_0_q8_0_generic.
func vecDotQ5_0(w, x []byte) float32 {
	var sumf float32
	for b := 0; b < len(w)/q5_0Bytes; b++ {
		wb := w[b*q5_0Bytes : (b+1)*q5_0Bytes]
		xb := x[b*q8_0Bytes : (b+1)*q8_0Bytes]
		qh := binary.LittleEndian.Uint32(wb[2:])
		qs, q8 := wb[6:22], xb[2:34]
		var sumi0, sumi1 int32
		for j := 0; j < QK/2; j++ {
			x0, x1 := q5Quants(qh, qs[j], j)
			sumi0 += (x0 - 16) * int32(int8(q8[j]))
			sumi1 += (x1 - 16) * int32(int8(q8[j+QK/2]))
		}
		sumi := sumi0 + sumi1
		sumf += float32(float32(fp16At(wb)*fp16At(xb)) * float32(sumi))
	}
	return sumf
}

// vecDotQ5_1 follows ggml_vec_dot_q5_1_q8_1_generic.
func vecDotQ5_1(w, x []byte) float32 {
	var sumf float32
	for b := 0; b < len(w)/q5_1Bytes; b++ {
		wb := w[b*q5_1Bytes : (b+1)*q5_1Bytes]
		xb := x[b*q8_1Bytes : (b+1)*q8_1Bytes]
		qh := binary.LittleEndian.Uint32(wb[4:])
		qs, q8 := wb[8:24], xb[4:36]
		var sumi0, sumi1 int32
		for j := 0; j < QK/2; j++ {
			x0, x1 := q5Quants(qh, qs[j], j)
			sumi0 += x0 * int32(int8(q8[j]))
			sumi1 += x1 * int32(int8(q8[j+QK/2]))
		}
		sumi := sumi0 + sumi1
		scaled := float32(float32(fp16At(wb[0:])*fp16At(xb[0:])) * float32(sumi))
		offset := float32(fp16At(wb[2:]) * fp16At(xb[2:]))
		sumf += float32(scaled + offset)
	}
	return sumf
}

// vecDotQ8_0 follows ggml_vec_dot_q8_0_q8_0_generic.
func vecDotQ8_0(w, x []byte) float32 {
	var sumf float32
	for b := 0; b < len(w)/q8_0Bytes; b++ {
		wb := w[b*q8_0Bytes : (b+1)*q8_0Bytes]
		xb := x[b*q8_0Bytes : (b+1)*q8_0Bytes]
		var sumi int32
		for j := 2; j < q8_0Bytes; j++ {
			sumi += int32(int8(wb[j])) * int32(int8(xb[j]))
		}
		sumf += float32(float32(sumi) * float32(fp16At(wb)*fp16At(xb)))
	}
	return sumf
}
