package quant

import (
	"math"
	"testing"
)

// decodeHalf decodes IEEE binary16 independently of FP16ToFP32, in float64.
func decodeHalf(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1F
	mant := float64(h & 0x3FF)
	switch exp {
	case 0:
		return sign * math.Ldexp(mant, -24)
	case 31:
		if mant != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1024+mant, exp-25)
}

func TestFP16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := FP16ToFP32(h)
		want := decodeHalf(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(f)) {
				t.Fatalf("FP16ToFP32(%#04x) = %v, want NaN", h, f)
			}
			if got, wantNaN := FP32ToFP16(f), h&0x8000|0x7E00; got != wantNaN {
				t.Fatalf("FP32ToFP16(NaN from %#04x) = %#04x, want %#04x", h, got, wantNaN)
			}
			continue
		}
		if float64(f) != want || math.Signbit(float64(f)) != (h&0x8000 != 0) {
			t.Fatalf("FP16ToFP32(%#04x) = %v, want %v", h, f, want)
		}
		if back := FP32ToFP16(f); back != h {
			t.Fatalf("FP32ToFP16(FP16ToFP32(%#04x)) = %#04x", h, back)
		}
	}
}

func TestFP32ToFP16Rounding(t *testing.T) {
	tests := []struct {
		name string
		in   float32
		want uint16
	}{
		{"one", 1, 0x3C00},
		{"minus two", -2, 0xC000},
		{"zero", 0, 0x0000},
		{"minus zero", float32(math.Copysign(0, -1)), 0x8000},
		{"one tenth", 0.1, 0x2E66},
		{"tie rounds down to even", 1 + 0x1p-11, 0x3C00},
		{"tie rounds up to even", 1 + 3*0x1p-11, 0x3C02},
		{"just above tie", 1 + 0x1p-11 + 0x1p-20, 0x3C01},
		{"just below tie", 1 + 0x1p-11 - 0x1p-22, 0x3C00},
		{"largest finite", 65504, 0x7BFF},
		{"below overflow tie", 65519.996, 0x7BFF},
		{"overflow tie goes to inf", 65520, 0x7C00},
		{"huge", 1e10, 0x7C00},
		{"minus huge", -1e10, 0xFC00},
		{"inf", float32(math.Inf(1)), 0x7C00},
		{"minus inf", float32(math.Inf(-1)), 0xFC00},
		{"nan", float32(math.NaN()), 0x7E00},
		{"minus nan", math.Float32frombits(0xFFC00001), 0xFE00},
		{"smallest normal", 0x1p-14, 0x0400},
		{"largest subnormal", 1023 * 0x1p-24, 0x03FF},
		{"smallest subnormal", 0x1p-24, 0x0001},
		{"subnormal tie to zero", 0x1p-25, 0x0000},
		{"subnormal above tie", 0x1p-25 + 0x1p-40, 0x0001},
		{"subnormal tie up to even", 3 * 0x1p-25, 0x0002},
		{"subnormal tie down to even", 5 * 0x1p-25, 0x0002},
		{"subnormal rounds to normal", 0x1p-14 - 0x1p-26, 0x0400},
		{"underflow", 1e-30, 0x0000},
		{"minus underflow", -1e-30, 0x8000},
	}
	for _, tt := range tests {
		if got := FP32ToFP16(tt.in); got != tt.want {
			t.Errorf("%s: FP32ToFP16(%g) = %#04x, want %#04x", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestBF16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := BF16ToFP32(h)
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("BF16ToFP32(%#04x) bits = %#08x", h, math.Float32bits(f))
		}
		back := FP32ToBF16(f)
		if math.IsNaN(float64(f)) {
			if back != h|64 {
				t.Fatalf("FP32ToBF16(NaN %#04x) = %#04x, want quiet %#04x", h, back, h|64)
			}
			continue
		}
		if back != h {
			t.Fatalf("FP32ToBF16(BF16ToFP32(%#04x)) = %#04x", h, back)
		}
	}
}

func TestFP32ToBF16Rounding(t *testing.T) {
	tests := []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"one", 0x3F800000, 0x3F80},
		{"tie rounds down to even", 0x3F808000, 0x3F80},
		{"tie rounds up to even", 0x3F818000, 0x3F82},
		{"above tie", 0x3F808001, 0x3F81},
		{"below tie", 0x3F807FFF, 0x3F80},
		{"max float rounds to inf", 0x7F7FFFFF, 0x7F80},
		{"inf", 0x7F800000, 0x7F80},
		{"minus inf", 0xFF800000, 0xFF80},
		{"signaling nan made quiet", 0x7F800001, 0x7FC0},
		{"minus quiet nan", 0xFFC12345, 0xFFC1},
		{"subnormal", 0x00010000, 0x0001},
		{"subnormal tie to even zero", 0x00008000, 0x0000},
		{"subnormal tie up to even", 0x00018000, 0x0002},
		{"minus zero", 0x80000000, 0x8000},
	}
	for _, tt := range tests {
		if got := FP32ToBF16(math.Float32frombits(tt.in)); got != tt.want {
			t.Errorf("%s: FP32ToBF16(%#08x) = %#04x, want %#04x", tt.name, tt.in, got, tt.want)
		}
	}
}
