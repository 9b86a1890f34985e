package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
)

// streamLog collects the texts a streaming row showed.
type streamLog struct {
	mu    sync.Mutex
	texts []string
}

func (l *streamLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.texts = append(l.texts, s)
}

func (l *streamLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.texts...)
}

// sendMessage types text into the input and presses Enter.
func sendMessage(tw *testWindow, text string) {
	tw.ui(func() {
		test.Type(tw.chat.entry, text)
		tw.chat.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	})
}

func TestSendShowsMessageAndStreamsReply(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	p := tw.chat
	var log streamLog
	var sawUser bool
	tw.ui(func() {
		if p.model == nil {
			t.Fatal("the only local model was not loaded at start")
		}
		p.draftSampling = history.Sampling{MaxTokens: history.Ptr(400), Temperature: history.Ptr(0.0)}
		p.streamShown = func(text string) {
			log.add(text)
			if len(p.views) >= 2 && p.views[0].role == history.RoleUser && p.views[0].content == "Hello, llama!" {
				sawUser = true
			}
		}
	})
	sendMessage(tw, "Hello, llama!")
	tw.ui(func() {
		if p.entry.Text != "" {
			t.Errorf("the input still holds %q after sending", p.entry.Text)
		}
	})
	tw.settle()
	tw.uiMu.Lock()
	defer tw.uiMu.Unlock()

	texts := log.all()
	if len(texts) < 2 {
		t.Fatalf("the reply was drawn %d times while streaming, want several frames", len(texts))
	}
	for i := 1; i < len(texts); i++ {
		if !strings.HasPrefix(texts[i], texts[i-1]) || len(texts[i]) <= len(texts[i-1]) {
			t.Fatalf("frame %d does not grow the reply: %q then %q", i, texts[i-1], texts[i])
		}
	}
	if !sawUser {
		t.Error("the sent message was not shown above the streaming reply")
	}
	if p.convID == "" {
		t.Fatal("no conversation was created for the new chat")
	}
	if len(p.views) != 2 {
		t.Fatalf("%d rows after the reply, want 2", len(p.views))
	}
	reply := p.views[1]
	if reply.streaming || reply.status != history.StatusDone || reply.content == "" {
		t.Fatalf("reply row = %+v, want a finished reply", reply)
	}
	if last := texts[len(texts)-1]; !strings.HasPrefix(reply.content, last) {
		t.Errorf("saved reply %q does not continue the streamed %q", reply.content, last)
	}
	if footer, _ := footerText(reply); !strings.Contains(footer, "tokens/s") || !strings.Contains(footer, "first token") {
		t.Errorf("footer %q lacks tokens/s and time to first token", footer)
	}
	store, err := tw.app.History()
	if err != nil {
		t.Fatal(err)
	}
	th, err := store.Thread(context.Background(), p.convID)
	if err != nil {
		t.Fatal(err)
	}
	if len(th.Messages) != 2 || th.Messages[0].Content != "Hello, llama!" || th.Messages[1].Content != reply.content {
		t.Errorf("saved thread %+v does not match the rows", th.Messages)
	}
	if p.sendBtn.Hidden || !p.stopBtn.Hidden {
		t.Error("the Send button did not come back after the reply")
	}
	// The conversation is listed in the sidebar.
	found := false
	for _, e := range p.sidebar.entries {
		found = found || e.conv.ID == p.convID
	}
	if !found {
		t.Error("the new conversation is not in the sidebar")
	}
}

func TestShiftEnterBreaksLineEnterSends(t *testing.T) {
	e := newChatEntry()
	test.NewTempWindow(t, e)
	sent := 0
	e.onSend = func() { sent++ }
	test.Type(e, "one")
	e.KeyDown(&fyne.KeyEvent{Name: "LeftShift"})
	e.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	e.KeyUp(&fyne.KeyEvent{Name: "LeftShift"})
	test.Type(e, "two")
	if e.Text != "one\ntwo" || sent != 0 {
		t.Fatalf("after Shift+Enter: text %q, sent %d; want a line break and nothing sent", e.Text, sent)
	}
	e.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if sent != 1 || e.Text != "one\ntwo" {
		t.Fatalf("after Enter: text %q, sent %d; want it sent once, text untouched", e.Text, sent)
	}
	stopped := false
	e.onEscape = func() { stopped = true }
	e.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if !stopped {
		t.Error("Esc did not ask to stop")
	}
}

func TestStopStopsReply(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	p := tw.chat
	const maxTokens = 3000
	var once sync.Once
	tw.ui(func() {
		p.draftSampling = history.Sampling{MaxTokens: history.Ptr(maxTokens), Temperature: history.Ptr(0.0)}
		p.streamShown = func(string) {
			once.Do(func() {
				if p.stopBtn.Hidden {
					t.Error("no Stop button while the reply streams")
				}
				// Esc in the input stops the reply.
				p.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
			})
		}
	})
	sendMessage(tw, "Tell me a very long story.")
	tw.settle()
	tw.uiMu.Lock()
	defer tw.uiMu.Unlock()
	if p.busy() {
		t.Fatal("the reply is still running")
	}
	store, err := tw.app.History()
	if err != nil {
		t.Fatal(err)
	}
	th, err := store.Thread(context.Background(), p.convID)
	if err != nil {
		t.Fatal(err)
	}
	if len(th.Messages) != 2 {
		t.Fatalf("%d messages saved, want 2", len(th.Messages))
	}
	r := th.Messages[1]
	if r.Status != history.StatusCancelled || r.Stats.StopReason != "cancelled" {
		t.Fatalf("reply status %q, stop reason %q; want cancelled", r.Status, r.Stats.StopReason)
	}
	if r.Content == "" || r.Stats.GeneratedTokens >= maxTokens {
		t.Fatalf("stopped reply has %d tokens and text %q; want a partial reply", r.Stats.GeneratedTokens, r.Content)
	}
	if footer, _ := footerText(p.views[1]); !strings.Contains(footer, "stopped") {
		t.Errorf("footer %q does not say the reply was stopped", footer)
	}
}

func TestPersonaPickerChangesSystemPrompt(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	p := tw.chat
	store, err := tw.app.History()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	personas, err := store.Personas(ctx)
	if err != nil || len(personas) < 2 {
		t.Fatalf("personas: %v, %v", personas, err)
	}
	var prompts []string
	for _, persona := range personas[:2] {
		tw.ui(func() {
			p.personaSel.SetSelected(persona.Name) // as if picked
			if p.draftPersona != persona.Name {
				t.Fatalf("picking %q set the draft persona to %q", persona.Name, p.draftPersona)
			}
			p.draftSampling = history.Sampling{MaxTokens: history.Ptr(4)}
		})
		sendMessage(tw, "Who are you?")
		tw.settle()
		var convID string
		tw.ui(func() { convID = p.convID })
		th, err := store.Thread(ctx, convID)
		if err != nil {
			t.Fatal(err)
		}
		if th.Conversation.Persona != persona.Name || th.Conversation.SystemPrompt != persona.SystemPrompt {
			t.Fatalf("conversation persona %q prompt %q; want %q's", th.Conversation.Persona, th.Conversation.SystemPrompt, persona.Name)
		}
		if got := app.ChatConversation(th).System; got != persona.SystemPrompt {
			t.Fatalf("the engine was given system prompt %q, want %q's", got, persona.Name)
		}
		prompts = append(prompts, th.Conversation.SystemPrompt)
		// Picking another persona in a conversation with messages starts a new chat.
	}
	if prompts[0] == prompts[1] {
		t.Fatal("both personas gave the same system prompt")
	}
	tw.ui(func() {
		p.personaSel.SetSelected(noPersona)
		if p.convID != "" || len(p.views) != 0 || p.draftPersona != "" {
			t.Errorf("picking no persona in a conversation did not start a new chat without one")
		}
	})
}

func TestRegenerateAndSwitchVersions(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	p := tw.chat
	tw.ui(func() {
		p.draftSampling = history.Sampling{MaxTokens: history.Ptr(6), Temperature: history.Ptr(1.5), Seed: history.Ptr(int64(1))}
	})
	sendMessage(tw, "Say something.")
	tw.settle()
	var first msgView
	var conv history.Conversation
	tw.ui(func() { first, conv = p.views[1], p.conv })
	// A new seed for the second version, so that it differs.
	store, err := tw.app.History()
	if err != nil {
		t.Fatal(err)
	}
	s := conv.Sampling
	s.Seed = history.Ptr(int64(2))
	if err := store.UpdateSettings(context.Background(), conv.ID, history.ConversationSettings{SystemPrompt: conv.SystemPrompt, Model: conv.Model, Sampling: s}); err != nil {
		t.Fatal(err)
	}
	var row *messageRow
	tw.ui(func() {
		row = newMessageRow(p.rowActions())
		row.set(first)
		test.Tap(row.regenBtn)
	})
	tw.settle()
	tw.ui(func() {
		second := p.views[1]
		if second.versions != 2 || second.version != 2 || second.id == first.id {
			t.Fatalf("after regenerating: %+v, want version 2 of 2", second)
		}
		if second.content == first.content {
			t.Errorf("the new version repeats the first: %q", second.content)
		}
		row.set(second)
		if !row.prev.Visible() || row.prev.Disabled() || !row.next.Disabled() {
			t.Fatal("the version buttons do not offer the previous version")
		}
		test.Tap(row.prev)
	})
	tw.settle()
	tw.ui(func() {
		if back := p.views[1]; back.id != first.id || back.content != first.content || back.version != 1 {
			t.Fatalf("switched to %+v, want the first version back", back)
		}
	})
}

func TestDroppedTurnsNotice(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	p := tw.chat
	// A context of 128 tokens, so that a few turns overflow it.
	tw.ui(func() {
		tw.settings.ContextSize = 128
		p.loadModel(p.modelPath())
	})
	tw.settle()
	tw.ui(func() { p.draftSampling = history.Sampling{MaxTokens: history.Ptr(24)} })
	long := strings.Repeat("word ", 30)
	hidden := func() (h bool) {
		tw.ui(func() { h = p.bannerC.Hidden })
		return h
	}
	for i := 0; i < 4 && hidden(); i++ {
		sendMessage(tw, long)
		tw.settle()
	}
	tw.uiMu.Lock()
	defer tw.uiMu.Unlock()
	if p.bannerC.Hidden || !strings.Contains(p.banner.Text, "left out") {
		t.Fatalf("no notice about dropped turns (banner %q)", p.banner.Text)
	}
	last := p.views[len(p.views)-1]
	if n := noticeText(last); n == "" {
		t.Errorf("the reply row shows no dropped-turns notice: %+v", last)
	}
}

func TestDamagedHistoryOffersFreshStart(t *testing.T) {
	fa := test.NewTempApp(t)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, app.HistoryFile), []byte(strings.Repeat("not a database ", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(func(k string) string {
		if k == app.HomeEnv {
			return home
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(fa, a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tw := &testWindow{Window: w, home: home}
	t.Cleanup(func() { w.Close() })
	tw.settle()
	tw.ui(func() {
		yes := findButton(w.win.Canvas().Overlays().Top(), "Yes")
		if yes == nil {
			t.Fatal("no offer to start a fresh history")
		}
		test.Tap(yes)
	})
	tw.settle()
	store, err := a.History()
	if err != nil {
		t.Fatalf("history after a fresh start: %v", err)
	}
	if ps, err := store.Personas(context.Background()); err != nil || len(ps) == 0 {
		t.Fatalf("fresh history has personas %v, %v", ps, err)
	}
	tw.ui(func() {
		if len(tw.chat.personas) == 0 {
			t.Error("the persona picker was not filled after the fresh start")
		}
	})
}
