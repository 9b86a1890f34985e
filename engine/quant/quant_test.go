// Why one long file: the hand-built blocks, round trips, rounding and
// misuse checks of every quantization type share its helpers and tables.

package quant

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// vecDotTypes are the weight types VecDot handles.
var vecDotTypes = []gguf.TensorType{
	gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16,
	gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ8_0,
	gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K,
}

// allTypes are the types Dequantize and RandomBlocks handle.
var allTypes = append([]gguf.TensorType{gguf.TypeQ8_1, gguf.TypeQ8_K}, vecDotTypes...)

func TestVecDotType(t *testing.T) {
	tests := []struct{ weight, want gguf.TensorType }{
		{gguf.TypeF32, gguf.TypeF32},
		{gguf.TypeF16, gguf.TypeF16},
		{gguf.TypeBF16, gguf.TypeBF16},
		{gguf.TypeQ4_0, gguf.TypeQ8_0},
		{gguf.TypeQ5_0, gguf.TypeQ8_0},
		{gguf.TypeQ8_0, gguf.TypeQ8_0},
		{gguf.TypeQ4_1, gguf.TypeQ8_1},
		{gguf.TypeQ5_1, gguf.TypeQ8_1},
		{gguf.TypeQ2_K, gguf.TypeQ8_K},
		{gguf.TypeQ3_K, gguf.TypeQ8_K},
		{gguf.TypeQ4_K, gguf.TypeQ8_K},
		{gguf.TypeQ5_K, gguf.TypeQ8_K},
		{gguf.TypeQ6_K, gguf.TypeQ8_K},
	}
	for _, tt := range tests {
		if got := VecDotType(tt.weight); got != tt.want {
			t.Errorf("VecDotType(%s) = %s, want %s", tt.weight, got, tt.want)
		}
		if !HasVecDot(tt.weight) {
			t.Errorf("HasVecDot(%s) = false", tt.weight)
		}
	}
	for _, typ := range []gguf.TensorType{gguf.TypeQ8_1, gguf.TypeQ8_K, gguf.TensorType(99)} {
		if HasVecDot(typ) {
			t.Errorf("HasVecDot(%s) = true", typ)
		}
	}
}

func fp16Bytes(vals ...float32) []byte {
	b := make([]byte, 0, 2*len(vals))
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint16(b, FP32ToFP16(v))
	}
	return b
}

// TestDequantizeHandBuilt checks blocks whose values were worked out by hand,
// for the types no shared model holds (Q4_1, Q5_1, BF16) and a few more.
func TestDequantizeHandBuilt(t *testing.T) {
	filled := func(n int, v float32, at map[int]float32) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = v
		}
		for i, x := range at {
			out[i] = x
		}
		return out
	}
	tests := []struct {
		name string
		typ  gguf.TensorType
		src  []byte
		want []float32
	}{
		{
			// d = 0.5, m = -1; all nibbles 0 except qs[0] = 0x2F and qs[5] = 0x70.
			// element 0: 15·0.5-1 = 6.5; element 16: 2·0.5-1 = 0; element 21: 7·0.5-1 = 2.5.
			name: "Q4_1",
			typ:  gguf.TypeQ4_1,
			src: func() []byte {
				b := append(fp16Bytes(0.5, -1), make([]byte, 16)...)
				b[4+0], b[4+5] = 0x2F, 0x70
				return b
			}(),
			want: filled(32, -1, map[int]float32{0: 6.5, 16: 0, 21: 2.5}),
		},
		{
			// d = 0.25, m = 0.5; qh bits 0, 3, 16, 31; qs[0] = 0x13, qs[15] = 0xF0.
			// element 0: 3|16 = 19 → 5.25; element 16: 1|16 = 17 → 4.75;
			// element 3: 0|16 → 4.5; element 15: 0 → 0.5; element 31: 15|16 = 31 → 8.25.
			name: "Q5_1",
			typ:  gguf.TypeQ5_1,
			src: func() []byte {
				b := fp16Bytes(0.25, 0.5)
				b = binary.LittleEndian.AppendUint32(b, 1<<0|1<<3|1<<16|1<<31)
				qs := make([]byte, 16)
				qs[0], qs[15] = 0x13, 0xF0
				return append(b, qs...)
			}(),
			want: filled(32, 0.5, map[int]float32{0: 5.25, 16: 4.75, 3: 4.5, 15: 0.5, 31: 8.25}),
		},
		{
			// d = 2; all quants 8 (value 0) except qs[1] = 0x0F (element 1: 7·2 = 14,
			// element 17: -8·2 = -16).
			name: "Q4_0",
			typ:  gguf.TypeQ4_0,
			src: func() []byte {
				b := append(fp16Bytes(2), make([]byte, 16)...)
				for i := 2; i < 18; i++ {
					b[i] = 0x88
				}
				b[2+1] = 0x0F
				return b
			}(),
			want: filled(32, 0, map[int]float32{1: 14, 17: -16}),
		},
		{
			// d = 1; qh bit 2 set, all nibbles 0: element 2 is 16-16 = 0, the rest -16.
			name: "Q5_0",
			typ:  gguf.TypeQ5_0,
			src: func() []byte {
				b := binary.LittleEndian.AppendUint32(fp16Bytes(1), 1<<2)
				return append(b, make([]byte, 16)...)
			}(),
			want: filled(32, -16, map[int]float32{2: 0}),
		},
		{
			// d = 0.5; quants 0 except qs[3] = -128 and qs[31] = 127.
			name: "Q8_0",
			typ:  gguf.TypeQ8_0,
			src: func() []byte {
				b := append(fp16Bytes(0.5), make([]byte, 32)...)
				b[2+3], b[2+31] = 0x80, 0x7F
				return b
			}(),
			want: filled(32, 0, map[int]float32{3: -64, 31: 63.5}),
		},
		{
			name: "BF16",
			typ:  gguf.TypeBF16,
			src:  []byte{0x80, 0x3F, 0x20, 0xC0, 0xCD, 0x3D, 0x80, 0xFF, 0x01, 0x00, 0x00, 0x80},
			want: []float32{1, -2.5, 0.10009765625, float32(math.Inf(-1)), 0x1p-133, float32(math.Copysign(0, -1))},
		},
	}
	for _, tt := range tests {
		got := make([]float32, len(tt.want))
		if err := Dequantize(tt.typ, tt.src, got); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(tt.want[i]) {
				t.Errorf("%s: element %d = %g, want %g", tt.name, i, got[i], tt.want[i])
			}
		}
	}
}

// randomActivations returns n values of a few magnitudes with some outliers,
// like a hidden state.
func randomActivations(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
		if rng.IntN(50) == 0 {
			x[i] *= 30
		}
	}
	return x
}

func TestQuantizeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, typ := range []gguf.TensorType{gguf.TypeQ8_0, gguf.TypeQ8_1, gguf.TypeQ8_K} {
		for trial := 0; trial < 20; trial++ {
			n := 1024
			x := randomActivations(rng, n)
			if trial == 0 {
				clear(x[:256]) // whole zero blocks
			}
			q := make([]byte, typ.RowBytes(n))
			if err := Quantize(typ, x, q); err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			y := make([]float32, n)
			if err := Dequantize(typ, q, y); err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			bs, bb := typ.BlockSize(), typ.BlockBytes()
			for b := 0; b < n/bs; b++ {
				blk := q[b*bb : (b+1)*bb]
				var d, bound float64
				var amax float64
				for _, v := range x[b*bs : (b+1)*bs] {
					amax = math.Max(amax, math.Abs(float64(v)))
				}
				if typ == gguf.TypeQ8_K {
					// float32 scale: half a step.
					d = math.Abs(float64(math.Float32frombits(binary.LittleEndian.Uint32(blk))))
					bound = 0.5 * d * (1 + 1e-6)
				} else {
					// The quants are rounded with the exact step amax/127, the
					// stored step is its fp16 rounding: half a step plus 127
					// times that rounding error.
					d = float64(fp16At(blk))
					exact := amax / 127
					bound = 0.5*exact*(1+1e-6) + 127*math.Abs(d-exact)
				}
				if amax > 0 && math.Abs(d-amax/127) > amax/127*1e-3 {
					t.Fatalf("%s block %d: step %g, want about %g", typ, b, d, amax/127)
				}
				for j := b * bs; j < (b+1)*bs; j++ {
					if err := math.Abs(float64(y[j]) - float64(x[j])); err > bound+1e-30 {
						t.Fatalf("%s element %d: %g decodes to %g, error %g > %g", typ, j, x[j], y[j], err, bound)
					}
				}
				checkActivationSums(t, typ, blk, b)
			}
		}
	}
}

// checkActivationSums verifies Q8_1's s and Q8_K's bsums against the quants.
func checkActivationSums(t *testing.T, typ gguf.TensorType, blk []byte, b int) {
	t.Helper()
	switch typ {
	case gguf.TypeQ8_1:
		var sum int
		for _, q := range blk[4:36] {
			sum += int(int8(q))
		}
		want := float64(fp16At(blk)) * float64(sum)
		if got := float64(fp16At(blk[2:])); math.Abs(got-want) > math.Abs(want)*2e-3+1e-6 {
			t.Fatalf("Q8_1 block %d: s = %g, want d·Σq = %g", b, got, want)
		}
	case gguf.TypeQ8_K:
		for g := 0; g < 16; g++ {
			var sum int
			for _, q := range blk[4+16*g : 4+16*g+16] {
				sum += int(int8(q))
			}
			if got := int(int16(binary.LittleEndian.Uint16(blk[260+2*g:]))); got != sum {
				t.Fatalf("Q8_K block %d: bsums[%d] = %d, want %d", b, g, got, sum)
			}
		}
	}
}

func TestQuantizeRounding(t *testing.T) {
	// Q8_K: with max = -127 the scale is exactly 1 and nearest_int rounds
	// ties to even; the sign of d follows ggml (d = 1/(-127/max)).
	x := make([]float32, QKK)
	x[7], x[8], x[9], x[10], x[11] = -127, 62.5, 63.5, -0.5, 1.5
	q := make([]byte, q8KBytes)
	if err := Quantize(gguf.TypeQ8_K, x, q); err != nil {
		t.Fatal(err)
	}
	if d := math.Float32frombits(binary.LittleEndian.Uint32(q)); d != 1 {
		t.Errorf("Q8_K d = %g, want 1", d)
	}
	wantK := map[int]int8{7: -127, 8: 62, 9: 64, 10: 0, 11: 2}
	for i, want := range wantK {
		if got := int8(q[4+i]); got != want {
			t.Errorf("Q8_K quant %d of %g = %d, want %d", i, x[i], got, want)
		}
	}
	if bs := int16(binary.LittleEndian.Uint16(q[260:])); bs != -127+62+64+0+2 {
		t.Errorf("Q8_K bsums[0] = %d, want %d", bs, -127+62+64+0+2)
	}

	// Q8_0 and Q8_1: with amax = 127 the step is 1 and roundf rounds ties
	// away from zero.
	x0 := make([]float32, QK)
	x0[0], x0[1], x0[2], x0[3] = 127, 2.5, -2.5, 0.5
	for _, typ := range []gguf.TensorType{gguf.TypeQ8_0, gguf.TypeQ8_1} {
		q := make([]byte, typ.RowBytes(QK))
		if err := Quantize(typ, x0, q); err != nil {
			t.Fatal(err)
		}
		off := 2
		if typ == gguf.TypeQ8_1 {
			off = 4
			if s := fp16At(q[2:]); s != 127+3-3+1 {
				t.Errorf("Q8_1 s = %g, want %d", s, 127+3-3+1)
			}
		}
		if d := fp16At(q); d != 1 {
			t.Errorf("%s d = %g, want 1", typ, d)
		}
		for i, want := range []int8{127, 3, -3, 1} {
			if got := int8(q[off+i]); got != want {
				t.Errorf("%s quant %d of %g = %d, want %d", typ, i, x0[i], got, want)
			}
		}
	}
}

func TestQuantizeDegenerateScale(t *testing.T) {
	// A block whose largest value is so small that 1/d overflows: ggml's C is
	// undefined here; the result is a zero block, as on x86.
	x := make([]float32, QK)
	x[0], x[1] = 1e-40, -5e-41
	for _, typ := range []gguf.TensorType{gguf.TypeQ8_0, gguf.TypeQ8_1} {
		q := make([]byte, typ.RowBytes(QK))
		for i := range q {
			q[i] = 0xAA
		}
		if err := Quantize(typ, x, q); err != nil {
			t.Fatal(err)
		}
		for i, b := range q {
			if b != 0 {
				t.Errorf("%s byte %d = %#02x, want a zero block", typ, i, b)
				break
			}
		}
	}
}

// dequantized returns Dequantize(typ, src) as float64.
func dequantized(t *testing.T, typ gguf.TensorType, src []byte, n int) []float64 {
	t.Helper()
	y := make([]float32, n)
	if err := Dequantize(typ, src, y); err != nil {
		t.Fatalf("dequantize %s: %v", typ, err)
	}
	out := make([]float64, n)
	for i, v := range y {
		out[i] = float64(v)
	}
	return out
}

// TestVecDotAgainstDequantized compares VecDot with a float64 dot product of
// the dequantized rows: the same math, so only float32 rounding may differ.
func TestVecDotAgainstDequantized(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 1024
	for _, typ := range vecDotTypes {
		xt := VecDotType(typ)
		for trial := 0; trial < 10; trial++ {
			w := make([]byte, typ.RowBytes(n))
			RandomBlocks(typ, w, rng)
			x := make([]byte, xt.RowBytes(n))
			if err := Quantize(xt, randomActivations(rng, n), x); err != nil {
				t.Fatal(err)
			}
			wf, xf := dequantized(t, typ, w, n), dequantized(t, xt, x, n)
			var want, mag float64
			for i := range wf {
				want += wf[i] * xf[i]
				mag += math.Abs(wf[i] * xf[i])
			}
			tol := 1e-5*mag + 1e-9
			if xt == gguf.TypeQ8_1 {
				// ggml uses the block's stored s = fp16(d·Σq) for the min
				// term, which Dequantize does not see: allow its fp16 rounding.
				for b := 0; b < n/QK; b++ {
					m := math.Abs(float64(fp16At(w[b*typ.BlockBytes()+2:])))
					s := math.Abs(float64(fp16At(x[b*q8_1Bytes+2:])))
					tol += m * s * 0x1p-10
				}
			}
			got := float64(VecDot(typ, n, w, x))
			if math.Abs(got-want) > tol {
				t.Errorf("%s trial %d: VecDot = %.9g, dequantized dot = %.9g (tolerance %.3g)", typ, trial, got, want, tol)
			}
		}
	}
}

func TestRandomBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, typ := range allTypes {
		n := 4 * QKK
		src := make([]byte, typ.RowBytes(n))
		RandomBlocks(typ, src, rng)
		vals := dequantized(t, typ, src, n)
		var maxAbs float64
		distinct := map[float64]bool{}
		for i, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%s: element %d is %g", typ, i, v)
			}
			maxAbs = math.Max(maxAbs, math.Abs(v))
			distinct[v] = true
		}
		if maxAbs > 1.05 || maxAbs < 0.05 || len(distinct) < 8 {
			t.Errorf("%s: max |value| %g over %d distinct values, want a spread within about [-1, 1]", typ, maxAbs, len(distinct))
		}
		bs, bb := typ.BlockSize(), typ.BlockBytes()
		for b := 0; b < n/bs; b++ {
			checkActivationSums(t, typ, src[b*bb:(b+1)*bb], b)
			if typ == gguf.TypeQ8_0 || typ == gguf.TypeQ8_1 || typ == gguf.TypeQ8_K {
				off := map[gguf.TensorType]int{gguf.TypeQ8_0: 2, gguf.TypeQ8_1: 4, gguf.TypeQ8_K: 4}[typ]
				for _, q := range src[b*bb+off : b*bb+off+bs] {
					if int8(q) == -128 {
						t.Fatalf("%s block %d: quant -128, ggml's quantizers never make it", typ, b)
					}
				}
			}
		}
	}
}

func TestBadSizes(t *testing.T) {
	tests := []struct {
		name    string
		typ     gguf.TensorType
		n, size int
		want    error
	}{
		{"partial block", gguf.TypeQ4_0, 33, 36, ErrSize},
		{"short source", gguf.TypeQ4_0, 64, 35, ErrSize},
		{"long source", gguf.TypeQ4_K, 256, 145, ErrSize},
		{"empty source", gguf.TypeF16, 4, 0, ErrSize},
		{"k-quant of 32", gguf.TypeQ6_K, 32, 26, ErrSize},
		{"unknown type", gguf.TensorType(99), 32, 32, ErrUnsupportedType},
	}
	for _, tt := range tests {
		err := Dequantize(tt.typ, make([]byte, tt.size), make([]float32, tt.n))
		if !errors.Is(err, tt.want) {
			t.Errorf("Dequantize %s: error %v, want %v", tt.name, err, tt.want)
		}
	}
	for _, tt := range tests {
		typ := tt.typ
		if typ == gguf.TypeQ4_0 {
			typ = gguf.TypeQ8_0
		} else if typ == gguf.TypeQ4_K || typ == gguf.TypeQ6_K {
			typ = gguf.TypeQ8_K
		}
		err := Quantize(typ, make([]float32, tt.n), make([]byte, tt.size))
		if !errors.Is(err, tt.want) {
			t.Errorf("Quantize %s (%s): error %v, want %v", tt.name, typ, err, tt.want)
		}
	}
	if err := Quantize(gguf.TypeQ4_0, make([]float32, 32), make([]byte, 18)); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("Quantize Q4_0: error %v, want %v", err, ErrUnsupportedType)
	}
	// Zero elements is a valid, empty row.
	if err := Dequantize(gguf.TypeQ4_K, nil, nil); err != nil {
		t.Errorf("Dequantize of an empty row: %v", err)
	}
}

func TestQuantizeRejectsNonFinite(t *testing.T) {
	for _, typ := range []gguf.TensorType{gguf.TypeQ8_0, gguf.TypeQ8_1, gguf.TypeQ8_K} {
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
			x := make([]float32, QKK)
			x[100] = bad
			dst := make([]byte, typ.RowBytes(QKK))
			err := Quantize(typ, x, dst)
			if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "element 100") {
				t.Errorf("Quantize %s with %g: error %v, want ErrNonFinite at element 100", typ, bad, err)
			}
		}
	}
	// Float targets carry non-finite values through.
	x := []float32{float32(math.Inf(1)), float32(math.NaN())}
	dst := make([]byte, 4)
	if err := Quantize(gguf.TypeF16, x, dst); err != nil {
		t.Errorf("Quantize F16 with Inf, NaN: %v", err)
	}
	if h := binary.LittleEndian.Uint16(dst); h != 0x7C00 {
		t.Errorf("F16 of +Inf = %#04x", h)
	}
}

func TestVecDotPanicsOnMisuse(t *testing.T) {
	tests := []struct {
		name    string
		typ     gguf.TensorType
		n       int
		w, x    int
		message string
	}{
		{"short weight row", gguf.TypeQ4_0, 64, 35, 68, "weight row"},
		{"short activation row", gguf.TypeQ4_K, 256, 144, 291, "activation row"},
		{"partial block", gguf.TypeQ8_0, 40, 34, 34, "whole number"},
		{"no dot product", gguf.TypeQ8_K, 256, 292, 292, "unsupported"},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if r == nil || !strings.Contains(msg, tt.message) {
					t.Errorf("%s: panic %v, want one mentioning %q", tt.name, r, tt.message)
				}
			}()
			VecDot(tt.typ, tt.n, make([]byte, tt.w), make([]byte, tt.x))
		}()
	}
}

func TestNoAllocations(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 512
	x := randomActivations(rng, n)
	for _, typ := range vecDotTypes {
		w := make([]byte, typ.RowBytes(n))
		RandomBlocks(typ, w, rng)
		xq := make([]byte, VecDotType(typ).RowBytes(n))
		out := make([]float32, n)
		allocs := testing.AllocsPerRun(10, func() {
			if err := Quantize(VecDotType(typ), x, xq); err != nil {
				t.Fatal(err)
			}
			if err := Dequantize(typ, w, out); err != nil {
				t.Fatal(err)
			}
			_ = VecDot(typ, n, w, xq)
			RandomBlocks(typ, w, rng)
		})
		if allocs != 0 {
			t.Errorf("%s: %.0f allocations per Quantize+Dequantize+VecDot+RandomBlocks", typ, allocs)
		}
	}
}
