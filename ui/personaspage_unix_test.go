//go:build unix

package ui

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/ncruces/zenity"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
)

// TestPersonasExportWritesFile exports the personas with the page's
// Export… button through Fyne's save dialog and checks the file: every
// persona, written as the command line's exports write (the file the
// dialog created keeps its mode, 0666 less the umask, rather than being
// narrowed to a fixed 0644).
func TestPersonasExportWritesFile(t *testing.T) {
	if zenity.IsAvailable() {
		t.Skip("a native file dialog would open; this test drives Fyne's fallback dialog")
	}
	old := syscall.Umask(0o002)
	defer syscall.Umask(old)
	tw := newTestWindow(t, false, app.ModelsConfig{})
	all, err := tw.app.Personas().List(context.Background())
	if err != nil || len(all) == 0 {
		t.Fatalf("personas %d (%v), want the built-in ones", len(all), err)
	}
	dir := t.TempDir()
	tw.ui(func() {
		tw.tabs.Select(tw.personasTab)
		var export *tipButton
		walk(tw.personasPage.content, func(o fyne.CanvasObject) bool {
			if b, ok := o.(*tipButton); ok && b.Text == "Export…" {
				export = b
			}
			return export == nil
		})
		if export == nil {
			t.Fatal("no Export… button on the personas page")
		}
		test.Tap(export)
		tw.saveInFileDialog(t, "Export…", dir, "personas.json")
	})
	tw.settle()

	path := filepath.Join(dir, "personas.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := history.ParsePersonas(data)
	if err != nil || len(got) != len(all) {
		t.Fatalf("exported %d personas (%v), want %d", len(got), err, len(all))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o664 {
		t.Fatalf("mode %v, want 0664 (0666 less the umask 002)", fi.Mode().Perm())
	}
}
