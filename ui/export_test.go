package ui

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"github.com/ncruces/zenity"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
)

// addConversation saves a conversation of n exchanges straight into the history.
func addConversation(t testing.TB, store *history.Store, title string, n int, reply func(i int) string) history.Conversation {
	t.Helper()
	ctx := context.Background()
	c, err := store.CreateConversation(ctx, history.NewConversation{Title: title, Model: "chat-q4_k_m.gguf"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := store.AppendUser(ctx, c.ID, "Question number "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		m, err := store.StartAssistant(ctx, c.ID, "chat-q4_k_m.gguf")
		if err != nil {
			t.Fatal(err)
		}
		err = store.FinishAssistant(ctx, m.ID, history.Finish{Content: reply(i), Status: history.StatusDone, TokenCount: 12,
			Stats: history.Stats{GeneratedTokens: 12, TokensPerSecond: 30, TimeToFirstTokenMs: 80, Backend: "cpu", StopReason: "eos"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err = store.Conversation(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExportShortcutWritesFile(t *testing.T) {
	if zenity.IsAvailable() {
		t.Skip("a native file dialog would open; this test drives Fyne's fallback dialog")
	}
	tw := newTestWindow(t, false, app.ModelsConfig{})
	store, err := tw.app.History()
	if err != nil {
		t.Fatal(err)
	}
	c := addConversation(t, store, "Export me", 2, func(int) string { return "An answer with `code`." })
	tw.ui(func() { tw.chat.openConversation(c.ID) })
	tw.settle()
	dir := t.TempDir()
	tw.ui(func() {
		if tw.chat.convID != c.ID || len(tw.chat.views) != 4 {
			t.Fatalf("opened %q with %d rows", tw.chat.convID, len(tw.chat.views))
		}
		// Ctrl/Cmd+E opens the save dialog (Fyne's, as no native one is installed).
		tw.win.Canvas().(fyne.Shortcutable).TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyE, Modifier: fyne.KeyModifierShortcutDefault})
		tw.saveInFileDialog(t, "Ctrl+E", dir, "conversation.json")
	})
	tw.settle()

	data, err := os.ReadFile(filepath.Join(dir, "conversation.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Format       string `json:"format"`
		Conversation struct {
			Title string `json:"title"`
		} `json:"conversation"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, data)
	}
	if doc.Format != history.ConversationFormat || doc.Conversation.Title != "Export me" {
		t.Errorf("export format %q title %q", doc.Format, doc.Conversation.Title)
	}
	tw.ui(func() {
		if !strings.Contains(tw.chat.status.Text, "conversation.json") {
			t.Errorf("status %q does not say where the export went", tw.chat.status.Text)
		}
	})
}

func TestExportFormatFor(t *testing.T) {
	tests := []struct {
		path, wantPath string
		want           history.Format
	}{
		{"/x/chat.md", "/x/chat.md", history.FormatMarkdown},
		{"/x/chat.JSON", "/x/chat.JSON", history.FormatJSON},
		{"/x/chat.html", "/x/chat.html", history.FormatHTML},
		{"/x/chat.txt", "/x/chat.txt", history.FormatText},
		{"/x/chat", "/x/chat.md", history.FormatMarkdown},
		{"/x/chat.pdf", "/x/chat.pdf.md", history.FormatMarkdown},
	}
	for _, tt := range tests {
		path, f := exportFormatFor(tt.path)
		if path != tt.wantPath || f != tt.want {
			t.Errorf("exportFormatFor(%q) = %q, %q; want %q, %q", tt.path, path, f, tt.wantPath, tt.want)
		}
	}
}
