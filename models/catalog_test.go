package models

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/assets"
)

func realCatalog(t testing.TB) *Catalog {
	t.Helper()
	c, err := ParseCatalog(assets.CatalogJSON())
	if err != nil {
		t.Fatalf("embedded catalog: %v", err)
	}
	return c
}

func TestEmbeddedCatalogContents(t *testing.T) {
	c := realCatalog(t)
	wantQuants := []string{"Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_0", "Q4_K_S", "Q4_K_M", "Q5_0", "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0"}
	wantModels := map[string]string{
		"llama-2-7b":       "TheBloke/Llama-2-7B-GGUF",
		"llama-2-7b-chat":  "TheBloke/Llama-2-7B-Chat-GGUF",
		"llama-2-13b":      "TheBloke/Llama-2-13B-GGUF",
		"llama-2-13b-chat": "TheBloke/Llama-2-13B-chat-GGUF",
		"llama-2-70b":      "TheBloke/Llama-2-70B-GGUF",
		"llama-2-70b-chat": "TheBloke/Llama-2-70B-Chat-GGUF",
	}
	if len(c.Models) != len(wantModels) {
		t.Fatalf("%d models, want %d", len(c.Models), len(wantModels))
	}
	lic := c.Licences["llama2"]
	if !strings.Contains(lic.Name, "Llama 2 Community") || !strings.Contains(lic.Summary, "700 million monthly active users") {
		t.Errorf("licence does not summarise the 700M MAU clause: %+v", lic)
	}
	for _, m := range c.Models {
		if wantModels[m.Name] != m.Repo {
			t.Errorf("%s: repository %q, want %q", m.Name, m.Repo, wantModels[m.Name])
		}
		if m.ContextLength != 4096 || m.Chat != strings.HasSuffix(m.Name, "-chat") {
			t.Errorf("%s: context %d, chat %v", m.Name, m.ContextLength, m.Chat)
		}
		// The parameter count follows from the architecture numbers.
		a := m.Arch
		kv := a.KVHeads * a.HeadDim
		perLayer := 2*a.Embedding*a.Embedding + 2*a.Embedding*kv + 3*a.Embedding*a.FFN + 2*a.Embedding
		if got := uint64(2*a.Vocab*a.Embedding + a.Layers*perLayer + a.Embedding); got != m.Parameters {
			t.Errorf("%s: %d parameters recorded, the architecture gives %d", m.Name, m.Parameters, got)
		}
		if m.Recommended().Quant != "Q4_K_M" {
			t.Errorf("%s: recommended %s", m.Name, m.Recommended().Quant)
		}
		if len(m.Files) != len(wantQuants) {
			t.Fatalf("%s: %d files", m.Name, len(m.Files))
		}
		var prev int64
		for i, f := range m.Files {
			if f.Quant != wantQuants[i] || f.File != m.Name+"."+f.Quant+".gguf" {
				t.Errorf("%s: file %d is %s %s", m.Name, i, f.Quant, f.File)
			}
			// Sizes grow with the bits per weight (Q5_0 and Q5_K_S are
			// equal); rounded card sizes may be 1% off.
			if f.Size < prev-prev/100 {
				t.Errorf("%s: %s is smaller than the quantization before it", m.Name, f.File)
			}
			prev = f.Size
			bpw := float64(f.Size) * 8 / float64(m.Parameters)
			if bpw < 2.5 || bpw > 9 {
				t.Errorf("%s: %.2f bits per weight is implausible", f.File, bpw)
			}
			split := strings.HasPrefix(m.Name, "llama-2-70b") && (f.Quant == "Q6_K" || f.Quant == "Q8_0")
			if split != (len(f.Parts) == 2) {
				t.Errorf("%s: parts %v", f.File, f.Parts)
			}
		}
	}
}

func TestResolve(t *testing.T) {
	c := realCatalog(t)
	for _, tc := range []struct {
		ref, model, file string
	}{
		{"llama-2-7b-chat:Q4_K_M", "llama-2-7b-chat", "llama-2-7b-chat.Q4_K_M.gguf"},
		{"llama-2-7b-chat:q4_k_m", "llama-2-7b-chat", "llama-2-7b-chat.Q4_K_M.gguf"},
		{"Llama-2-13B-Chat:Q8_0", "llama-2-13b-chat", "llama-2-13b-chat.Q8_0.gguf"},
		{"llama-2-70b", "llama-2-70b", "llama-2-70b.Q4_K_M.gguf"},
		{" llama-2-7b:q2_k ", "llama-2-7b", "llama-2-7b.Q2_K.gguf"},
		{"llama-2-13b.Q5_K_S.gguf", "llama-2-13b", "llama-2-13b.Q5_K_S.gguf"},
	} {
		m, f, err := c.Resolve(tc.ref)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tc.ref, err)
			continue
		}
		if m.Name != tc.model || f.File != tc.file {
			t.Errorf("Resolve(%q) = %s %s", tc.ref, m.Name, f.File)
		}
	}
	for ref, want := range map[string]string{
		"llama-3-8b":           "the catalog has llama-2-7b-chat",
		"llama-2-7b-chat:Q9":   "comes in Q2_K",
		"":                     "unknown model",
		"llama-2-7b-chat:":     "comes in",
		"llama-2-7b-chat.gguf": "unknown model",
	} {
		_, _, err := c.Resolve(ref)
		if !errors.Is(err, ErrUnknownModel) || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve(%q) = %v, want %q", ref, err, want)
		}
	}
	if m, f, ok := c.FindFile("llama-2-70b-chat.Q8_0.gguf-split-b"); !ok || m.Name != "llama-2-70b-chat" || f.Quant != "Q8_0" {
		t.Error("FindFile does not know split parts")
	}
}

func TestParseCatalogRejects(t *testing.T) {
	base := func() map[string]any {
		var doc map[string]any
		if err := json.Unmarshal(assets.CatalogJSON(), &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	model := func(doc map[string]any) map[string]any { return doc["models"].([]any)[0].(map[string]any) }
	file := func(doc map[string]any) map[string]any { return model(doc)["files"].([]any)[0].(map[string]any) }
	for name, edit := range map[string]func(map[string]any){
		"version":           func(d map[string]any) { d["version"] = 2 },
		"unknown field":     func(d map[string]any) { d["extra"] = 1 },
		"no models":         func(d map[string]any) { d["models"] = []any{} },
		"upper-case name":   func(d map[string]any) { model(d)["name"] = "Llama" },
		"name with colon":   func(d map[string]any) { model(d)["name"] = "a:b" },
		"bad repo":          func(d map[string]any) { model(d)["repo"] = "no-slash" },
		"unknown licence":   func(d map[string]any) { model(d)["licence"] = "mit" },
		"bad arch":          func(d map[string]any) { model(d)["arch"].(map[string]any)["kv_heads"] = 3 },
		"zero size":         func(d map[string]any) { file(d)["size"] = 0 },
		"path in file name": func(d map[string]any) { file(d)["file"] = "../evil.gguf" },
		"not gguf":          func(d map[string]any) { file(d)["file"] = "model.bin" },
		"one part":          func(d map[string]any) { file(d)["parts"] = []any{"x.gguf-split-a"} },
		"two recommended":   func(d map[string]any) { file(d)["recommended"] = true },
		"undescribed quant": func(d map[string]any) { file(d)["quant"] = "Q9_K" },
		"duplicate model": func(d map[string]any) {
			ms := d["models"].([]any)
			d["models"] = append(ms, ms[0])
		},
	} {
		doc := base()
		edit(doc)
		data, _ := json.Marshal(doc)
		if _, err := ParseCatalog(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseCatalog([]byte("{")); err == nil {
		t.Error("broken JSON accepted")
	}
}

func FuzzParseCatalog(f *testing.F) {
	f.Add(assets.CatalogJSON())
	f.Add([]byte(`{"version":1,"models":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCatalog(data)
		if err != nil {
			return
		}
		for _, m := range c.Models {
			if m.Recommended() == nil {
				t.Fatal("accepted a model without files")
			}
			if _, _, err := c.Resolve(m.Name); err != nil {
				t.Fatalf("accepted model %q cannot be resolved: %v", m.Name, err)
			}
		}
	})
}
