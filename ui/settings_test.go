package ui

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/models"
)

func TestSettingsPageSavesAndApplies(t *testing.T) {
	tw := newTestWindow(t, false, app.ModelsConfig{})
	sp := tw.settingsPage
	tw.ui(func() {
		tw.openSettings()
		sp.threads.SetText("3")
		sp.theme.SetSelected("Light")
		sp.contextSize.SetText("2048")
		sp.policy.SetSelected(policyLabels["truncate-middle"])
		test.Tap(findButton(sp.content, "Save settings"))
	})
	tw.settle()
	got, err := tw.app.LoadSettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Threads != 3 || got.Theme != app.ThemeLight || got.ContextSize != 2048 || got.OverflowPolicy != "truncate-middle" {
		t.Fatalf("saved %+v", got)
	}
	if th, ok := tw.fyneApp.Settings().Theme().(llamaTheme); !ok || !th.forced || th.variant != theme.VariantLight {
		t.Errorf("the light theme was not applied: %T", tw.fyneApp.Settings().Theme())
	}

	// A bad value is refused and nothing is saved.
	tw.ui(func() {
		sp.threads.SetText("many")
		test.Tap(findButton(sp.content, "Save settings"))
	})
	tw.settle()
	if again, _ := tw.app.LoadSettings(context.Background()); again.Threads != 3 {
		t.Errorf("threads became %d after a refused save", again.Threads)
	}
	tw.ui(func() {
		if tw.win.Canvas().Overlays().Top() == nil {
			t.Error("no error shown for threads \"many\"")
		}
	})
}

func TestSettingsPageStoresTokenOutsideDatabase(t *testing.T) {
	tw := newTestWindow(t, false, app.ModelsConfig{})
	sp := tw.settingsPage
	tw.ui(func() {
		sp.token.SetText("hf_abcdefghijklmnopqrstuvwxyz0123")
		sp.saveToken()
	})
	tw.settle()
	path := models.TokenPath(tw.home)
	data, err := os.ReadFile(path)
	if err != nil || string(data) == "" {
		t.Fatalf("token file %s: %v", path, err)
	}
	all, err := tw.app.History()
	if err != nil {
		t.Fatal(err)
	}
	stored, err := all.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range stored {
		if v == "hf_abcdefghijklmnopqrstuvwxyz0123" {
			t.Errorf("the token is in the database under %s", k)
		}
	}
	tw.ui(func() {
		if sp.token.Text != "" {
			t.Error("the token stays in the entry after saving")
		}
		sp.removeToken()
	})
	tw.settle()
	if _, err := os.Stat(filepath.Clean(path)); err == nil {
		t.Error("the token file is still there after removing it")
	}
}
