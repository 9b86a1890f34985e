package quant

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// dequantGolden is the shape of the shared golden/NAME.dequant.json files.
type dequantGolden struct {
	File    string `json:"file"`
	Tensors []struct {
		Name  string       `json:"name"`
		Type  string       `json:"type"`
		Ne    []uint64     `json:"ne"`
		Sum   float64      `json:"sum"`
		Sumsq float64      `json:"sumsq"`
		First []float64    `json:"first"`
		At    [][2]float64 `json:"at"`
	} `json:"tensors"`
}

// closeTo reports whether got matches want to float32 precision: relative
// 1e-6 with a tiny absolute floor for values near zero.
func closeTo(got, want float64) bool {
	return math.Abs(got-want) <= 1e-6*math.Abs(want)+1e-12
}

func TestDequantizeGolden(t *testing.T) {
	seen := map[gguf.TensorType]bool{}
	for _, name := range testenv.Models(t) {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(testenv.Path(t, "golden", name+".dequant.json"))
			if err != nil {
				t.Fatal(err)
			}
			var golden dequantGolden
			if err := json.Unmarshal(raw, &golden); err != nil {
				t.Fatalf("parse golden %s: %v", name, err)
			}
			if len(golden.Tensors) == 0 {
				t.Fatalf("golden %s lists no tensors", name)
			}
			f, err := gguf.Open(testenv.Path(t, "models", name+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			var buf []float32
			for _, g := range golden.Tensors {
				info, ok := f.Tensor(g.Name)
				if !ok {
					t.Errorf("%s: tensor missing from the model", g.Name)
					continue
				}
				if info.Type.String() != g.Type || !slices.Equal(info.Dims, g.Ne) {
					t.Errorf("%s: model has %s %v, golden says %s %v", g.Name, info.Type, info.Dims, g.Type, g.Ne)
					continue
				}
				n := int(info.Elements())
				buf = slices.Grow(buf[:0], n)[:n]
				if err := Dequantize(info.Type, f.TensorData(info), buf); err != nil {
					t.Errorf("%s: %v", g.Name, err)
					continue
				}
				seen[info.Type] = true

				var sum, sumsq float64
				for _, v := range buf {
					sum += float64(v)
					sumsq += float64(v) * float64(v)
				}
				scale := math.Abs(g.Sum) + math.Sqrt(g.Sumsq)
				if math.Abs(sum-g.Sum) > 1e-6*scale {
					t.Errorf("%s (%s): sum %.9g, want %.9g", g.Name, g.Type, sum, g.Sum)
				}
				if math.Abs(sumsq-g.Sumsq) > 1e-6*g.Sumsq {
					t.Errorf("%s (%s): sumsq %.9g, want %.9g", g.Name, g.Type, sumsq, g.Sumsq)
				}
				for i, want := range g.First {
					if got := float64(buf[i]); !closeTo(got, want) {
						t.Errorf("%s (%s): element %d = %.9g, want %.9g", g.Name, g.Type, i, got, want)
					}
				}
				for _, at := range g.At {
					i := int(at[0])
					if i < 0 || i >= n {
						t.Errorf("%s: golden index %d out of range", g.Name, i)
						continue
					}
					if got := float64(buf[i]); !closeTo(got, at[1]) {
						t.Errorf("%s (%s): element %d = %.9g, want %.9g", g.Name, g.Type, i, got, at[1])
					}
				}
			}
		})
	}
	// The shared models together cover these types; a golden run that
	// skipped one of them would prove less than it claims.
	if !t.Failed() && !t.Skipped() {
		for _, typ := range []gguf.TensorType{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ8_0,
			gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K} {
			if !seen[typ] {
				t.Errorf("no golden tensor of type %s was checked", typ)
			}
		}
	}
}
