package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// RandomBlocks fills dst (a whole number of blocks of typ) with valid random
// blocks whose scales are sane: values lie within about [-1, 1] after
// dequantization and no fp16 scale is NaN, infinite or negative. Int8 quants
// (Q8_0, Q8_1, Q8_K) stay within [-127, 127] as ggml's quantizers produce
// them, and Q8_1's s and Q8_K's bsums agree with the quants. It is meant for
// benchmark models and kernel tests; an unsupported type or a length that is
// not a whole number of blocks is a programming error and panics.
func RandomBlocks(typ gguf.TensorType, dst []byte, rng *rand.Rand) {
	if !canDequantize(typ) {
		panic(fmt.Sprintf("quant.RandomBlocks: %s: %v", typ, ErrUnsupportedType))
	}
	bb := typ.BlockBytes()
	if len(dst)%bb != 0 {
		panic(fmt.Sprintf("quant.RandomBlocks: %s: %v: %d bytes is not a whole number of %d-byte blocks", typ, ErrSize, len(dst), bb))
	}
	for off := 0; off < len(dst); off += bb {
		randomBlock(typ, dst[off:off+bb], rng)
	}
}

// randomScale returns a fp16 scale drawn uniformly from [max/2, max).
func randomScale(rng *rand.Rand, max float32) uint16 {
	return FP32ToFP16(max * (0.5 + 0.5*rng.Float32()))
}

func randomBytes(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// randomInt8s fills b with int8 values in [-127, 127] and returns their sum.
func randomInt8s(rng *rand.Rand, b []byte) int32 {
	var sum int32
	for i := range b {
		q := int32(rng.IntN(255)) - 127
		b[i] = byte(int8(q))
		sum += q
	}
	return sum
}

func putFP16(b []byte, h uint16) { binary.LittleEndian.PutUint16(b, h) }

func randomBlock(typ gguf.TensorType, blk []byte, rng *rand.Rand) {
	uniform := func() float32 { return 2*rng.Float32() - 1 }
	switch typ {
	case gguf.TypeF32:
		binary.LittleEndian.PutUint32(blk, math.Float32bits(uniform()))
	case gguf.TypeF16:
		putFP16(blk, FP32ToFP16(uniform()))
	case gguf.TypeBF16:
		putFP16(blk, FP32ToBF16(uniform()))
	case gguf.TypeQ4_0: // |q-8| <= 8
		randomBytes(rng, blk)
		putFP16(blk[0:], randomScale(rng, 1.0/8))
	case gguf.TypeQ4_1: // q in 0…15, m centres the range
		randomBytes(rng, blk)
		d := randomScale(rng, 2.0/15)
		putFP16(blk[0:], d)
		putFP16(blk[2:], FP32ToFP16(-7.5*FP16ToFP32(d)))
	case gguf.TypeQ5_0: // |q-16| <= 16
		randomBytes(rng, blk)
		putFP16(blk[0:], randomScale(rng, 1.0/16))
	case gguf.TypeQ5_1: // q in 0…31
		randomBytes(rng, blk)
		d := randomScale(rng, 2.0/31)
		putFP16(blk[0:], d)
		putFP16(blk[2:], FP32ToFP16(-15.5*FP16ToFP32(d)))
	case gguf.TypeQ8_0:
		putFP16(blk[0:], randomScale(rng, 1.0/127))
		randomInt8s(rng, blk[2:34])
	case gguf.TypeQ8_1:
		d := randomScale(rng, 1.0/127)
		putFP16(blk[0:], d)
		sum := randomInt8s(rng, blk[4:36])
		putFP16(blk[2:], FP32ToFP16(float32(float32(sum)*FP16ToFP32(d))))
	case gguf.TypeQ2_K: // scale·q <= 45, min <= 15
		randomBytes(rng, blk)
		putFP16(blk[80:], randomScale(rng, 1.0/45))
		putFP16(blk[82:], randomScale(rng, 1.0/15))
	case gguf.TypeQ3_K: // |(scale-32)·q| <= 128
		randomBytes(rng, blk)
		putFP16(blk[108:], randomScale(rng, 1.0/128))
	case gguf.TypeQ4_K: // scale·q <= 63·15, min <= 63
		randomBytes(rng, blk)
		putFP16(blk[0:], randomScale(rng, 1.0/945))
		putFP16(blk[2:], randomScale(rng, 1.0/63))
	case gguf.TypeQ5_K: // scale·q <= 63·31, min <= 63
		randomBytes(rng, blk)
		putFP16(blk[0:], randomScale(rng, 1.0/1953))
		putFP16(blk[2:], randomScale(rng, 1.0/63))
	case gguf.TypeQ6_K: // |scale·(q-32)| <= 128·32
		randomBytes(rng, blk)
		putFP16(blk[208:], randomScale(rng, 1.0/4096))
	case gguf.TypeQ8_K:
		d := (1.0 / 127) * (0.5 + 0.5*rng.Float32())
		binary.LittleEndian.PutUint32(blk[0:], math.Float32bits(d))
		qs := blk[4:260]
		for j := 0; j < QKK/16; j++ {
			sum := randomInt8s(rng, qs[16*j:16*j+16])
			binary.LittleEndian.PutUint16(blk[260+2*j:], uint16(int16(sum)))
		}
	}
}
