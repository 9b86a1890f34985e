package ui

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// Picking a persona makes its preferred model the chat's model; one that is
// not here is said, and the model in use stays.
func TestPersonaLoadsItsPreferredModel(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	p := tw.chat
	dir := filepath.Join(tw.home, "models")
	chatPath := filepath.Join(dir, "chat-q4_k_m.gguf")
	tinyPath := filepath.Join(dir, "tiny-q4_0.gguf")
	if err := os.Symlink(testenv.Path(t, "models", "tiny-q4_0.gguf"), tinyPath); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ps := range []history.Persona{
		{Name: "Tiny", SystemPrompt: "Be brief.", Model: "tiny-q4_0.gguf"},
		{Name: "Chatty", SystemPrompt: "Be chatty.", Model: "chat-q4_k_m"}, // without ".gguf"
		{Name: "Absent", SystemPrompt: "Be absent.", Model: "nowhere.gguf"},
		{Name: "Plain", SystemPrompt: "No preference."},
	} {
		if err := tw.app.Personas().Save(ctx, "", ps); err != nil {
			t.Fatal(err)
		}
	}
	tw.ui(func() {
		p.reloadPersonas()
		p.refreshModels(false)
	})
	tw.settle()
	tw.ui(func() {
		if got := p.modelPath(); got != chatPath {
			t.Fatalf("model at start: %q, want %q", got, chatPath)
		}
	})

	steps := []struct {
		persona    string
		wantModel  string
		wantNotice string // "" for no banner
		wantLoad   bool   // whether a model is loaded for the pick
	}{
		{persona: "Tiny", wantModel: tinyPath, wantLoad: true},
		{persona: "Absent", wantModel: tinyPath, wantNotice: "“Absent” prefers nowhere.gguf, which is not in the models folder. The model in use stays."},
		{persona: "Plain", wantModel: tinyPath},
		{persona: "Tiny", wantModel: tinyPath}, // already in use: not loaded again
		{persona: "Chatty", wantModel: chatPath, wantLoad: true},
	}
	for _, s := range steps {
		var loadsBefore int
		tw.ui(func() {
			loadsBefore = p.loadSeq
			p.personaSel.SetSelected(s.persona) // as if picked
		})
		tw.settle()
		tw.ui(func() {
			if got := p.modelPath(); got != s.wantModel {
				t.Errorf("after picking %q the model is %q, want %q", s.persona, got, s.wantModel)
			}
			if want := filepath.Base(s.wantModel); !strings.HasPrefix(p.modelSelect.Selected, want) {
				t.Errorf("after picking %q the model picker shows %q, want %s", s.persona, p.modelSelect.Selected, want)
			}
			if loaded := p.loadSeq != loadsBefore; loaded != s.wantLoad {
				t.Errorf("picking %q loaded a model: %v, want %v", s.persona, loaded, s.wantLoad)
			}
			notice := ""
			if p.bannerC.Visible() {
				notice = p.banner.Text
			}
			if notice != s.wantNotice {
				t.Errorf("after picking %q the banner says %q, want %q", s.persona, notice, s.wantNotice)
			}
		})
	}
}

// The persona editor's model picker offers the local models, plus the
// edited persona's preferred model when it is not here, and only while
// that persona is edited.
func TestPersonaEditorOffersAMissingModelOnlyForItsPersona(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	ctx := context.Background()
	for _, ps := range []history.Persona{
		{Name: "Gone", SystemPrompt: "Be gone.", Model: "gone.gguf"},
		{Name: "Here", SystemPrompt: "Be here."},
	} {
		if err := tw.app.Personas().Save(ctx, "", ps); err != nil {
			t.Fatal(err)
		}
	}
	pp := tw.personasPage
	tw.ui(func() { tw.tabs.Select(tw.personasTab) })
	tw.settle()
	find := func(name string) history.Persona {
		for _, p := range pp.personas {
			if p.Name == name {
				return p
			}
		}
		t.Fatalf("no persona %q in %+v", name, pp.personas)
		return history.Persona{}
	}
	tw.ui(func() {
		pp.edit(find("Gone"))
		if !slices.Contains(pp.model.Options, "gone.gguf") || !slices.Contains(pp.model.Options, "chat-q4_k_m.gguf") {
			t.Errorf("editing Gone offers %v", pp.model.Options)
		}
		pp.edit(find("Here"))
		if slices.Contains(pp.model.Options, "gone.gguf") || !slices.Contains(pp.model.Options, "chat-q4_k_m.gguf") {
			t.Errorf("editing Here offers %v", pp.model.Options)
		}
	})
}
