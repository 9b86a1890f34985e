package ui

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
)

// waitUI polls cond (run as the UI goroutine) for up to 10 s.
func waitUI(t *testing.T, tw *testWindow, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ok := false
		tw.ui(func() { ok = cond() })
		if ok {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// overlayText returns the text of every label in the window's top overlay.
func overlayText(tw *testWindow) string {
	var b strings.Builder
	top := tw.win.Canvas().Overlays().Top()
	walk(top, func(o fyne.CanvasObject) bool {
		switch w := o.(type) {
		case *widget.Label:
			b.WriteString(w.Text + "\n")
		case *widget.Button:
			b.WriteString("[" + w.Text + "]\n")
		}
		return true
	})
	return b.String()
}

func TestTooLongMessageIsRefusedWithChoices(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	p := tw.chat
	// A small context, so that a short text overflows it (Fyne's Entry is
	// slow with tens of kilobytes).
	tw.ui(func() {
		tw.settings.ContextSize = 256
		p.loadModel(p.modelPath())
	})
	tw.settle()
	long := strings.Repeat("Tell me everything about the history of tea, in detail. ", 30)
	tw.ui(func() { p.entry.SetText(long) })
	// The live count says it is too long.
	waitUI(t, tw, "the token count", func() bool { return strings.HasPrefix(p.count.Text, "Too long") })
	sendMessage(tw, "")
	tw.settle()
	tw.ui(func() {
		if p.entry.Text != long {
			t.Errorf("the draft was not kept (%d of %d bytes)", len(p.entry.Text), len(long))
		}
		text := overlayText(tw)
		for _, want := range []string{"takes", "[Shorten it myself]", "[Cut the middle out", "[Use a context of", "[Cancel]"} {
			if !strings.Contains(text, want) {
				t.Errorf("the refusal lacks %q:\n%s", want, text)
			}
		}
	})
	// Nothing was saved.
	if list, _ := tw.app.Chat().List(context.Background()); len(list) != 0 {
		t.Fatalf("a refused message saved %d conversations", len(list))
	}
	// Cutting the middle makes it fit; it is then sent.
	tw.ui(func() {
		var cut *widget.Button
		walk(tw.win.Canvas().Overlays().Top(), func(o fyne.CanvasObject) bool {
			if b, ok := o.(*widget.Button); ok && strings.HasPrefix(b.Text, "Cut the middle") {
				cut = b
			}
			return true
		})
		test.Tap(cut)
	})
	tw.settle()
	tw.ui(func() {
		if len(p.entry.Text) >= len(long) || !strings.Contains(p.entry.Text, "…") {
			t.Fatalf("the draft was not cut: %d bytes", len(p.entry.Text))
		}
		p.draftSampling = history.Sampling{MaxTokens: history.Ptr(2)}
	})
	sendMessage(tw, "")
	tw.settle()
	if list, _ := tw.app.Chat().List(context.Background()); len(list) != 1 {
		t.Fatalf("the cut message was not sent: %d conversations", len(list))
	}
}

// saveConversation saves a conversation with the given messages (user,
// assistant, user, …) straight into the history.
func saveConversation(t *testing.T, tw *testWindow, title string, texts ...string) history.Thread {
	t.Helper()
	ctx := context.Background()
	store, err := tw.app.History()
	if err != nil {
		t.Fatal(err)
	}
	conv, err := tw.app.Chat().Create(ctx, history.NewConversation{Title: title})
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		if i%2 == 0 {
			if _, err := store.AppendUser(ctx, conv.ID, text); err != nil {
				t.Fatal(err)
			}
			continue
		}
		m, err := store.StartAssistant(ctx, conv.ID, "chat-q4_k_m.gguf")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.FinishAssistant(ctx, m.ID, history.Finish{Content: text, Status: history.StatusDone}); err != nil {
			t.Fatal(err)
		}
	}
	th, err := store.Thread(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestSearchShowsOneRowPerConversation(t *testing.T) {
	tw := newTestWindow(t, false, app.ModelsConfig{})
	many := saveConversation(t, tw, "Sea creatures", "Tell me about the walrus.", "The **walrus** lives in the Arctic.",
		"Is a walrus big?", "Yes, a `walrus` is huge.")
	saveConversation(t, tw, "Zoo", "We saw a walrus.", "Nice.")
	saveConversation(t, tw, "Other", "Nothing to see.", "Indeed.")
	s := tw.chat.sidebar
	tw.ui(func() { s.search.SetText("walrus") })
	tw.settle()
	tw.ui(func() {
		if len(s.entries) != 3 || s.entries[0].header != "2 conversations" {
			t.Fatalf("entries %+v, want a heading and one row per matching conversation", s.entries)
		}
		row := newSidebarRow(s)
		for _, e := range s.entries[1:] {
			row.set(e)
			if e.hit.ConversationID != many.Conversation.ID {
				continue
			}
			if !strings.Contains(row.title.Text, "4 matches") {
				t.Errorf("row title %q does not count the matches", row.title.Text)
			}
			bold := false
			for _, seg := range row.snippet.Segments {
				ts := seg.(*widget.TextSegment)
				if strings.ContainsAny(ts.Text, "«»`*") {
					t.Errorf("raw marks in the snippet: %q", ts.Text)
				}
				bold = bold || ts.Style.TextStyle.Bold && strings.EqualFold(ts.Text, "walrus")
			}
			if !bold || row.pin.Visible() || row.menu.Visible() {
				t.Errorf("snippet %+v: bold %v, pin shown %v", row.snippet.Segments, bold, row.pin.Visible())
			}
		}
		// Clicking the row opens the conversation at the matching message.
		for i, e := range s.entries {
			if e.hit != nil && e.hit.ConversationID == many.Conversation.ID {
				s.list.Select(i)
			}
		}
	})
	tw.settle()
	tw.ui(func() {
		if tw.chat.convID != many.Conversation.ID || len(tw.chat.views) != 4 {
			t.Fatalf("opened %q with %d rows", tw.chat.convID, len(tw.chat.views))
		}
	})
}

// A search hit in a version of a reply that is not shown opens the
// conversation at that version, also when the conversation is open.
func TestSearchHitOpensItsVersion(t *testing.T) {
	tw := newTestWindow(t, false, app.ModelsConfig{})
	th := saveConversation(t, tw, "Sea", "Tell me a story.", "An old narwhal slept on the ice.")
	store, err := tw.app.History()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := th.Messages[1]
	newer, err := store.Regenerate(ctx, old.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.FinishAssistant(ctx, newer.ID, history.Finish{Content: "A seal swam.", Status: history.StatusDone}); err != nil {
		t.Fatal(err)
	}
	p, s := tw.chat, tw.chat.sidebar
	tw.ui(func() { p.openConversation(th.Conversation.ID) })
	tw.settle()
	shown := func() []int64 {
		var ids []int64
		for _, v := range p.views {
			ids = append(ids, v.id)
		}
		return ids
	}
	tw.ui(func() {
		if got, want := shown(), []int64{th.Messages[0].ID, newer.ID}; !slices.Equal(got, want) {
			t.Fatalf("opened showing %v, want %v", got, want)
		}
		s.search.SetText("narwhal")
	})
	tw.settle()
	tw.ui(func() {
		for i, e := range s.entries {
			if e.hit != nil && e.hit.MessageID == old.ID {
				s.list.Select(i)
				return
			}
		}
		t.Fatalf("no search row for the old version: %+v", s.entries)
	})
	tw.settle()
	tw.ui(func() {
		if got, want := shown(), []int64{th.Messages[0].ID, old.ID}; p.convID != th.Conversation.ID || !slices.Equal(got, want) {
			t.Errorf("the hit opened %q showing %v, want %v", p.convID, got, want)
		}
	})
}

func TestUnsavedEditsAreNotThrownAway(t *testing.T) {
	tw := newTestWindow(t, false, app.ModelsConfig{})
	pp := tw.personasPage
	tw.ui(func() { tw.tabs.Select(tw.personasTab) })
	tw.settle()
	var first, second history.Persona
	tw.ui(func() {
		first, second = pp.personas[0], pp.personas[1]
		if pp.editing != first.Name || pp.edits.mark.Visible() {
			t.Fatalf("editing %q (mark shown %v), want %q unchanged", pp.editing, pp.edits.mark.Visible(), first.Name)
		}
		pp.prompt.SetText(first.SystemPrompt + " Be brief.")
		if !pp.edits.mark.Visible() {
			t.Error("no unsaved-changes mark after an edit")
		}
		pp.list.Select(1) // leave it
		if pp.edits.asking == nil || pp.editing != first.Name {
			t.Fatal("leaving an edited persona did not ask")
		}
		// Cancel: the edit stays, and so does the list's selection.
		test.Tap(findButton(tw.win.Canvas().Overlays().Top(), "Cancel"))
		if pp.prompt.Text != first.SystemPrompt+" Be brief." || pp.editing != first.Name {
			t.Fatal("Cancel lost the edit")
		}
		// Discard: the other persona opens, the edit is gone.
		pp.list.Select(1)
		test.Tap(findButton(tw.win.Canvas().Overlays().Top(), "Discard"))
		if pp.editing != second.Name || pp.edits.mark.Visible() {
			t.Fatalf("after Discard editing %q", pp.editing)
		}
		// Save: saved, then the other persona opens.
		pp.prompt.SetText("A new prompt.")
		pp.list.Select(0)
		test.Tap(findButton(tw.win.Canvas().Overlays().Top(), "Save"))
	})
	tw.settle()
	got, err := tw.app.Personas().Get(context.Background(), second.Name)
	if err != nil || got.SystemPrompt != "A new prompt." {
		t.Fatalf("Save did not save: %q, %v", got.SystemPrompt, err)
	}
	tw.ui(func() {
		if pp.editing != first.Name {
			t.Errorf("after Save editing %q, want %q", pp.editing, first.Name)
		}
	})

	// Settings: a mark, a question when leaving the tab, and Ctrl+S.
	sp := tw.settingsPage
	tw.ui(func() {
		tw.tabs.Select(tw.settingsTab)
		sp.threads.SetText("3")
		if !sp.edits.mark.Visible() {
			t.Error("no unsaved-changes mark in Settings")
		}
		tw.tabs.Select(tw.chatTab)
		if sp.edits.asking == nil || tw.tabs.Selected() != tw.settingsTab {
			t.Fatal("leaving edited settings did not ask and stay")
		}
		test.Tap(findButton(tw.win.Canvas().Overlays().Top(), "Cancel"))
		tw.saveForm() // Ctrl+S
	})
	tw.settle()
	if s, _ := tw.app.LoadSettings(context.Background()); s.Threads != 3 {
		t.Fatalf("Ctrl+S did not save the settings: threads %d", s.Threads)
	}
	tw.ui(func() {
		if sp.edits.mark.Visible() {
			t.Error("the mark stayed after saving")
		}
	})
}

func TestRepliesParsedOncePerMessage(t *testing.T) {
	tw := newTestWindow(t, false, app.ModelsConfig{})
	var texts []string
	for i := range 20 {
		texts = append(texts, "Question?", "- item\n  - nested\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nReply "+strings.Repeat("x", i))
	}
	th := saveConversation(t, tw, "Long", texts...)
	p := tw.chat
	tw.ui(func() { p.openConversation(th.Conversation.ID) })
	tw.settle()
	opened := p.md.parseCount()
	if opened != 20 {
		t.Fatalf("%d parses to open 20 replies", opened)
	}
	// Resizing and switching theme lay the replies out again, unparsed.
	tw.ui(func() {
		tw.win.Resize(fyne.NewSize(700, 600))
		p.width = 0
		p.rebuildList(true)
		applyTheme(tw.fyneApp, app.ThemeLight)
		p.themeChanged()
	})
	tw.settle()
	tw.ui(func() { p.openConversation("") })
	tw.ui(func() { p.openConversation(th.Conversation.ID) })
	tw.settle()
	if n := p.md.parseCount(); n != opened {
		t.Fatalf("%d parses after resizing, switching theme and opening again; want %d", n, opened)
	}
}

func TestOtherConversationsStayUsableWhileOneStreams(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	p := tw.chat
	busy := saveConversation(t, tw, "Busy", "Hi", "Hello")
	other := saveConversation(t, tw, "Other", "Hi", "Hello")
	svc := startLongReply(t, tw, busy.Conversation.ID)
	waitUI(t, tw, "the reply to stream", func() bool {
		a, ok := svc.Activity(busy.Conversation.ID)
		return ok && a.Live.TokensPerSecond > 0
	})
	tw.ui(func() { p.openConversation(other.Conversation.ID) })
	tw.settle()
	// The sidebar marks the one being written in, with its speed.
	waitUI(t, tw, "the sidebar's mark", func() bool {
		row := newSidebarRow(p.sidebar)
		for _, e := range p.sidebar.entries {
			if e.header == "" && e.conv.ID == busy.Conversation.ID {
				row.set(e)
				return row.writing.Visible() && strings.Contains(row.detail.Text, "tokens/s")
			}
		}
		return false
	})
	tw.ui(func() {
		if p.stopBtn.Visible() || !p.sendBtn.Visible() || p.modelSelect.Disabled() {
			t.Fatal("the other conversation shows Stop or a disabled model picker")
		}
	})
	// A message there is refused with a reason, and kept.
	sendMessage(tw, "Are you there?")
	tw.settle()
	tw.ui(func() {
		if p.entry.Text != "Are you there?" || p.bannerC.Hidden || !strings.Contains(p.banner.Text, "“Busy”") {
			t.Fatalf("entry %q, banner %q", p.entry.Text, p.banner.Text)
		}
	})
	th, _ := svc.Open(context.Background(), other.Conversation.ID)
	if len(th.Messages) != 2 {
		t.Fatalf("the refused message was saved: %d messages", len(th.Messages))
	}
}
