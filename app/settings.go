package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/gpu/gl"
	"github.com/llamadesk/llamadesk/gpu/metal"
)

// Settings are the person's choices that outlive a session: where models
// live, how they run, how the window looks and what was used last. They are
// stored in the history database's settings table, one key per field
// (keys "settings.models_dir", "settings.threads", ...). The zero value of a field means "the default" where
// the field's comment says so.
type Settings struct {
	// ModelsDir is the models folder; "" means <data folder>/models.
	ModelsDir string
	// Threads is the number of CPU worker threads; 0 means one per physical core.
	Threads int
	// Backend is one of Backends(): "auto", "cpu", "gl" (Linux, Windows) or
	// "metal" (macOS).
	Backend string
	// GPULayers is how many layers go to the GPU: -1 as many as fit, 0 none.
	GPULayers int
	// ContextSize is the context in tokens; 0 means the model's training context.
	ContextSize int
	// KVType is the KV cache's element type: "f16" (the default, half the
	// memory of "f32"), "q8_0" (a quarter) or "f32".
	KVType string
	// OverflowPolicy decides what is dropped when a conversation outgrows
	// the context (a chat.Policy name such as "keep-system-drop-oldest").
	OverflowPolicy string
	// Theme is "system", "light" or "dark".
	Theme string
	// HFEndpoint is the Hugging Face hub; "" means $HF_ENDPOINT or https://huggingface.co.
	HFEndpoint string
	// DefaultPersona names the persona new chats start with ("" for none).
	DefaultPersona string
	// LastModel is the path of the model loaded last ("" for none).
	LastModel string
}

// The choices offered for Settings.Backend and Settings.Theme.
const (
	BackendAuto  = "auto"
	BackendCPU   = "cpu"
	BackendGL    = "gl"
	BackendMetal = "metal"

	ThemeSystem = "system"
	ThemeLight  = "light"
	ThemeDark   = "dark"
)

// Limits on numeric settings.
const (
	maxThreads     = 1024
	maxGPULayers   = 10_000
	minContextSize = 128
	maxContextSize = 1 << 20
	maxSettingText = 4096
)

// DefaultSettings returns the settings of a fresh install.
func DefaultSettings() Settings {
	return Settings{
		Backend:        BackendAuto,
		GPULayers:      -1,
		KVType:         engine.KVF16.String(),
		OverflowPolicy: chat.KeepSystemDropOldest.String(),
		Theme:          ThemeSystem,
	}
}

// Backends returns the backends this build has, for a settings page and
// for validation: auto and cpu always, gl where the OpenGL backend is
// built (Linux and Windows with cgo), metal where the Metal one is (macOS
// with cgo).
func Backends() []string {
	out := []string{BackendAuto, BackendCPU}
	if gl.Built {
		out = append(out, BackendGL)
	}
	if metal.Built {
		out = append(out, BackendMetal)
	}
	return out
}

// Themes returns the theme choices.
func Themes() []string { return []string{ThemeSystem, ThemeLight, ThemeDark} }

// Validate reports every setting outside its allowed values.
func (s Settings) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for name, v := range map[string]string{"models folder": s.ModelsDir, "Hugging Face endpoint": s.HFEndpoint,
		"default persona": s.DefaultPersona, "last model": s.LastModel} {
		if len(v) > maxSettingText {
			bad("%s is longer than %d bytes", name, maxSettingText)
		}
	}
	if s.ModelsDir != "" && !filepath.IsAbs(s.ModelsDir) {
		bad("models folder %q is not an absolute path", s.ModelsDir)
	}
	if s.Threads < 0 || s.Threads > maxThreads {
		bad("threads must be 0 (automatic) to %d, not %d", maxThreads, s.Threads)
	}
	if !validBackend(s.Backend) {
		bad("backend %q is not one of %s", s.Backend, strings.Join(Backends(), ", "))
	}
	if s.GPULayers < -1 || s.GPULayers > maxGPULayers {
		bad("GPU layers must be -1 (as many as fit) to %d, not %d", maxGPULayers, s.GPULayers)
	}
	if s.ContextSize != 0 && (s.ContextSize < minContextSize || s.ContextSize > maxContextSize) {
		bad("context size must be 0 (the model's) or %d to %d tokens, not %d", minContextSize, maxContextSize, s.ContextSize)
	}
	if _, err := engine.ParseKVType(s.KVType); err != nil {
		bad("KV cache type: %v", err)
	}
	if _, err := chat.ParsePolicy(s.OverflowPolicy); err != nil {
		bad("overflow policy: %v", err)
	}
	switch s.Theme {
	case ThemeSystem, ThemeLight, ThemeDark:
	default:
		bad("theme %q is not one of system, light, dark", s.Theme)
	}
	if s.HFEndpoint != "" {
		u, err := url.Parse(s.HFEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("Hugging Face endpoint %q is not an http(s) URL", s.HFEndpoint)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid settings: %w", err)
	}
	return nil
}

func validBackend(b string) bool {
	for _, ok := range Backends() {
		if b == ok {
			return true
		}
	}
	return false
}

// Policy returns the overflow policy (the default when the name is unknown).
func (s Settings) Policy() chat.Policy {
	p, err := chat.ParsePolicy(s.OverflowPolicy)
	if err != nil {
		return chat.KeepSystemDropOldest
	}
	return p
}

// KVTypes lists the KV cache types, for a settings page (the default first).
func KVTypes() []string {
	var out []string
	for _, t := range engine.KVTypes() {
		out = append(out, t.String())
	}
	return out
}

// LoadOptions returns how to load a model with these settings.
func (s Settings) LoadOptions() LoadOptions {
	kv, _ := engine.ParseKVType(s.KVType) // f16 when unset or unknown
	return LoadOptions{Threads: s.Threads, Backend: s.Backend, GPULayers: s.GPULayers, Context: s.ContextSize, KVType: kv}
}

// ModelsConfig returns the model manager configuration these settings ask
// for (models folder and hub endpoint).
func (s Settings) ModelsConfig() ModelsConfig {
	return ModelsConfig{Dir: s.ModelsDir, Endpoint: s.HFEndpoint}
}

// settingPrefix starts the stored key of every field ("settings.threads").
const settingPrefix = "settings."

// settingField binds a stored key to a field of Settings.
type settingField struct {
	key string
	get func(*Settings) string
	set func(*Settings, string) error
}

func textField(key string, p func(*Settings) *string) settingField {
	return settingField{
		key: settingPrefix + key,
		get: func(s *Settings) string { return *p(s) },
		set: func(s *Settings, v string) error { *p(s) = v; return nil },
	}
}

func intField(key string, p func(*Settings) *int) settingField {
	return settingField{
		key: settingPrefix + key,
		get: func(s *Settings) string { return strconv.Itoa(*p(s)) },
		set: func(s *Settings, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("not a whole number: %q", v)
			}
			*p(s) = n
			return nil
		},
	}
}

func settingFields() []settingField {
	return []settingField{
		textField("models_dir", func(s *Settings) *string { return &s.ModelsDir }),
		intField("threads", func(s *Settings) *int { return &s.Threads }),
		textField("backend", func(s *Settings) *string { return &s.Backend }),
		intField("gpu_layers", func(s *Settings) *int { return &s.GPULayers }),
		intField("context_size", func(s *Settings) *int { return &s.ContextSize }),
		textField("kv_type", func(s *Settings) *string { return &s.KVType }),
		textField("overflow_policy", func(s *Settings) *string { return &s.OverflowPolicy }),
		textField("theme", func(s *Settings) *string { return &s.Theme }),
		textField("hf_endpoint", func(s *Settings) *string { return &s.HFEndpoint }),
		textField("default_persona", func(s *Settings) *string { return &s.DefaultPersona }),
		textField("last_model", func(s *Settings) *string { return &s.LastModel }),
	}
}

// LoadSettings reads the stored settings; unset ones take their defaults.
// A stored value that is unreadable or out of range is replaced by its
// default and reported in the error, which then comes with usable
// settings (nothing stored is changed until SaveSettings).
func (a *App) LoadSettings(ctx context.Context) (Settings, error) {
	s := DefaultSettings()
	store, err := a.History()
	if err != nil {
		return s, err
	}
	stored, err := store.Settings(ctx)
	if err != nil {
		return s, err
	}
	def := DefaultSettings()
	var errs []error
	for _, f := range settingFields() {
		v, ok := stored[f.key]
		if !ok {
			continue
		}
		one := def
		if err := f.set(&one, v); err != nil {
			errs = append(errs, fmt.Errorf("setting %s: %w (using the default)", f.key, err))
			continue
		}
		if err := f.set(&s, v); err != nil {
			continue
		}
		// Check the field alone against otherwise default settings.
		if verr := one.Validate(); verr != nil {
			errs = append(errs, fmt.Errorf("setting %s: %w (using the default)", f.key, verr))
			_ = f.set(&s, f.get(&def))
		}
	}
	if len(errs) > 0 {
		return s, fmt.Errorf("read settings: %w", errors.Join(errs...))
	}
	return s, nil
}

// SaveSettings validates s and stores it. Invalid settings are refused
// whole, and nothing is stored.
func (a *App) SaveSettings(ctx context.Context, s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	store, err := a.History()
	if err != nil {
		return err
	}
	for _, f := range settingFields() {
		if err := store.SetSetting(ctx, f.key, f.get(&s)); err != nil {
			return fmt.Errorf("save settings: %w", err)
		}
	}
	return nil
}
