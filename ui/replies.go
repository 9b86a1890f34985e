package ui

import (
	"context"
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/history"
)

// replyOptions are the options of the next reply (from the settings and,
// for a new chat, the sampling chosen for it).
func (p *chatPage) replyOptions() app.ReplyOptions {
	return app.ReplyOptions{Policy: p.w.settings.Policy()}
}

// busy reports whether a reply is being written in what is shown.
func (p *chatPage) busy() bool {
	if p.convID == "" {
		return p.startingDraft != 0 && p.startingDraft == p.draftID
	}
	_, ok := p.w.chatService().Activity(p.convID)
	return ok
}

// send sends the input as the next message and streams the reply.
func (p *chatPage) send() {
	text := strings.TrimSpace(p.entry.Text)
	if text == "" {
		return
	}
	if p.busy() {
		p.explainBusy()
		return
	}
	if p.model == nil {
		msg := "Choose a model at the top of the chat first."
		if p.loadBox.Visible() {
			msg = "The model is still loading: send again in a moment."
		}
		if p.localCount == 0 {
			msg = "There is no model yet: download one from the catalog (Models page) or import a GGUF file."
		}
		dialog.ShowInformation("No model loaded", msg, p.w.win)
		return
	}
	draft := p.entry.Text
	p.entry.SetText("")
	p.bannerC.Hide()
	p.appendViews(msgView{role: history.RoleUser, content: text},
		msgView{role: history.RoleAssistant, status: history.StatusStreaming, streaming: true})
	p.setBusy(true)
	opts := p.replyOptions()
	svc := p.w.chatService()
	if p.convID != "" {
		convID := p.convID
		p.runReply(p.w.ctx, draft, nil, func(ctx context.Context, onEvent func(app.ReplyEvent)) error {
			_, err := svc.Send(ctx, convID, text, opts, onEvent)
			return err
		})
		return
	}
	draftID := p.draftID
	// Stop cancels this context until the conversation exists (and the
	// service can stop its reply by its id).
	startCtx, cancel := context.WithCancel(p.w.ctx)
	p.startingDraft, p.startCancel = draftID, cancel
	nc := history.NewConversation{Persona: p.draftPersona, Sampling: p.draftSampling}
	created := func(id string) { p.w.do(func() { p.conversationCreated(draftID, id) }) }
	p.runReply(startCtx, draft, created, func(ctx context.Context, onEvent func(app.ReplyEvent)) error {
		_, err := svc.Start(ctx, nc, text, opts, onEvent)
		cancel()
		p.w.do(func() {
			if p.startingDraft == draftID {
				p.startingDraft, p.startCancel = 0, nil
			}
			if p.startingDraft == 0 {
				p.earlyDone = nil
			}
		})
		return err
	})
}

// runReply runs a reply call with ctx off the UI goroutine. Once the
// reply has started (started, when not nil, is told its conversation), its
// progress and end come through the bridge (replyEvents). A refusal before
// that (the model busy elsewhere, a message too long, Stop) comes back
// here: in the chat it was sent from, if that is still shown, the rows
// added for it go, and the draft (when there was one) is put back.
func (p *chatPage) runReply(ctx context.Context, draft string, started func(convID string), call func(ctx context.Context, onEvent func(app.ReplyEvent)) error) {
	convID, draftID := p.convID, p.draftID
	p.w.bg.Add(1)
	go func() {
		defer p.w.bg.Done()
		began := false
		err := p.w.protect(func() error {
			return call(ctx, func(e app.ReplyEvent) {
				if e.Kind == app.EventStarted {
					began = true
					if started != nil {
						started(e.ConversationID)
					}
				}
			})
		})
		if err == nil || began {
			return
		}
		p.w.do(func() { p.replyRefused(draft, err, convID, draftID) })
	}()
}

// replyRefused explains a reply that did not start in conversation convID
// (for "", the new chat draftID) and shows it as saved. When another chat
// is shown now, that chat is left as it is and a dialog says why the
// reply did not start.
func (p *chatPage) replyRefused(draft string, err error, convID string, draftID int) {
	canceled := errors.Is(err, context.Canceled)
	if p.convID != convID || convID == "" && p.draftID != draftID {
		if !canceled {
			p.w.showError("The reply did not start", err)
		}
		return
	}
	var busy *app.BusyError
	var tooLong *app.TooLongError
	switch {
	case canceled: // stopped before it started
	case errors.As(err, &busy):
		p.showBanner("Not sent: " + busy.Error() + ".")
	case errors.As(err, &tooLong):
		defer p.showTooLong(tooLong.Check)
	default:
		p.showReplyError(err)
	}
	if draft != "" && p.entry.Text == "" && (canceled || busy != nil || tooLong != nil) {
		p.entry.SetText(draft) // nothing typed is lost
	}
	if p.convID != "" {
		p.reloadThread()
	} else {
		p.views = nil
		p.rebuildList(true)
	}
	p.setBusy(p.busy())
}

// regenerate writes a new version of a reply.
func (p *chatPage) regenerate(v msgView) {
	i := p.indexOf(v.id)
	if p.busy() || p.model == nil || i < 0 || p.convID == "" {
		p.explainBusy()
		return
	}
	p.views = append(p.views[:i], msgView{role: history.RoleAssistant, status: history.StatusStreaming, streaming: true})
	p.rebuildList(true)
	p.setBusy(true)
	svc, opts, id := p.w.chatService(), p.replyOptions(), v.id
	p.runReply(p.w.ctx, "", nil, func(ctx context.Context, onEvent func(app.ReplyEvent)) error {
		_, err := svc.Regenerate(ctx, id, opts, onEvent)
		return err
	})
}

// continueReply writes more of a reply that was cut short.
func (p *chatPage) continueReply(v msgView) {
	i := p.indexOf(v.id)
	if p.busy() || p.model == nil || i < 0 || p.convID == "" {
		p.explainBusy()
		return
	}
	p.views[i].streaming = true
	p.views[i].status = history.StatusStreaming
	p.updateRow(i)
	p.setBusy(true)
	svc, opts, id := p.w.chatService(), p.replyOptions(), v.id
	p.runReply(p.w.ctx, "", nil, func(ctx context.Context, onEvent func(app.ReplyEvent)) error {
		_, err := svc.Continue(ctx, id, opts, onEvent)
		return err
	})
}

// editMessage asks for a new version of one of the person's messages and
// answers it.
func (p *chatPage) editMessage(v msgView) {
	if p.busy() || p.model == nil || p.convID == "" {
		p.explainBusy()
		return
	}
	entry := widget.NewMultiLineEntry()
	entry.Wrapping = fyne.TextWrapWord
	entry.SetText(v.content)
	entry.SetMinRowsVisible(6)
	d := dialog.NewCustomConfirm("Edit message", "Send", "Cancel", entry, func(ok bool) {
		text := strings.TrimSpace(entry.Text)
		i := p.indexOf(v.id)
		if !ok || text == "" || i < 0 || p.busy() || p.model == nil {
			return
		}
		p.views = append(p.views[:i], msgView{role: history.RoleUser, content: text},
			msgView{role: history.RoleAssistant, status: history.StatusStreaming, streaming: true})
		p.rebuildList(true)
		p.setBusy(true)
		svc, opts, id := p.w.chatService(), p.replyOptions(), v.id
		p.runReply(p.w.ctx, "", nil, func(ctx context.Context, onEvent func(app.ReplyEvent)) error {
			_, err := svc.Edit(ctx, id, text, opts, onEvent)
			return err
		})
	}, p.w.win)
	d.Resize(fyne.NewSize(560, 320))
	d.Show()
}

func (p *chatPage) explainBusy() {
	switch {
	case p.busy():
		dialog.ShowInformation("A reply is being written", "Wait for it to finish, or stop it (Esc), first.", p.w.win)
	case p.model == nil:
		dialog.ShowInformation("No model loaded", "Choose a model at the top of the chat first.", p.w.win)
	}
}

// switchVersion shows another version of a message (and what followed it).
func (p *chatPage) switchVersion(v msgView, delta int) {
	if p.busy() {
		p.explainBusy()
		return
	}
	p.w.background("Switch versions", func(ctx context.Context) error {
		_, err := p.w.chatService().SwitchVersion(ctx, v.id, delta)
		return err
	}, func(err error) {
		if err == nil {
			p.reloadThread()
		}
	})
}

func (p *chatPage) indexOf(id int64) int {
	for i, v := range p.views {
		if v.id == id && id != 0 {
			return i
		}
	}
	return -1
}

// stop stops the reply being written in the conversation shown (its text
// so far is kept), or the first one of the new chat shown, whose
// conversation may not exist yet.
func (p *chatPage) stop() {
	switch {
	case p.convID != "":
		p.w.chatService().Stop(p.convID)
	case p.startingDraft != 0 && p.startingDraft == p.draftID && p.startCancel != nil:
		p.startCancel()
	}
}

// setBusy switches the input between Send and Stop.
func (p *chatPage) setBusy(busy bool) {
	setVisible(p.sendBtn, !busy)
	setVisible(p.stopBtn, busy)
}

// conversationCreated adopts the conversation made for a new chat's first
// message, if that chat is still shown. The bridge may have handed over
// the reply's end before (see finishReply): the chat is finished now.
func (p *chatPage) conversationCreated(draftID int, id string) {
	if p.startingDraft == draftID {
		p.startingDraft, p.startCancel = 0, nil
	}
	var ended, others []app.ReplyEvent
	for _, e := range p.earlyDone {
		if e.ConversationID == id {
			ended = append(ended, e)
		} else if p.startingDraft != 0 {
			others = append(others, e)
		}
	}
	p.earlyDone = others
	if p.convID == "" && draftID == p.draftID {
		p.convID = id
		p.conv = history.Conversation{ID: id, Persona: p.draftPersona}
		p.sidebar.markCurrent()
		for _, e := range ended {
			p.finishReply(e)
		}
	}
}

// replyEvents takes the service's events of a frame (UI goroutine, from
// the bridge): the conversation shown follows its reply; the sidebar
// follows the list of conversations.
func (p *chatPage) replyEvents(events []app.ReplyEvent) {
	reload, text, anyText := false, false, false
	for _, e := range events {
		switch e.Kind {
		case app.EventStarted, app.EventChanged:
			reload = true
		case app.EventText:
			anyText = true
			text = text || e.ConversationID == p.convID
		case app.EventDone:
			reload = true
			p.finishReply(e)
		}
	}
	if text {
		p.showStream()
		p.showLiveStatus()
	}
	if reload {
		p.sidebar.reload()
	} else if anyText {
		p.sidebar.refreshWriting()
	}
}

// showLiveStatus shows the numbers of the reply being written in the
// conversation shown, under the input.
func (p *chatPage) showLiveStatus() {
	if act, ok := p.w.chatService().Activity(p.convID); ok && p.convID != "" {
		p.status.SetText(act.Model + " · " + writingText(act))
	}
}

// showStream shows the text so far of the reply being written in the
// conversation shown, in its last row.
func (p *chatPage) showStream() {
	act, ok := p.w.chatService().Activity(p.convID)
	if !ok || p.convID == "" {
		return
	}
	i := len(p.views) - 1
	if i < 0 || !p.views[i].streaming {
		return
	}
	p.views[i].id = act.MessageID
	p.showStreamText(i, act.Text)
}

// showStreamText puts text in the streaming row i.
func (p *chatPage) showStreamText(i int, text string) {
	if text == p.views[i].content {
		return
	}
	p.views[i].content = text
	p.updateRow(i)
	if p.streamShown != nil {
		p.streamShown(text)
	}
}

// finishReply ends a reply: when its conversation is shown, the row gets
// the saved text and its numbers. While the new chat shown waits for its
// conversation, the end is kept for conversationCreated: the bridge's
// frame and the adoption are separate fyne.Do calls, in either order.
func (p *chatPage) finishReply(e app.ReplyEvent) {
	viewing := e.ConversationID == p.convID && p.convID != ""
	if e.Result != nil && e.Result.DroppedNote != "" {
		p.notes[e.MessageID] = e.Result.DroppedNote
		if viewing {
			p.showBanner("Older turns were left out to fit the context: " + e.Result.DroppedNote)
		}
	}
	if !viewing {
		if p.convID == "" && p.startingDraft != 0 && p.startingDraft == p.draftID {
			p.earlyDone = append(p.earlyDone, e)
		}
		return
	}
	p.setBusy(false)
	p.updateStatus()
	if err := e.Err; err != nil && !errors.Is(err, context.Canceled) {
		p.showReplyError(err)
	}
	p.reloadThread()
}

// showReplyError explains, in the banner, a reply that failed.
func (p *chatPage) showReplyError(err error) {
	if errors.Is(err, chat.ErrContextFull) {
		p.showBanner("The conversation no longer fits the model's context: " + plainError(err) +
			". Start a new chat, or choose an overflow policy that drops older turns in Settings.")
		return
	}
	p.showBanner("The reply failed: " + errorWords(err))
}

func (p *chatPage) showBanner(text string) {
	p.banner.SetText(text)
	p.bannerC.Show()
}

// toggleSidebar shows or hides the conversations.
func (p *chatPage) toggleSidebar() {
	if p.sideLayout.shown {
		p.sideLayout.choice = -1
	} else {
		p.sideLayout.choice = 1
	}
	p.content.(*fyne.Container).Refresh()
}
