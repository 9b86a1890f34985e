package quant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// K-quant super-block layouts: 256 elements a block, little-endian.
//
//   Q2_K (84 bytes):  [0:16] scales: byte i is sub-block i (16 elements):
//                     low nibble scale, high nibble min · [16:80] qs: 2-bit
//                     quants, see below · [80:82] d fp16 · [82:84] dmin fp16.
//                     value = d·scale·q - dmin·min
//   Q3_K (110 bytes): [0:32] hmask: bit k of byte l is the high bit of
//                     element 32k+l · [32:96] qs: low 2 bits, as in Q2_K ·
//                     [96:108] sixteen 6-bit scales (see q3kScales) ·
//                     [108:110] d fp16. value = d·(scale-32)·(q - 4·!high)
//   Q4_K (144 bytes): [0:2] d fp16 · [2:4] dmin fp16 · [4:16] eight 6-bit
//                     scales and eight 6-bit mins (see scaleMinK4) ·
//                     [16:144] qs: byte 32c+l holds element 64c+l in its low
//                     nibble and 64c+32+l in its high nibble, c = 0…3.
//                     value = d·scale·q - dmin·min (sub-blocks of 32)
//   Q5_K (176 bytes): [0:2] d · [2:4] dmin · [4:16] scales as Q4_K ·
//                     [16:48] qh: bit k of byte l is the fifth bit of element
//                     32k+l · [48:176] qs as Q4_K. value as Q4_K.
//   Q6_K (210 bytes): [0:128] ql: low 4 bits · [128:192] qh: high 2 bits ·
//                     [192:208] scales int8, one per 16 elements ·
//                     [208:210] d fp16. value = d·scale·(q - 32); for half
//                     h = 0,1 and l = 0…31, with L = ql[64h:], H = qh[32h:]:
//                     element 128h+l    = L[l]&15    | (H[l]>>0&3)<<4
//                     element 128h+l+32 = L[l+32]&15 | (H[l]>>2&3)<<4
//                     element 128h+l+64 = L[l]>>4    | (H[l]>>4&3)<<4
//                     element 128h+l+96 = L[l+32]>>4 | (H[l]>>6&3)<<4
//   Q8_K (292 bytes): [0:4] d float32 · [4:260] qs int8 · [260:292] bsums:
//                     sixteen int16 sums of 16 consecutive qs. value = d·q
//
// Q2_K and Q3_K store their 2-bit quants alike: element 128h + 32k + l
// (h = 0,1; k = 0…3; l = 0…31) takes bits 2k, 2k+1 of qs[32h + l]. Their
// sixteen scales each cover 16 consecutive elements (element i: scale i/16).

const (
	q2KBytes = 84
	q3KBytes = 110
	q4KBytes = 144
	q5KBytes = 176
	q6KBytes = 210
	q8KBytes = 292
)

// scaleMinK4 unpacks the 6-bit scale and min of sub-block j (0…7) from the
// 12 packed bytes of Q4_K and Q5_K (get_scale_min_k4): sub-blocks 0…3 keep
// theirs in the low 6 bits of bytes j and j+4; sub-blocks 4…7 keep their low
// 4 bits in the nibbles of byte j+4 and their top 2 bits in the top bits of
// bytes j-4 (scale) and j (min).
func scaleMinK4(j int, q []byte) (scale, min uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xF | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// q3kScales unpacks Q3_K's sixteen 6-bit scales (still biased by 32): the
// low 4 bits of scale j are the low (j < 8) or high (j >= 8) nibble of byte
// j%8; its top 2 bits are bits 2(j/4), 2(j/4)+1 of byte 8 + j%4.
func q3kScales(sc []byte, out *[16]int32) {
	for j := 0; j < 16; j++ {
		var low byte
		if j < 8 {
			low = sc[j] & 0xF
		} else {
			low = sc[j-8] >> 4
		}
		high := (sc[8+j%4] >> (2 * uint(j/4))) & 3
		out[j] = int32(low | high<<4)
	}
}

// q8K returns the scale, quants and block sums of one Q8_K block.
func q8K(blk []byte) (d float32, qs []byte, bsums []byte) {
	return math.Float32frombits(binary.LittleEndian.Uint32(blk)), blk[4:260], blk[260:292]
}

func bsum(bsums []byte, j int) int32 {
	return int32(int16(binary.LittleEndian.Uint16(bsums[2*j:])))
}

func dequantizeQ2K(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QKK; b++ {
		blk := src[b*q2KBytes : (b+1)*q2KBytes]
		y := dst[b*QKK : (b+1)*QKK]
		scales, qs := blk[0:16], blk[16:80]
		d, dmin := fp16At(blk[80:]), fp16At(blk[82:])
		out, is := 0, 0
		for half := 0; half < 2; half++ {
			q := qs[32*half : 32*half+32]
			for shift := uint(0); shift < 8; shift += 2 {
				for part := 0; part < 2; part++ {
					sc := scales[is]
					is++
					dl := float32(d * float32(sc&0xF))
					ml := float32(dmin * float32(sc>>4))
					for l := 16 * part; l < 16*part+16; l++ {
						y[out] = float32(dl*float32((q[l]>>shift)&3)) - ml
						out++
					}
				}
			}
		}
	}
}

func dequantizeQ3K(src []byte, dst []float32) {
	var scales [16]int32
	for b := 0; b < len(dst)/QKK; b++ {
		blk := src[b*q3KBytes : (b+1)*q3KBytes]
		y := dst[b*QKK : (b+1)*QKK]
		hmask, qs := blk[0:32], blk[32:96]
		q3kScales(blk[96:108], &scales)
		dAll := fp16At(blk[108:])
		out, is := 0, 0
		m := byte(1)
		for half := 0; half < 2; half++ {
			q := qs[32*half : 32*half+32]
			for shift := uint(0); shift < 8; shift += 2 {
				for part := 0; part < 2; part++ {
					dl := float32(dAll * float32(scales[is]-32))
					is++
					for l := 16 * part; l < 16*part+16; l++ {
						v := int32((q[l] >> shift) & 3)
						if hmask[l]&m == 0 {
							v -= 4
						}
						y[out] = dl * float32(v)
						out++
					}
				}
				m <<= 1
			}
		}
	}
}

func dequantizeQ4K(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QKK; b++ {
		blk := src[b*q4KBytes : (b+1)*q4KBytes]
		y := dst[b*QKK : (b+1)*QKK]
		d, dmin := fp16At(blk[0:]), fp16At(blk[2:])
		scales, qs := blk[4:16], blk[16:144]
		for c := 0; c < 4; c++ {
			q := qs[32*c : 32*c+32]
			sc, mn := scaleMinK4(2*c, scales)
			d1, m1 := float32(d*float32(sc)), float32(dmin*float32(mn))
			sc, mn = scaleMinK4(2*c+1, scales)
			d2, m2 := float32(d*float32(sc)), float32(dmin*float32(mn))
			out := y[64*c : 64*c+64]
			for l := 0; l < 32; l++ {
				out[l] = float32(d1*float32(q[l]&0xF)) - m1
				out[32+l] = float32(d2*float32(q[l]>>4)) - m2
			}
		}
	}
}

func dequantizeQ5K(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QKK; b++ {
		blk := src[b*q5KBytes : (b+1)*q5KBytes]
		y := dst[b*QKK : (b+1)*QKK]
		d, dmin := fp16At(blk[0:]), fp16At(blk[2:])
		scales, qh, qs := blk[4:16], blk[16:48], blk[48:176]
		for c := 0; c < 4; c++ {
			ql := qs[32*c : 32*c+32]
			u1, u2 := byte(1)<<(2*c), byte(2)<<(2*c)
			sc, mn := scaleMinK4(2*c, scales)
			d1, m1 := float32(d*float32(sc)), float32(dmin*float32(mn))
			sc, mn = scaleMinK4(2*c+1, scales)
			d2, m2 := float32(d*float32(sc)), float32(dmin*float32(mn))
			out := y[64*c : 64*c+64]
			for l := 0; l < 32; l++ {
				lo := int32(ql[l] & 0xF)
				if qh[l]&u1 != 0 {
					lo += 16
				}
				hi := int32(ql[l] >> 4)
				if qh[l]&u2 != 0 {
					hi += 16
				}
				out[l] = float32(d1*float32(lo)) - m1
				out[32+l] = float32(d2*float32(hi)) - m2
			}
		}
	}
}

// q6KQuants writes the 256 signed 6-bit quants (q - 32) of one Q6_K block to a.
func q6KQuants(ql, qh []byte, a *[QKK]int8) {
	for h := 0; h < 2; h++ {
		L, H, o := ql[64*h:64*h+64], qh[32*h:32*h+32], 128*h
		for l := 0; l < 32; l++ {
			a[o+l] = int8(L[l]&0xF|(H[l]>>0&3)<<4) - 32
			a[o+l+32] = int8(L[l+32]&0xF|(H[l]>>2&3)<<4) - 32
			a[o+l+64] = int8(L[l]>>4|(H[l]>>4&3)<<4) - 32
			a[o+l+96] = int8(L[l+32]>>4|(H[l]>>6&3)<<4) - 32
		}
	}
}

func dequantizeQ6K(src []byte, dst []float32) {
	var a [QKK]int8
	for b := 0; b < len(dst)/QKK; b++ {
		blk := src[b*q6KBytes : (b+1)*q6KBytes]
		y := dst[b*QKK : (b+1)*QKK]
		q6KQuants(blk[0:128], blk[128:192], &a)
		sc := blk[192:208]
		d := fp16At(blk[208:])
		for i := range y {
			// Element i uses scale i/16, as ggml's sc[is + 0/2/4/6] does.
			y[i] = float32(d*float32(int8(sc[i/16]))) * float32(a[i])
		}
	}
}

func dequantizeQ8K(src []byte, dst []float32) {
	for b := 0; b < len(dst)/QKK; b++ {
		d, qs, _ := q8K(src[b*q8KBytes : (b+1)*q8KBytes])
		y := dst[b*QKK : (b+1)*QKK]
		for j, q := range qs {
			y[j] = d * float32(int8(q))
		}
	}
}

// nearestInt rounds as ggml's nearest_int (adding 1.5·2^23), valid for
// |v| <= 4194303.
func nearestInt(v float32) int32 {
	bits := math.Float32bits(float32(v + 12582912))
	return int32(bits&0x007fffff) - 0x00400000
}

// quantizeQ8K follows quantize_row_q8_K_ref; an all-zero block gets d = 0,
// zero quants and zero bsums.
func quantizeQ8K(src []float32, dst []byte) error {
	for b := 0; b < len(src)/QKK; b++ {
		x := src[b*QKK : (b+1)*QKK]
		y := dst[b*q8KBytes : (b+1)*q8KBytes]
		var max, amax float32
		for j, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%w %v at element %d", ErrNonFinite, v, b*QKK+j)
			}
			if ax := float32(math.Abs(float64(v))); ax > amax {
				amax, max = ax, v
			}
		}
		if amax == 0 {
			clear(y)
			continue
		}
		iscale := -127 / max
		qs := y[4:260]
		for j, v := range x {
			q := nearestInt(float32(iscale * v))
			if q > 127 {
				q = 127
			}
			qs[j] = byte(int8(q))
		}
		for j := 0; j < QKK/16; j++ {
			var sum int32
			for _, q := range qs[16*j : 16*j+16] {
				sum += int32(int8(q))
			}
			binary.LittleEndian.PutUint16(y[260+2*j:], uint16(int16(sum)))
		}
		binary.LittleEndian.PutUint32(y[0:], math.Float32bits(1/iscale))
	}
	return nil
}

// vecDotQ2K follows ggml_vec_dot_q2_K_q8_K_generic.
func vecDotQ2K(w, x []byte) float32 {
	var sumf float32
	for b := 0; b < len(w)/q2KBytes; b++ {
		wb := w[b*q2KBytes : (b+1)*q2KBytes]
		yd, q8, bsums := q8K(x[b*q8KBytes : (b+1)*q8KBytes])
		sc, q2 := wb[0:16], wb[16:80]

		var summs int32
		for j := 0; j < 16; j++ {
			summs += bsum(bsums, j) * int32(sc[j]>>4)
		}
		dall := float32(yd * fp16At(wb[80:]))
		dmin := float32(yd * fp16At(wb[82:]))

		var isum int32
		is, o := 0, 0
		for half := 0; half < 2; half++ {
			q := q2[32*half : 32*half+32]
			for shift := uint(0); shift < 8; shift += 2 {
				d := int32(sc[is] & 0xF)
				is++
				var isuml int32
				for l := 0; l < 16; l++ {
					isuml += int32(int8(q8[o+l])) * int32((q[l]>>shift)&3)
				}
				isum += d * isuml
				d = int32(sc[is] & 0xF)
				is++
				isuml = 0
				for l := 16; l < 32; l++ {
					isuml += int32(int8(q8[o+l])) * int32((q[l]>>shift)&3)
				}
				isum += d * isuml
				o += 32
			}
		}
		sumf += float32(float32(dall*float32(isum)) - float32(dmin*float32(summs)))
	}
	return sumf
}

// accumulate8 adds scale·(q8·a) over one group of 16 elements into the eight
// int32 lanes of aux32, with the int16 intermediate of ggml's generic code.
func accumulate8(aux32 *[8]int32, scale int32, q8 []byte, a []int8) {
	for l := 0; l < 8; l++ {
		aux32[l] += scale * int32(int16(int32(int8(q8[l]))*int32(a[l])))
	}
	for l := 0; l < 8; l++ {
		aux32[l] += scale * int32(int16(int32(int8(q8[8+l]))*int32(a[8+l])))
	}
}

// vecDotQ3K follows ggml_vec_dot_q3_K_q8_K_generic.
func vecDotQ3K(w, x []byte) float32 {
	var a [QKK]int8
	var scales [16]int32
	var sums [8]float32
	for b := 0; b < len(w)/q3KBytes; b++ {
		wb := w[b*q3KBytes : (b+1)*q3KBytes]
		yd, q8, _ := q8K(x[b*q8KBytes : (b+1)*q8KBytes])
		hm, q3 := wb[0:32], wb[32:96]
		o := 0
		m := byte(1)
		for half := 0; half < 2; half++ {
			q := q3[32*half : 32*half+32]
			for shift := uint(0); shift < 8; shift += 2 {
				for l := 0; l < 32; l++ {
					v := int8((q[l] >> shift) & 3)
					if hm[l]&m == 0 {
						v -= 4
					}
					a[o+l] = v
				}
				o += 32
				m <<= 1
			}
		}
		q3kScales(wb[96:108], &scales)
		var aux32 [8]int32
		for j := 0; j < QKK/16; j++ {
			accumulate8(&aux32, scales[j]-32, q8[16*j:16*j+16], a[16*j:16*j+16])
		}
		d := float32(fp16At(wb[108:]) * yd)
		for l := range sums {
			sums[l] += float32(d * float32(aux32[l]))
		}
	}
	var sumf float32
	for _, s := range sums {
		sumf += s
	}
	return sumf
}

// vecDotQ45K is the shared body of the Q4_K and Q5_K dot products
// (ggml_vec_dot_q4_K_q8_K_generic, ggml_vec_dot_q5_K_q8_K_generic); fifth
// says whether the blocks are Q5_K (with high bits) rather than Q4_K.
func vecDotQ45K(w, x []byte, fifth bool) float32 {
	blockBytes := q4KBytes
	if fifth {
		blockBytes = q5KBytes
	}
	var a [QKK]int8
	var sums [8]float32
	var sumf float32
	for b := 0; b < len(w)/blockBytes; b++ {
		wb := w[b*blockBytes : (b+1)*blockBytes]
		yd, q8, bsums := q8K(x[b*q8KBytes : (b+1)*q8KBytes])
		if fifth {
			q5KQuants(wb, &a)
		} else {
			q4KQuants(wb, &a)
		}
		var scales, mins [8]int32
		for j := 0; j < 8; j++ {
			sc, mn := scaleMinK4(j, wb[4:16])
			scales[j], mins[j] = int32(sc), int32(mn)
		}
		var sumi int32
		for j := 0; j < QKK/16; j++ {
			sumi += bsum(bsums, j) * mins[j/2]
		}
		var aux32 [8]int32
		for j := 0; j < QKK/32; j++ {
			accumulate8(&aux32, scales[j], q8[32*j:32*j+16], a[32*j:32*j+16])
			accumulate8(&aux32, scales[j], q8[32*j+16:32*j+32], a[32*j+16:32*j+32])
		}
		d := float32(fp16At(wb[0:]) * yd)
		for l := range sums {
			sums[l] += float32(d * float32(aux32[l]))
		}
		dmin := float32(fp16At(wb[2:]) * yd)
		sumf -= float32(dmin * float32(sumi))
	}
	for _, s := range sums {
		sumf += s
	}
	return sumf
}

func q4KQuants(wb []byte, a *[QKK]int8) {
	qs := wb[16:144]
	for c := 0; c < 4; c++ {
		q := qs[32*c : 32*c+32]
		for l := 0; l < 32; l++ {
			a[64*c+l] = int8(q[l] & 0xF)
			a[64*c+32+l] = int8(q[l] >> 4)
		}
	}
}

func q5KQuants(wb []byte, a *[QKK]int8) {
	qh, qs := wb[16:48], wb[48:176]
	for c := 0; c < 4; c++ {
		q := qs[32*c : 32*c+32]
		u1, u2 := byte(1)<<(2*c), byte(2)<<(2*c)
		for l := 0; l < 32; l++ {
			lo, hi := int8(q[l]&0xF), int8(q[l]>>4)
			if qh[l]&u1 != 0 {
				lo += 16
			}
			if qh[l]&u2 != 0 {
				hi += 16
			}
			a[64*c+l], a[64*c+32+l] = lo, hi
		}
	}
}

func vecDotQ4K(w, x []byte) float32 { return vecDotQ45K(w, x, false) }

func vecDotQ5K(w, x []byte) float32 { return vecDotQ45K(w, x, true) }

// vecDotQ6K follows ggml_vec_dot_q6_K_q8_K_generic.
func vecDotQ6K(w, x []byte) float32 {
	var a [QKK]int8
	var sums [8]float32
	for b := 0; b < len(w)/q6KBytes; b++ {
		wb := w[b*q6KBytes : (b+1)*q6KBytes]
		yd, q8, _ := q8K(x[b*q8KBytes : (b+1)*q8KBytes])
		q6KQuants(wb[0:128], wb[128:192], &a)
		sc := wb[192:208]
		var aux32 [8]int32
		for j := 0; j < QKK/16; j++ {
			accumulate8(&aux32, int32(int8(sc[j])), q8[16*j:16*j+16], a[16*j:16*j+16])
		}
		d := float32(fp16At(wb[208:]) * yd)
		for l := range sums {
			sums[l] += float32(d * float32(aux32[l]))
		}
	}
	var sumf float32
	for _, s := range sums {
		sumf += s
	}
	return sumf
}
