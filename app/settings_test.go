package app

import (
	"context"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
)

func TestSettingsDefaultsAndRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := openApp(t)
	got, err := a.LoadSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != DefaultSettings() {
		t.Fatalf("fresh settings = %+v, want defaults %+v", got, DefaultSettings())
	}
	want := Settings{
		ModelsDir: t.TempDir(), Threads: 3, Backend: BackendCPU, GPULayers: 0, ContextSize: 2048, KVType: "q8_0",
		OverflowPolicy: "truncate-middle", Theme: ThemeDark, HFEndpoint: "http://127.0.0.1:9/",
		DefaultPersona: "Coding assistant", LastModel: "/models/x.gguf",
	}
	if err := a.SaveSettings(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err = a.LoadSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("loaded %+v, want %+v", got, want)
	}
	if got.Policy().String() != "truncate-middle" {
		t.Errorf("Policy() = %v", got.Policy())
	}
	if lo := got.LoadOptions(); lo.Threads != 3 || lo.Backend != BackendCPU || lo.GPULayers != 0 {
		t.Errorf("LoadOptions() = %+v", lo)
	}
	if mc := got.ModelsConfig(); mc.Dir != want.ModelsDir || mc.Endpoint != want.HFEndpoint {
		t.Errorf("ModelsConfig() = %+v", mc)
	}
}

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Settings)
		want   string // "" when valid
	}{
		{"defaults", func(*Settings) {}, ""},
		{"relative models folder", func(s *Settings) { s.ModelsDir = "models" }, "absolute"},
		{"negative threads", func(s *Settings) { s.Threads = -1 }, "threads"},
		{"too many threads", func(s *Settings) { s.Threads = 5000 }, "threads"},
		{"unknown backend", func(s *Settings) { s.Backend = "cuda" }, "backend"},
		{"gpu layers below -1", func(s *Settings) { s.GPULayers = -2 }, "GPU layers"},
		{"tiny context", func(s *Settings) { s.ContextSize = 10 }, "context size"},
		{"model context", func(s *Settings) { s.ContextSize = 0 }, ""},
		{"unknown policy", func(s *Settings) { s.OverflowPolicy = "forget-everything" }, "overflow policy"},
		{"unknown theme", func(s *Settings) { s.Theme = "purple" }, "theme"},
		{"unknown KV cache type", func(s *Settings) { s.KVType = "q4" }, "KV cache type"},
		{"endpoint without scheme", func(s *Settings) { s.HFEndpoint = "huggingface.co" }, "endpoint"},
		{"ftp endpoint", func(s *Settings) { s.HFEndpoint = "ftp://x.org" }, "endpoint"},
		{"https endpoint", func(s *Settings) { s.HFEndpoint = "https://hf-mirror.com" }, ""},
		{"huge persona name", func(s *Settings) { s.DefaultPersona = strings.Repeat("x", 5000) }, "default persona"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSettings()
			tt.change(&s)
			err := s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestSaveSettingsRefusesInvalidWhole(t *testing.T) {
	ctx := context.Background()
	a := openApp(t)
	good := DefaultSettings()
	good.Threads = 2
	if err := a.SaveSettings(ctx, good); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.Threads = 7
	bad.Theme = "neon"
	if err := a.SaveSettings(ctx, bad); err == nil {
		t.Fatal("SaveSettings accepted an unknown theme")
	}
	got, err := a.LoadSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Threads != 2 {
		t.Fatalf("threads = %d after a refused save, want the earlier 2", got.Threads)
	}
}

func TestLoadSettingsReplacesDamagedValues(t *testing.T) {
	ctx := context.Background()
	a := openApp(t)
	store, err := a.History()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"settings.threads":    "many",
		"settings.theme":      "neon",
		"settings.gpu_layers": "12",
	} {
		if err := store.SetSetting(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.LoadSettings(ctx)
	if err == nil || !strings.Contains(err.Error(), "settings.threads") || !strings.Contains(err.Error(), "settings.theme") {
		t.Fatalf("LoadSettings error = %v, want it to name the damaged keys", err)
	}
	def := DefaultSettings()
	if got.Threads != def.Threads || got.Theme != def.Theme {
		t.Errorf("damaged values not replaced by defaults: %+v", got)
	}
	if got.GPULayers != 12 {
		t.Errorf("GPU layers = %d, want the stored 12 kept", got.GPULayers)
	}
	if v, _, _ := store.Setting(ctx, "settings.theme"); v != "neon" {
		t.Errorf("LoadSettings changed the stored value to %q", v)
	}
}

// TestSettingsKVTypeReachesLoadOptions: the KV cache setting (f16 by
// default) and the context size are what models are loaded with.
func TestSettingsKVTypeReachesLoadOptions(t *testing.T) {
	s := DefaultSettings()
	if s.KVType != "f16" || s.LoadOptions().KVType != engine.KVF16 {
		t.Errorf("default KV type %q (%v), want f16", s.KVType, s.LoadOptions().KVType)
	}
	s.KVType, s.ContextSize = "q8_0", 2048
	if o := s.LoadOptions(); o.KVType != engine.KVQ8_0 || o.Context != 2048 {
		t.Errorf("load options %+v, want q8_0 at 2048", o)
	}
}
