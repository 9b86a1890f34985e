package ui

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
)

// The bridge's frame and the page's adoption of a new chat's conversation
// are two fyne.Do calls in no fixed order: a first reply that ends at once
// (a remote refusing) may be over before the page knows its conversation.
func TestFirstReplyEndingBeforeItsConversationIsAdopted(t *testing.T) {
	tw := newTestWindow(t, false, app.ModelsConfig{})
	p := tw.chat
	th := saveConversation(t, tw, "Quick", "Hello?", "")
	id, msgID := th.Conversation.ID, th.Messages[1].ID
	tw.ui(func() {
		// As send leaves a new chat whose first message is on its way.
		draftID := p.draftID
		p.startingDraft = draftID
		p.appendViews(msgView{role: history.RoleUser, content: "Hello?"},
			msgView{role: history.RoleAssistant, status: history.StatusStreaming, streaming: true})
		p.setBusy(true)
		// The bridge's frame first, to the reply's end, then the adoption.
		p.replyEvents([]app.ReplyEvent{
			{Kind: app.EventChanged, ConversationID: id},
			{Kind: app.EventStarted, ConversationID: id, MessageID: msgID},
			{Kind: app.EventDone, ConversationID: id, MessageID: msgID, Err: errors.New("the server refused the request")},
		})
		p.conversationCreated(draftID, id)
	})
	tw.settle()
	tw.ui(func() {
		if p.convID != id {
			t.Fatalf("shows conversation %q, want the new one %q", p.convID, id)
		}
		if p.stopBtn.Visible() || !p.sendBtn.Visible() || p.busy() {
			t.Error("the page stayed busy after the reply ended")
		}
		if p.bannerC.Hidden || !strings.Contains(p.banner.Text, "The reply failed") {
			t.Errorf("banner %q (hidden %v), want the failure explained", p.banner.Text, p.bannerC.Hidden)
		}
		for _, v := range p.views {
			if v.streaming {
				t.Errorf("row %+v still shows a reply being written", v)
			}
		}
	})
}

// A reply ending in the conversation shown reloads it; a conversation
// clicked meanwhile must still open.
func TestReloadDoesNotCancelAnOpen(t *testing.T) {
	tw := newTestWindow(t, false, app.ModelsConfig{})
	p := tw.chat
	a := saveConversation(t, tw, "A", "In A", "Reply in A")
	b := saveConversation(t, tw, "B", "In B", "Reply in B")
	tw.ui(func() { p.openConversation(a.Conversation.ID) })
	tw.settle()
	tw.ui(func() {
		p.openConversation(b.Conversation.ID) // clicked
		p.reloadThread()                      // a reply ended in A while B loads
	})
	tw.settle()
	tw.ui(func() {
		if p.convID != b.Conversation.ID || len(p.views) != 2 || p.views[0].content != "In B" {
			t.Fatalf("shows %q (%d rows), want B opened", p.conv.Title, len(p.views))
		}
	})
	// An open still wins over a reload asked for before it.
	tw.ui(func() {
		p.reloadThread()
		p.openConversation(a.Conversation.ID)
	})
	tw.settle()
	tw.ui(func() {
		if p.convID != a.Conversation.ID || len(p.views) != 2 || p.views[0].content != "In A" {
			t.Fatalf("shows %q (%d rows), want A opened", p.conv.Title, len(p.views))
		}
	})
}

// A message refused after the person moved to another chat leaves that
// chat alone: no banner there, nothing put in its input.
func TestRefusalStaysWithItsChat(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	p := tw.chat
	busy := saveConversation(t, tw, "Busy", "Hi", "Hello")
	other := saveConversation(t, tw, "Other", "Hi", "Hello")
	svc := startLongReply(t, tw, busy.Conversation.ID)
	waitUI(t, tw, "the reply to start", func() bool {
		_, ok := svc.Activity(busy.Conversation.ID)
		return ok
	})
	tw.ui(func() { p.openConversation(other.Conversation.ID) })
	tw.settle()
	tw.ui(func() {
		test.Type(p.entry, "Are you there?")
		p.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		p.newDraft("") // a new chat, before the refusal comes back
	})
	tw.settle()
	tw.ui(func() {
		if p.convID != "" || len(p.views) != 0 {
			t.Fatalf("shows %q with %d rows, want the new chat", p.convID, len(p.views))
		}
		if p.entry.Text != "" {
			t.Errorf("the new chat's input holds %q, the other chat's message", p.entry.Text)
		}
		if !p.bannerC.Hidden {
			t.Errorf("the new chat shows the other chat's banner %q", p.banner.Text)
		}
		if p.stopBtn.Visible() || !p.sendBtn.Visible() {
			t.Error("the new chat shows Stop")
		}
	})
}

// Stop works in a new chat before its conversation exists (the Stop
// button shows from the moment the message is sent).
func TestStopBeforeTheConversationExists(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	p := tw.chat
	const maxTokens = 400
	const msg = "Tell me a very long story."
	tw.ui(func() {
		p.draftSampling = history.Sampling{MaxTokens: history.Ptr(maxTokens), Temperature: history.Ptr(0.0)}
		test.Type(p.entry, msg)
		p.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		if p.convID != "" || !p.stopBtn.Visible() {
			t.Fatalf("after sending: conversation %q, Stop shown %v; want no conversation yet and Stop", p.convID, p.stopBtn.Visible())
		}
		// The conversation is adopted on the UI goroutine, held here.
		p.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	})
	tw.settle()
	tw.uiMu.Lock()
	defer tw.uiMu.Unlock()
	if p.busy() || p.stopBtn.Visible() || !p.sendBtn.Visible() {
		t.Fatal("the page is still busy after Stop")
	}
	if p.convID == "" {
		// Stopped before anything was saved: the message is back in the input.
		if p.entry.Text != msg || len(p.views) != 0 {
			t.Fatalf("stopped before the start: input %q, %d rows; want the message back", p.entry.Text, len(p.views))
		}
		return
	}
	th, err := tw.app.Chat().Open(context.Background(), p.convID)
	if err != nil {
		t.Fatal(err)
	}
	if len(th.Messages) != 2 {
		t.Fatalf("%d messages saved, want 2", len(th.Messages))
	}
	if r := th.Messages[1]; r.Status != history.StatusCancelled || r.Stats.GeneratedTokens >= maxTokens {
		t.Fatalf("reply status %q after %d tokens; want it stopped", r.Status, r.Stats.GeneratedTokens)
	}
}

// A frame of a streaming reply parses its Markdown once (the measurer and
// the row share the parse).
func TestStreamingFrameParsesOnce(t *testing.T) {
	tw := newTestWindow(t, false, app.ModelsConfig{})
	p := tw.chat
	tw.ui(func() {
		p.views = []msgView{{id: 1, role: history.RoleUser, content: "Tell me a story"},
			{id: 2, role: history.RoleAssistant, status: history.StatusStreaming, streaming: true}}
		p.rebuildList(true)
	})
	tw.settle()
	tw.ui(func() {
		text := "Once upon a *time*"
		for range 3 {
			before := p.md.parseCount()
			text += " there was a **fox**."
			p.showStreamText(1, text)
			if n := p.md.parseCount() - before; n != 1 {
				t.Fatalf("a frame parsed the reply %d times, want once", n)
			}
		}
		drawn := false
		walk(p.list, func(o fyne.CanvasObject) bool {
			if r, ok := o.(*messageRow); ok && r.view.streaming && r.view.content == text {
				drawn = true
			}
			return true
		})
		if !drawn {
			t.Fatal("the streaming row does not show the last frame")
		}
	})
}
