package models

import (
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
)

const gib = 1 << 30

func TestKVCacheBytes(t *testing.T) {
	for _, tc := range []struct {
		name                                string
		layers, ctx, kvHeads, headDim, elem int
		want                                uint64
	}{
		{"7B F16 4096", 32, 4096, 32, 128, 2, 2 * gib},
		{"13B F16 4096", 40, 4096, 40, 128, 2, 3200 << 20},
		{"70B GQA F16 4096", 80, 4096, 8, 128, 2, 1280 << 20},
		{"7B F32 2048", 32, 2048, 32, 128, 4, 2 * gib},
	} {
		if got := KVCacheBytes(tc.layers, tc.ctx, tc.kvHeads, tc.headDim, tc.elem); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestEstimateFit(t *testing.T) {
	// A 7B-like shape: 4 GiB of weights, 3.5 GiB of them in 32 layers.
	shape := Shape{Layers: 32, Embedding: 4096, Heads: 32, KVHeads: 32, HeadDim: 128, ContextLength: 4096,
		WeightBytes: 4 * gib, LayerBytes: 3.5 * gib}
	const over = gib / 2
	opt := FitOptions{Overhead: over}
	// Total at 4096 tokens: 4 + 2 (KV) + 0.5 = 6.5 GiB; per layer (3.5 + 2)/32 GiB.
	for _, tc := range []struct {
		name       string
		ram        Memory
		gpu        *GPU
		opt        FitOptions
		want       Verdict
		wantLayers int
		wantString string
	}{
		{"big GPU", Memory{Total: 16 * gib, Available: 8 * gib}, &GPU{Name: "g", Total: 24 * gib, Free: 20 * gib}, opt, FitsGPU, 32, "fits on GPU"},
		{"GPU free unknown uses 90%", Memory{Total: 16 * gib}, &GPU{Total: 73 * gib / 10}, opt, FitsGPU, 32, "fits on GPU"},
		{"half on GPU", Memory{Total: 16 * gib, Available: 8 * gib}, &GPU{Total: 4 * gib, Free: 4 * gib}, opt, PartialOffload, 20, "partial offload (20 of 32 layers)"},
		{"GPU too small for a layer", Memory{Total: 16 * gib, Available: 8 * gib}, &GPU{Total: gib / 2, Free: gib / 2}, opt, CPUOnly, 0, "CPU only"},
		{"no GPU", Memory{Total: 16 * gib, Available: 8 * gib}, nil, opt, CPUOnly, 0, "CPU only"},
		{"no GPU, little RAM", Memory{Total: 8 * gib, Available: 5 * gib}, nil, opt, WontFit, 0, "won't fit"},
		{"shorter context fits", Memory{Total: 8 * gib, Available: 5 * gib}, nil, FitOptions{Overhead: over, Context: 512}, CPUOnly, 0, "CPU only"},
		{"F32 cache needs more", Memory{Total: 16 * gib, Available: 8 * gib}, nil, FitOptions{Overhead: over, KVType: engine.KVF32}, WontFit, 0, "won't fit"},
		{"available unknown uses 80% of total", Memory{Total: 8 * gib}, nil, opt, WontFit, 0, "won't fit"},
		{"partial but host too small", Memory{Total: 4 * gib, Available: 2 * gib}, &GPU{Total: 4 * gib, Free: 4 * gib}, opt, WontFit, 0, "won't fit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := EstimateFit(shape, tc.ram, tc.gpu, tc.opt)
			if f.Verdict != tc.want || f.GPULayers != tc.wantLayers || f.String() != tc.wantString {
				t.Errorf("got %v (%d layers, %q), want %v (%d layers); %s", f.Verdict, f.GPULayers, f.String(), tc.want, tc.wantLayers, f.Explain())
			}
			if f.TotalBytes != f.WeightBytes+f.KVBytes+f.OverheadBytes {
				t.Error("total is not the sum of its parts")
			}
		})
	}
}

func TestFitFromCatalog(t *testing.T) {
	c := realCatalog(t)
	m, f, err := c.Resolve("llama-2-70b-chat:Q4_K_M")
	if err != nil {
		t.Fatal(err)
	}
	s := ShapeOf(m, f)
	if s.Layers != 80 || s.KVHeads != 8 || s.LayerBytes == 0 || s.LayerBytes >= s.WeightBytes {
		t.Fatalf("shape %+v", s)
	}
	fit := EstimateFit(s, Memory{Total: 64 * gib, Available: 60 * gib}, nil, FitOptions{})
	if fit.Verdict != CPUOnly || fit.KVBytes != 1280<<20 {
		t.Errorf("70B Q4_K_M in 60 GiB: %v, KV %d; %s", fit, fit.KVBytes, fit.Explain())
	}
	fit = EstimateFit(s, Memory{Total: 16 * gib, Available: 12 * gib}, nil, FitOptions{})
	if fit.Verdict != WontFit {
		t.Errorf("70B in 12 GiB: %v", fit)
	}
	m7, f7, _ := c.Resolve("llama-2-7b-chat")
	fit = EstimateFit(ShapeOf(m7, f7), Memory{Total: 16 * gib, Available: 12 * gib}, &GPU{Name: "test", Total: 8 * gib, Free: 8 * gib}, FitOptions{})
	if fit.Verdict != FitsGPU || !strings.Contains(fit.Explain(), "free on test") {
		t.Errorf("7B Q4_K_M on an 8 GiB GPU: %v; %s", fit, fit.Explain())
	}
}

func TestSystemMemory(t *testing.T) {
	m, err := SystemMemory()
	if err != nil {
		t.Skipf("memory size not available here: %v", err)
	}
	if m.Total < 64<<20 || m.Available > m.Total {
		t.Errorf("implausible memory %+v", m)
	}
}

func TestParseMeminfo(t *testing.T) {
	m, err := parseMeminfo(strings.NewReader("MemTotal:       16303452 kB\nMemFree:  100 kB\nMemAvailable:   12000000 kB\nHugePages_Total: 0\n"))
	if err != nil || m.Total != 16303452*1024 || m.Available != 12000000*1024 {
		t.Fatalf("%+v %v", m, err)
	}
	for _, bad := range []string{"", "MemFree: 1 kB\n", "MemTotal: lots kB\n", "MemTotal:\n", "MemTotal: 99999999999999999999 kB\n"} {
		if _, err := parseMeminfo(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseMeminfo(f *testing.F) {
	f.Add("MemTotal: 1000 kB\nMemAvailable: 500 kB\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseMeminfo(strings.NewReader(s))
		if err == nil && (m.Total == 0 || m.Available > m.Total) {
			t.Fatalf("accepted %+v", m)
		}
	})
}
