package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/llamadesk/llamadesk/app"
)

// longReply is a Markdown reply of a few paragraphs and a code block.
func longReply(i int) string {
	return fmt.Sprintf("Answer **%d**. %s\n\n```go\nfunc f%d() int {\n\treturn %d\n}\n```\n\n- point one\n- point two",
		i, strings.Repeat("Some words that wrap across the row. ", i%7+1), i, i)
}

// openLong opens a window on a conversation of 500 messages.
func openLong(t *testing.T) *testWindow {
	tw := newTestWindow(t, false, app.ModelsConfig{})
	store, err := tw.app.History()
	if err != nil {
		t.Fatal(err)
	}
	c := addConversation(t, store, "Long", 250, longReply)
	tw.ui(func() { tw.chat.openConversation(c.ID) })
	tw.settle()
	return tw
}

func TestLongConversationIsVirtualised(t *testing.T) {
	tw := openLong(t)
	p := tw.chat
	tw.uiMu.Lock()
	defer tw.uiMu.Unlock()
	if len(p.views) != 500 || p.list.Length() != 500 {
		t.Fatalf("%d rows, list of %d; want 500", len(p.views), p.list.Length())
	}
	for i, v := range p.views {
		if v.height <= 0 || v.heightWidth != p.measureWidth() {
			t.Fatalf("row %d has no height measured at the list's width", i)
		}
	}
	// Opening scrolls to the end; only a screenful of rows exists.
	rows := 0
	walk(p.list, func(o fyne.CanvasObject) bool {
		if _, ok := o.(*messageRow); ok {
			rows++
			return false
		}
		return true
	})
	if rows == 0 || rows > 40 {
		t.Fatalf("%d message rows were made for 500 messages; want only the visible ones", rows)
	}
	if !p.atBottom() {
		t.Error("a conversation does not open at its end")
	}
	// Scrolling through draws the right rows without measuring again.
	before := p.views[250].height
	p.list.ScrollTo(250)
	found := false
	walk(p.list, func(o fyne.CanvasObject) bool {
		if r, ok := o.(*messageRow); ok && r.view.id == p.views[250].id && r.Visible() {
			found = true
		}
		return true
	})
	if !found {
		t.Error("row 250 is not drawn after scrolling to it")
	}
	if p.views[250].height != before {
		t.Error("scrolling changed a measured height")
	}
}

// BenchmarkOpenLongConversation measures opening (measuring and listing)
// a conversation of 500 messages.
func BenchmarkOpenLongConversation(b *testing.B) {
	tw := newBenchWindow(b)
	store, err := tw.app.History()
	if err != nil {
		b.Fatal(err)
	}
	c := addConversation(b, store, "Long", 250, longReply)
	ctx := context.Background()
	th, err := store.Thread(ctx, c.ID)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		tw.chat.views = nil
		tw.chat.showThread(th, true)
	}
}

// BenchmarkScrollLongConversation measures scrolling through 500 messages
// one screen at a time (rows are re-used; heights are cached).
func BenchmarkScrollLongConversation(b *testing.B) {
	tw := newBenchWindow(b)
	store, err := tw.app.History()
	if err != nil {
		b.Fatal(err)
	}
	c := addConversation(b, store, "Long", 250, longReply)
	th, err := store.Thread(context.Background(), c.ID)
	if err != nil {
		b.Fatal(err)
	}
	tw.chat.showThread(th, false)
	total := tw.chat.contentHeight()
	b.ResetTimer()
	y := float32(0)
	for range b.N {
		y += 300
		if y > total {
			y = 0
		}
		tw.chat.list.ScrollToOffset(y)
	}
}

// newBenchWindow is newTestWindow for benchmarks.
func newBenchWindow(b *testing.B) *testWindow {
	b.Helper()
	fa := test.NewTempApp(b)
	home := b.TempDir()
	getenv := func(k string) string {
		if k == app.HomeEnv {
			return home
		}
		return ""
	}
	a, err := app.Open(getenv)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := app.NewModels(home, getenv, app.ModelsConfig{})
	if err != nil {
		b.Fatal(err)
	}
	w, err := New(fa, a, Options{Models: svc})
	if err != nil {
		b.Fatal(err)
	}
	w.uiMu.Lock()
	w.win.Resize(fyne.NewSize(1100, 760))
	w.uiMu.Unlock()
	b.Cleanup(func() { w.Close() })
	tw := &testWindow{Window: w, home: home}
	tw.settle()
	return tw
}

// BenchmarkStreamFrame measures one redraw of a streaming reply that has
// grown to about 8 kB, a word per frame, in paragraphs or in one.
func BenchmarkStreamFrame(b *testing.B) {
	b.Run("paragraphs", func(b *testing.B) { benchStream(b, true) })
	b.Run("one paragraph", func(b *testing.B) { benchStream(b, false) })
}

func benchStream(b *testing.B, paragraphs bool) {
	tw := newBenchWindow(b)
	p := tw.chat
	p.views = []msgView{{role: "user", content: "Tell me a story", id: 1},
		{role: "assistant", streaming: true, status: "streaming"}}
	p.rebuildList(true)
	var text strings.Builder
	words := strings.Fields(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 200))
	for i := range 1200 {
		text.WriteString(words[i] + " ")
		if paragraphs && i%40 == 39 {
			text.WriteString("\n\n")
		}
	}
	b.ResetTimer()
	for i := range b.N {
		text.WriteString(words[i%len(words)] + " ")
		p.showStreamText(1, text.String())
	}
}
