package history

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// metaDefaultSystemPrompt is DEFAULT_SYSTEM_PROMPT from Meta's Llama 2
// reference code (llama/generation.py, July 2023), verbatim.
const metaDefaultSystemPrompt = "You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while being safe. Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or illegal content. Please ensure that your responses are socially unbiased and positive in nature.\n\nIf a question does not make any sense, or is not factually coherent, explain why instead of answering something not correct. If you don't know the answer to a question, please don't share false information."

func TestBuiltinPersonas(t *testing.T) {
	ps, err := BuiltinPersonas()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Llama 2 default", "Concise assistant", "Shakespearean poet", "Coding assistant"}
	if len(ps) != len(want) {
		t.Fatalf("%d built-in personas, want %d", len(ps), len(want))
	}
	for i, p := range ps {
		if p.Name != want[i] || !p.Builtin || p.SystemPrompt == "" {
			t.Errorf("built-in %d = %q (builtin %v)", i, p.Name, p.Builtin)
		}
	}
	if ps[0].SystemPrompt != metaDefaultSystemPrompt {
		t.Errorf("Llama 2 default prompt differs from Meta's:\n%q", ps[0].SystemPrompt)
	}
	if !strings.Contains(ps[2].SystemPrompt, "verse") {
		t.Errorf("the poet does not answer in verse: %q", ps[2].SystemPrompt)
	}
}

func TestPersonaLifecycle(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	p := Persona{
		Name:         "Pirate",
		SystemPrompt: "Talk like a pirate.",
		Sampling:     Sampling{Temperature: Ptr(0.0), TopK: Ptr(40), Seed: Ptr(int64(7)), Stop: []string{"Arr!"}},
		Model:        "llama-2-7b-chat.Q4_K_M.gguf",
	}
	if err := s.CreatePersona(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := s.Persona(ctx, "pirate") // names ignore case
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Pirate" || got.SystemPrompt != p.SystemPrompt || got.Model != p.Model || got.Builtin {
		t.Errorf("Persona = %+v", got)
	}
	// Unset differs from 0.
	if got.Sampling.Temperature == nil || *got.Sampling.Temperature != 0 || got.Sampling.TopP != nil ||
		*got.Sampling.TopK != 40 || *got.Sampling.Seed != 7 || got.Sampling.Stop[0] != "Arr!" {
		t.Errorf("sampling = %s", got.Sampling)
	}
	wantErr(t, s.CreatePersona(ctx, Persona{Name: "PIRATE"}), ErrExists)

	// Edit and rename.
	p.Name, p.SystemPrompt, p.Sampling = "Captain", "Talk like a captain.", Sampling{TopP: Ptr(0.5)}
	if err := s.UpdatePersona(ctx, "Pirate", p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Persona(ctx, "Pirate"); err == nil {
		t.Error("old name still there after rename")
	}
	got, err = s.Persona(ctx, "Captain")
	if err != nil || got.SystemPrompt != "Talk like a captain." || got.Sampling.Temperature != nil || *got.Sampling.TopP != 0.5 {
		t.Errorf("after update: %+v, %v", got, err)
	}
	wantErr(t, s.UpdatePersona(ctx, "Nobody", p), ErrNotFound)
	wantErr(t, s.UpdatePersona(ctx, "Captain", Persona{Name: "Coding assistant"}), ErrExists)

	// Duplicate.
	dup, err := s.DuplicatePersona(ctx, "Captain", "")
	if err != nil || dup.Name != "Captain (copy)" || dup.SystemPrompt != got.SystemPrompt {
		t.Errorf("DuplicatePersona = %+v, %v", dup, err)
	}
	dup2, err := s.DuplicatePersona(ctx, "Captain", "")
	if err != nil || dup2.Name != "Captain (copy 2)" {
		t.Errorf("second duplicate = %q, %v", dup2.Name, err)
	}
	named, err := s.DuplicatePersona(ctx, "Llama 2 default", "My Llama")
	if err != nil || named.Builtin || named.SystemPrompt != metaDefaultSystemPrompt {
		t.Errorf("named duplicate = %+v, %v", named, err)
	}
	_, err = s.DuplicatePersona(ctx, "Captain", "My Llama")
	wantErr(t, err, ErrExists)

	// Delete.
	if err := s.DeletePersona(ctx, "captain (COPY)"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeletePersona(ctx, "Captain (copy)"), ErrNotFound)
	ps, err := s.Personas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if strings.Join(names, "|") != "Llama 2 default|Concise assistant|Shakespearean poet|Coding assistant|Captain|Captain (copy 2)|My Llama" {
		t.Errorf("personas = %q", names)
	}
}

func TestPersonaValidation(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	tests := []struct {
		name string
		p    Persona
	}{
		{"empty name", Persona{Name: ""}},
		{"blank name", Persona{Name: "   "}},
		{"padded name", Persona{Name: " Bob "}},
		{"control character", Persona{Name: "Bo\nb"}},
		{"long name", Persona{Name: strings.Repeat("x", 81)}},
		{"bad utf-8", Persona{Name: "ok", SystemPrompt: "\xff"}},
		{"huge prompt", Persona{Name: "ok", SystemPrompt: strings.Repeat("x", maxSystemPrompt+1)}},
		{"negative temperature", Persona{Name: "ok", Sampling: Sampling{Temperature: Ptr(-0.1)}}},
		{"top_p above 1", Persona{Name: "ok", Sampling: Sampling{TopP: Ptr(1.5)}}},
		{"min_p below 0", Persona{Name: "ok", Sampling: Sampling{MinP: Ptr(-1.0)}}},
		{"zero repeat penalty", Persona{Name: "ok", Sampling: Sampling{RepeatPenalty: Ptr(0.0)}}},
		{"negative top_k", Persona{Name: "ok", Sampling: Sampling{TopK: Ptr(-1)}}},
		{"zero max tokens", Persona{Name: "ok", Sampling: Sampling{MaxTokens: Ptr(0)}}},
		{"repeat_last_n below -1", Persona{Name: "ok", Sampling: Sampling{RepeatLastN: Ptr(-2)}}},
		{"presence penalty", Persona{Name: "ok", Sampling: Sampling{PresencePenalty: Ptr(3.0)}}},
		{"negative seed", Persona{Name: "ok", Sampling: Sampling{Seed: Ptr(int64(-5))}}},
		{"empty stop", Persona{Name: "ok", Sampling: Sampling{Stop: []string{""}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, s.CreatePersona(ctx, tc.p), ErrInvalid)
		})
	}
	ps, _ := s.Personas(ctx)
	if len(ps) != 4 {
		t.Errorf("invalid personas were stored: %d personas", len(ps))
	}
}

func TestBuiltinsSeedOnceAndRestore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePersona(ctx, "Shakespearean poet"); err != nil {
		t.Fatal(err)
	}
	edited := Persona{Name: "Llama 2 default", SystemPrompt: "Be terse."}
	if err := s.UpdatePersona(ctx, "Llama 2 default", edited); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Reopening does not bring deleted built-ins back nor undo edits.
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Persona(ctx, "Shakespearean poet"); err == nil {
		t.Error("a deleted built-in came back on reopen")
	}
	if p, _ := s.Persona(ctx, "Llama 2 default"); p.SystemPrompt != "Be terse." || !p.Builtin {
		t.Errorf("edited built-in after reopen = %+v", p)
	}

	if err := s.CreatePersona(ctx, Persona{Name: "Mine", SystemPrompt: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RestoreBuiltinPersonas(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := s.Persona(ctx, "Shakespearean poet")
	if err != nil || !p.Builtin {
		t.Errorf("restore did not bring the poet back: %+v, %v", p, err)
	}
	if p, _ := s.Persona(ctx, "Llama 2 default"); p.SystemPrompt != metaDefaultSystemPrompt || *p.Sampling.Temperature != 0.6 {
		t.Errorf("restore did not reset the edited built-in: %q", p.SystemPrompt)
	}
	if _, err := s.Persona(ctx, "Mine"); err != nil {
		t.Errorf("restore removed a custom persona: %v", err)
	}
}

func TestPersonaExportImport(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	mine := Persona{Name: "Haiku", SystemPrompt: "Always answer with a haiku.", Model: "m.gguf",
		Sampling: Sampling{Temperature: Ptr(1.1), MaxTokens: Ptr(64)}}
	if err := s.CreatePersona(ctx, mine); err != nil {
		t.Fatal(err)
	}
	data, err := s.ExportPersonas(ctx, "Haiku")
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil || f["format"] != PersonaFormat {
		t.Fatalf("export is not a persona file: %s", data)
	}

	other := openTemp(t)
	got, err := other.ImportPersonas(ctx, data, false)
	if err != nil || len(got) != 1 {
		t.Fatalf("ImportPersonas = %+v, %v", got, err)
	}
	p, err := other.Persona(ctx, "Haiku")
	if err != nil || p.SystemPrompt != mine.SystemPrompt || p.Model != "m.gguf" || *p.Sampling.Temperature != 1.1 || *p.Sampling.MaxTokens != 64 {
		t.Errorf("imported persona = %+v, %v", p, err)
	}
	again, err := other.ExportPersonas(ctx, "Haiku")
	if err != nil || string(again) != string(data) {
		t.Errorf("export of the import differs:\n%s\nvs\n%s", again, data)
	}

	// A taken name fails the whole import unless replacing.
	both, err := MarshalPersonas([]Persona{{Name: "New one", SystemPrompt: "a"}, {Name: "haiku", SystemPrompt: "changed"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.ImportPersonas(ctx, both, false)
	wantErr(t, err, ErrExists)
	if _, err := other.Persona(ctx, "New one"); err == nil {
		t.Error("a failed import left a persona behind")
	}
	if _, err := other.ImportPersonas(ctx, both, true); err != nil {
		t.Fatal(err)
	}
	if p, _ := other.Persona(ctx, "Haiku"); p.SystemPrompt != "changed" {
		t.Errorf("replace did not overwrite: %q", p.SystemPrompt)
	}

	// Every persona when no name is given.
	all, err := s.ExportPersonas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps, err := ParsePersonas(all); err != nil || len(ps) != 5 {
		t.Errorf("export of all = %d personas, %v", len(ps), err)
	}
	_, err = s.ExportPersonas(ctx, "Nobody")
	wantErr(t, err, ErrNotFound)
}

func TestBadPersonaFiles(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	tests := map[string]string{
		"empty":          ``,
		"not json":       `name: pirate`,
		"array":          `[{"name": "a"}]`,
		"wrong format":   `{"format": "other", "version": 1, "personas": []}`,
		"wrong version":  `{"format": "llamadesk.personas", "version": 2, "personas": []}`,
		"unknown field":  `{"format": "llamadesk.personas", "version": 1, "personas": [{"name": "a", "colour": "red"}]}`,
		"bad value":      `{"format": "llamadesk.personas", "version": 1, "personas": [{"name": "a", "sampling": {"top_p": 7}}]}`,
		"wrong type":     `{"format": "llamadesk.personas", "version": 1, "personas": [{"name": 5}]}`,
		"no name":        `{"format": "llamadesk.personas", "version": 1, "personas": [{"system_prompt": "x"}]}`,
		"duplicate":      `{"format": "llamadesk.personas", "version": 1, "personas": [{"name": "a"}, {"name": "A"}]}`,
		"trailing data":  `{"format": "llamadesk.personas", "version": 1, "personas": []} {}`,
		"truncated json": `{"format": "llamadesk.personas", "version": 1, "personas": [{"name": "a"`,
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := s.ImportPersonas(ctx, []byte(data), true)
			wantErr(t, err, ErrInvalid)
		})
	}
	if ps, _ := s.Personas(ctx); len(ps) != 4 {
		t.Errorf("bad files wrote personas: %d", len(ps))
	}
}

func FuzzParsePersonas(f *testing.F) {
	builtins, err := MarshalPersonas([]Persona{{Name: "a", SystemPrompt: "b", Sampling: Sampling{TopK: Ptr(3)}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(builtins)
	f.Add([]byte(`{"format": "llamadesk.personas", "version": 1, "personas": [{"name": "x", "sampling": {"temperature": 1e308}}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ParsePersonas(data)
		if err != nil {
			return
		}
		// What parses is valid, and survives a write and a read.
		for _, p := range ps {
			if err := p.Validate(); err != nil {
				t.Fatalf("parsed an invalid persona: %v", err)
			}
		}
		out, err := MarshalPersonas(ps)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParsePersonas(out)
		if err != nil || len(again) != len(ps) {
			t.Fatalf("re-parse: %d personas, %v", len(again), err)
		}
	})
}
