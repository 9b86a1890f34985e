package ui

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// testWindow is a real window (Fyne's test driver: fyne.Do runs at once)
// over a real App in a temporary data folder.
type testWindow struct {
	*Window
	home string
}

// newTestWindow opens a window on a fresh data folder. With chatModel, the
// shared chat model is linked into the models folder (and loads at start).
// cfg configures the model manager (its Dir is the data folder's models).
func newTestWindow(t *testing.T, chatModel bool, cfg app.ModelsConfig) *testWindow {
	t.Helper()
	fa := test.NewTempApp(t)
	home := t.TempDir()
	getenv := func(k string) string {
		if k == app.HomeEnv {
			return home
		}
		return ""
	}
	if chatModel {
		src := testenv.Path(t, "models", "chat-q4_k_m.gguf")
		dir := filepath.Join(home, "models")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(src, filepath.Join(dir, "chat-q4_k_m.gguf")); err != nil {
			t.Fatal(err)
		}
	}
	a, err := app.Open(getenv)
	if err != nil {
		t.Fatal(err)
	}
	s := app.DefaultSettings()
	s.Backend = app.BackendCPU // the same numbers on every machine
	if err := a.SaveSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	svc, err := app.NewModels(home, getenv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(fa, a, Options{Models: svc})
	if err != nil {
		t.Fatal(err)
	}
	w.uiMu.Lock()
	w.win.Resize(fyne.NewSize(1100, 760))
	w.uiMu.Unlock()
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	tw := &testWindow{Window: w, home: home}
	tw.settle()
	return tw
}

// ui runs fn as the UI goroutine would: holding the lock that background
// results take (Fyne's test driver runs them on their own goroutines).
func (tw *testWindow) ui(fn func()) {
	tw.uiMu.Lock()
	defer tw.uiMu.Unlock()
	fn()
}

// settle waits until no background work is left and the chat service's
// events have reached the widgets.
func (tw *testWindow) settle() {
	for range 3 {
		tw.wait()
		time.Sleep(10 * time.Millisecond)
		for i := 0; i < 500 && !tw.bridge.quiet(); i++ {
			time.Sleep(5 * time.Millisecond)
		}
	}
	tw.wait()
}

// saveInFileDialog saves in the Fyne save dialog that what (a shortcut, a
// button) opened: folder dir, file name, then Save. Call it holding the
// UI lock (tw.ui).
func (tw *testWindow) saveInFileDialog(t *testing.T, what, dir, name string) {
	t.Helper()
	d := tw.lastFileDialog
	if d == nil {
		t.Fatalf("%s opened no save dialog", what)
	}
	lister, err := storage.ListerForURI(storage.NewFileURI(dir))
	if err != nil {
		t.Fatal(err)
	}
	d.SetLocation(lister)
	d.SetFileName(name)
	save := findButton(tw.win.Canvas().Overlays().Top(), "Save")
	if save == nil {
		t.Fatal("no Save button in the dialog")
	}
	test.Tap(save)
}

// findButton returns the first visible button labelled text under o.
func findButton(o fyne.CanvasObject, text string) *widget.Button {
	var found *widget.Button
	walk(o, func(c fyne.CanvasObject) bool {
		if b, ok := c.(*widget.Button); ok && b.Text == text && b.Visible() {
			found = b
			return false
		}
		return true
	})
	return found
}

// walk visits o and everything drawn under it until visit returns false.
func walk(o fyne.CanvasObject, visit func(fyne.CanvasObject) bool) bool {
	if o == nil || !visit(o) {
		return false
	}
	switch c := o.(type) {
	case *fyne.Container:
		for _, child := range c.Objects {
			if !walk(child, visit) {
				return false
			}
		}
	case fyne.Widget:
		r := test.WidgetRenderer(c)
		if r == nil {
			return true
		}
		for _, child := range r.Objects() {
			if !walk(child, visit) {
				return false
			}
		}
	}
	return true
}

// startLongReply starts a long sampled reply in conversation id through the
// chat service (as another window would), stops it when the test ends, and
// returns the service.
func startLongReply(t *testing.T, tw *testWindow, id string) *app.Chat {
	t.Helper()
	svc := tw.app.Chat()
	done := make(chan error, 1)
	go func() {
		_, err := svc.Send(context.Background(), id, "Tell me a long story.",
			app.ReplyOptions{Sampling: history.Sampling{Temperature: history.Ptr(1.0), MaxTokens: history.Ptr(100000)}}, nil)
		done <- err
	}()
	t.Cleanup(func() {
		svc.Stop(id)
		<-done
	})
	return svc
}
