package quant

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkVecDot measures the reference dot product per weight type; the
// reported bytes/s are weight bytes consumed.
func BenchmarkVecDot(b *testing.B) {
	const n = 4096
	rng := rand.New(rand.NewPCG(9, 10))
	x := randomActivations(rng, n)
	for _, typ := range vecDotTypes {
		b.Run(typ.String(), func(b *testing.B) {
			w := make([]byte, typ.RowBytes(n))
			RandomBlocks(typ, w, rng)
			xq := make([]byte, VecDotType(typ).RowBytes(n))
			if err := Quantize(VecDotType(typ), x, xq); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(w)))
			var sink float32
			for b.Loop() {
				sink += VecDot(typ, n, w, xq)
			}
			_ = sink
		})
	}
}

// BenchmarkDequantize measures decoding per type; bytes/s are source bytes.
func BenchmarkDequantize(b *testing.B) {
	const n = 4096
	rng := rand.New(rand.NewPCG(11, 12))
	dst := make([]float32, n)
	for _, typ := range allTypes {
		b.Run(typ.String(), func(b *testing.B) {
			src := make([]byte, typ.RowBytes(n))
			RandomBlocks(typ, src, rng)
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if err := Dequantize(typ, src, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQuantize measures activation quantization; bytes/s are float32
// input bytes.
func BenchmarkQuantize(b *testing.B) {
	const n = 4096
	rng := rand.New(rand.NewPCG(13, 14))
	x := randomActivations(rng, n)
	for _, typ := range allTypes {
		if !isActivationType(typ) {
			continue
		}
		b.Run(typ.String(), func(b *testing.B) {
			dst := make([]byte, typ.RowBytes(n))
			b.SetBytes(4 * n)
			for b.Loop() {
				if err := Quantize(typ, x, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
