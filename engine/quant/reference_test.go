package quant

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// ggmlReference is testdata/ggml_reference.json: outputs of llama.cpp's own
// reference C on fixed inputs, made by testdata/ggml_reference/oracle.c.
// Matching it bit for bit is what makes this package a trustworthy oracle.
type ggmlReference struct {
	FP16ToFP32SHA256 string `json:"fp16_to_fp32_sha256"`
	FP32Stride       uint64 `json:"fp32_stride"`
	FP32ToFP16SHA256 string `json:"fp32_to_fp16_sha256"`
	FP32ToBF16SHA256 string `json:"fp32_to_bf16_sha256"`
	Quantize         []map[string]string
	VecDot           []struct {
		Type          string `json:"type"`
		N             int    `json:"n"`
		W             string `json:"w"`
		X             string `json:"x"`
		DequantSHA256 string `json:"dequant_sha256"`
		DotBits       uint32 `json:"dot_bits"`
	} `json:"vecdot"`
	BulkSeed  uint64 `json:"bulk_seed"`
	BulkCases int    `json:"bulk_cases"`
	Bulk      map[string]struct {
		DotBits       []uint32 `json:"dot_bits"`
		DequantSHA256 string   `json:"dequant_sha256"`
		XSHA256       string   `json:"x_sha256"`
	} `json:"bulk"`
}

func loadReference(t *testing.T) *ggmlReference {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "ggml_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref ggmlReference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("parse ggml_reference.json: %v", err)
	}
	if len(ref.Quantize) == 0 || len(ref.VecDot) == 0 || ref.FP32Stride == 0 || len(ref.Bulk) == 0 {
		t.Fatal("ggml_reference.json is incomplete")
	}
	return &ref
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in reference: %v", err)
	}
	return b
}

func floatsHash(v []float32) string {
	h := sha256.New()
	var b [4]byte
	for _, f := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(f))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestConversionsMatchGGML(t *testing.T) {
	ref := loadReference(t)

	h := sha256.New()
	var b [4]byte
	for i := 0; i < 1<<16; i++ {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(FP16ToFP32(uint16(i))))
		h.Write(b[:])
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != ref.FP16ToFP32SHA256 {
		t.Errorf("FP16ToFP32 over all halves differs from ggml's (sha256 %s, want %s)", got, ref.FP16ToFP32SHA256)
	}

	h16, hb16 := sha256.New(), sha256.New()
	for bits := uint64(0); bits < 1<<32; bits += ref.FP32Stride {
		f := math.Float32frombits(uint32(bits))
		binary.LittleEndian.PutUint16(b[:], FP32ToFP16(f))
		h16.Write(b[:2])
		binary.LittleEndian.PutUint16(b[:], FP32ToBF16(f))
		hb16.Write(b[:2])
	}
	if got := hex.EncodeToString(h16.Sum(nil)); got != ref.FP32ToFP16SHA256 {
		t.Errorf("FP32ToFP16 over every %dth float32 differs from ggml's", ref.FP32Stride)
	}
	if got := hex.EncodeToString(hb16.Sum(nil)); got != ref.FP32ToBF16SHA256 {
		t.Errorf("FP32ToBF16 over every %dth float32 differs from ggml's", ref.FP32Stride)
	}
}

func TestQuantizeMatchesGGML(t *testing.T) {
	ref := loadReference(t)
	for i, c := range ref.Quantize {
		raw := mustHex(t, c["x"])
		x := make([]float32, len(raw)/4)
		for j := range x {
			x[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
		}
		for _, name := range []string{"Q8_0", "Q8_1", "Q8_K", "F16", "BF16"} {
			typ, err := gguf.ParseTensorType(name)
			if err != nil {
				t.Fatal(err)
			}
			want := mustHex(t, c[name])
			got := make([]byte, typ.RowBytes(len(x)))
			if err := Quantize(typ, x, got); err != nil {
				t.Errorf("case %d %s: %v", i, name, err)
				continue
			}
			if !bytes.Equal(got, want) {
				at := 0
				for at < len(got) && got[at] == want[at] {
					at++
				}
				t.Errorf("case %d %s: bytes differ from ggml's from offset %d (block %d)", i, name, at, at/typ.BlockBytes())
			}
		}
	}
}

func TestVecDotAndDequantizeMatchGGML(t *testing.T) {
	ref := loadReference(t)
	covered := map[gguf.TensorType]bool{}
	for i, c := range ref.VecDot {
		typ, err := gguf.ParseTensorType(c.Type)
		if err != nil {
			t.Fatal(err)
		}
		covered[typ] = true
		w, x := mustHex(t, c.W), mustHex(t, c.X)

		deq := make([]float32, c.N)
		if err := Dequantize(typ, w, deq); err != nil {
			t.Errorf("case %d %s: %v", i, c.Type, err)
			continue
		}
		if got := floatsHash(deq); got != c.DequantSHA256 {
			t.Errorf("case %d %s: dequantized row differs from ggml's", i, c.Type)
		}

		got := VecDot(typ, c.N, w, x)
		if math.Float32bits(got) != c.DotBits {
			t.Errorf("case %d %s: VecDot = %.9g (bits %#08x), ggml gives %.9g (bits %#08x)",
				i, c.Type, got, math.Float32bits(got), math.Float32frombits(c.DotBits), c.DotBits)
		}
	}
	for _, typ := range vecDotTypes {
		if !covered[typ] {
			t.Errorf("reference has no case for %s", typ)
		}
	}
}

// oracleRand replays the oracle's input stream: splitmix64 and the block and
// activation recipes of oracle.c (wblock, randx), operation for operation.
type oracleRand struct{ state uint64 }

func (r *oracleRand) next() uint64 {
	r.state += 0x9E3779B97F4A7C15
	z := r.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// unif returns a float32 in [0, 1) from the top 24 bits.
func (r *oracleRand) unif() float32 {
	return float32(float64(r.next()>>40) * (1.0 / 16777216.0))
}

func (r *oracleRand) scale(max float32) uint16 {
	return FP32ToFP16(float32(max * float32(0.5+float32(0.5*r.unif()))))
}

// weightBlock fills one block of typ as oracle.c's wblock does.
func (r *oracleRand) weightBlock(typ gguf.TensorType, b []byte) {
	for i := range b {
		b[i] = byte(r.next())
	}
	minTimes := func(scale float32, d []byte) uint16 {
		return FP32ToFP16(float32(float32(-(0.5+r.unif()))*scale) * fp16At(d))
	}
	switch typ {
	case gguf.TypeQ4_0:
		putFP16(b, r.scale(1.0/8))
	case gguf.TypeQ4_1:
		putFP16(b, r.scale(2.0/15))
		putFP16(b[2:], minTimes(7.5, b))
	case gguf.TypeQ5_0:
		putFP16(b, r.scale(1.0/16))
	case gguf.TypeQ5_1:
		putFP16(b, r.scale(2.0/31))
		putFP16(b[2:], minTimes(15.5, b))
	case gguf.TypeQ8_0:
		putFP16(b, r.scale(1.0/127))
		for i := 2; i < 34; i++ {
			if b[i] == 0x80 {
				b[i] = 0x81
			}
		}
	case gguf.TypeQ2_K:
		putFP16(b[80:], r.scale(1.0/45))
		putFP16(b[82:], r.scale(1.0/15))
	case gguf.TypeQ3_K:
		putFP16(b[108:], r.scale(1.0/128))
	case gguf.TypeQ4_K:
		putFP16(b, r.scale(1.0/945))
		putFP16(b[2:], r.scale(1.0/63))
	case gguf.TypeQ5_K:
		putFP16(b, r.scale(1.0/1953))
		putFP16(b[2:], r.scale(1.0/63))
	case gguf.TypeQ6_K:
		putFP16(b[208:], r.scale(1.0/4096))
	case gguf.TypeF32:
		binary.LittleEndian.PutUint32(b, math.Float32bits(float32(2*r.unif())-1))
	case gguf.TypeF16:
		putFP16(b, FP32ToFP16(float32(2*r.unif())-1))
	case gguf.TypeBF16:
		putFP16(b, FP32ToBF16(float32(2*r.unif())-1))
	}
}

// saturate pushes a weight block's quants towards their largest values, as
// oracle.c's saturate does, so that integer sums grow large enough for the
// order of float roundings to show.
func (r *oracleRand) saturate(typ gguf.TensorType, b []byte) {
	top := byte(0xFF)
	var lo, hi int
	switch typ {
	case gguf.TypeQ4_0:
		lo, hi = 2, 18
	case gguf.TypeQ4_1:
		lo, hi = 4, 20
	case gguf.TypeQ5_0:
		lo, hi = 2, 22
	case gguf.TypeQ5_1:
		lo, hi = 4, 24
	case gguf.TypeQ8_0:
		lo, hi, top = 2, 34, 0x7F
	case gguf.TypeQ2_K:
		lo, hi = 16, 80
	case gguf.TypeQ3_K:
		lo, hi = 0, 96
	case gguf.TypeQ4_K:
		lo, hi = 16, 144
	case gguf.TypeQ5_K:
		lo, hi = 16, 176
	case gguf.TypeQ6_K:
		lo, hi = 0, 192
	}
	for i := lo; i < hi; i++ {
		b[i] = top
		if r.next()&3 == 0 {
			b[i] ^= 1
		}
	}
}

// activations fills x as oracle.c's randx does for the given flavor.
func (r *oracleRand) activations(x []float32, flavor int) {
	for i := range x {
		x[i] = float32(2*r.unif()) - 1
		switch {
		case flavor == 1 && r.next()%37 == 0:
			x[i] *= 40
		case flavor == 2:
			x[i] *= 1e-3
		case flavor == 3 && i < 256:
			x[i] = 0
		case flavor == 4:
			x[i] = float32(int32(r.next()%255)-127) / 4
		case flavor == 5:
			x[i] *= 3e4
		case flavor == 6:
			x[i] *= 1e-6
		case flavor == 7:
			x[i] = 0.5 + float32(0.5*r.unif())
		}
	}
}

// TestBulkMatchesGGML replays many more inputs than the file could hold and
// compares every dot product bit for bit, and the dequantized weights and
// quantized activations by hash, with ggml's.
func TestBulkMatchesGGML(t *testing.T) {
	ref := loadReference(t)
	rng := &oracleRand{state: ref.BulkSeed}
	for _, typ := range vecDotTypes { // the oracle's order
		want, ok := ref.Bulk[typ.String()]
		if !ok || len(want.DotBits) != ref.BulkCases {
			t.Fatalf("reference has no bulk results for %s", typ)
		}
		xt := VecDotType(typ)
		hw, hx := sha256.New(), sha256.New()
		for c := 0; c < ref.BulkCases; c++ {
			nb, bs := 1+c%8, typ.BlockSize()
			n := bs * nb
			if bs == 1 {
				n = 61 * nb
			}
			w := make([]byte, typ.RowBytes(n))
			saturated, flavor := c%5 == 4, c%7
			if saturated {
				flavor = 7
			}
			for b := 0; b < len(w); b += typ.BlockBytes() {
				rng.weightBlock(typ, w[b:b+typ.BlockBytes()])
				if saturated {
					rng.saturate(typ, w[b:b+typ.BlockBytes()])
				}
			}
			x := make([]float32, n)
			rng.activations(x, flavor)
			xq := make([]byte, xt.RowBytes(n))
			if err := Quantize(xt, x, xq); err != nil {
				t.Fatalf("%s case %d: %v", typ, c, err)
			}
			deq := make([]float32, n)
			if err := Dequantize(typ, w, deq); err != nil {
				t.Fatalf("%s case %d: %v", typ, c, err)
			}
			for _, v := range deq {
				hw.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
			}
			hx.Write(xq)
			if got := VecDot(typ, n, w, xq); math.Float32bits(got) != want.DotBits[c] {
				t.Errorf("%s case %d (n %d, flavor %d): VecDot = %.9g, ggml gives %.9g",
					typ, c, n, flavor, got, math.Float32frombits(want.DotBits[c]))
			}
		}
		if hex.EncodeToString(hw.Sum(nil)) != want.DequantSHA256 {
			t.Errorf("%s: dequantized bulk weights differ from ggml's", typ)
		}
		if hex.EncodeToString(hx.Sum(nil)) != want.XSHA256 {
			t.Errorf("%s: bulk activations quantized to %s differ from ggml's", typ, xt)
		}
	}
}
