package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/history"
)

// countDelay is how long typing pauses before the draft is counted.
const countDelay = 250 * time.Millisecond

// draft describes the input as the message it would become.
func (p *chatPage) draft(text string) app.Draft {
	return app.Draft{ConversationID: p.convID, Text: text, Options: p.replyOptions(),
		NewConversation: history.NewConversation{Persona: p.draftPersona, Sampling: p.draftSampling}}
}

// draftChanged counts the draft's tokens against the room left in the
// context, once typing pauses (off the UI goroutine).
func (p *chatPage) draftChanged() {
	if p.countTimer != nil && p.countTimer.Stop() {
		p.w.bg.Done() // the count it would have made
	}
	p.countSeq++
	text := p.entry.Text
	if strings.TrimSpace(text) == "" || p.model == nil {
		p.count.SetText("")
		return
	}
	seq, d, svc := p.countSeq, p.draft(text), p.w.chatService()
	p.w.bg.Add(1)
	p.countTimer = time.AfterFunc(countDelay, func() {
		defer p.w.bg.Done()
		check, err := svc.CheckDraft(p.w.ctx, d)
		p.w.do(func() {
			if seq == p.countSeq {
				p.showCount(check, err)
			}
		})
	})
}

// showCount shows a draft's check beside the status line.
func (p *chatPage) showCount(check app.DraftCheck, err error) {
	switch {
	case err != nil || !check.Counted:
		p.count.SetText("")
	case check.Fits:
		p.count.Importance = widget.LowImportance
		p.count.SetText(fmt.Sprintf("%s tokens · room for %s", app.GroupDigits(check.Tokens), app.GroupDigits(max(check.Room, 0))))
	default:
		p.count.Importance = widget.DangerImportance
		p.count.SetText(fmt.Sprintf("Too long: %s tokens, room for %s", app.GroupDigits(check.Tokens), app.GroupDigits(max(check.Room, 0))))
	}
	p.count.Refresh()
}

// showTooLong explains a message that cannot fit the context (nothing was
// saved; the text is back in the input) and offers the ways out.
func (p *chatPage) showTooLong(check app.DraftCheck) {
	reason := widget.NewLabel(check.Reason)
	reason.Wrapping = fyne.TextWrapWord
	var d dialog.Dialog
	buttons := container.NewVBox()
	add := func(label string, icon fyne.Resource, important bool, fn func()) {
		b := widget.NewButtonWithIcon(label, icon, func() {
			d.Hide()
			fn()
		})
		if important {
			b.Importance = widget.HighImportance
		}
		buttons.Add(b)
	}
	for i, ch := range check.Choices {
		first := i == 0
		switch ch {
		case app.ChoiceShorten:
			add("Shorten it myself", theme.DocumentCreateIcon(), first, p.focusInput)
		case app.ChoiceTruncateMiddle:
			add(fmt.Sprintf("Cut the middle out (keep %s tokens)", app.GroupDigits(check.Room)), theme.ContentCutIcon(), first, p.truncateDraft)
		case app.ChoiceLargerContext:
			add(fmt.Sprintf("Use a context of %s tokens (reloads the model)", app.GroupDigits(check.LargerContext)), theme.ViewFullScreenIcon(), first,
				func() { p.useContext(check.LargerContext) })
		case app.ChoiceDropOldest:
			add("Let older turns be dropped (overflow policy)", theme.HistoryIcon(), first,
				func() { p.usePolicy(chat.KeepSystemDropOldest) })
		case app.ChoiceNewChat:
			add("Send it in a new chat", theme.ContentAddIcon(), first, func() { p.newDraftKeepingText() })
		}
	}
	cancel := widget.NewButton("Cancel", func() { d.Hide() })
	content := container.NewVBox(reason, widget.NewSeparator(), buttons, container.NewHBox(cancel))
	d = dialog.NewCustomWithoutButtons("The message does not fit", fixedWidth(content, 460), p.w.win)
	d.Show()
}

// truncateDraft cuts the middle of the draft so that it fits.
func (p *chatPage) truncateDraft() {
	d := p.draft(p.entry.Text)
	var cut string
	p.w.background("Shorten the message", func(ctx context.Context) error {
		var err error
		cut, err = p.w.chatService().TruncateDraft(ctx, d)
		return err
	}, func(err error) {
		if err == nil {
			p.entry.SetText(cut)
			p.focusInput()
		}
	})
}

// useContext saves a bigger context size and loads the model again with it.
func (p *chatPage) useContext(size int) {
	p.w.settings.ContextSize = size
	s, path := p.w.settings, p.modelPath()
	p.w.background("Save the context size", func(ctx context.Context) error {
		return p.w.app.SaveSettings(ctx, s)
	}, func(err error) {
		if err == nil && path != "" {
			p.loadModel(path)
		}
	})
}

// usePolicy saves an overflow policy.
func (p *chatPage) usePolicy(policy chat.Policy) {
	p.w.settings.OverflowPolicy = policy.String()
	s := p.w.settings
	p.w.background("Save the overflow policy", func(ctx context.Context) error {
		return p.w.app.SaveSettings(ctx, s)
	}, func(err error) {
		if err == nil {
			p.draftChanged()
		}
	})
}

// newDraftKeepingText starts a new chat with the input's text.
func (p *chatPage) newDraftKeepingText() {
	text := p.entry.Text
	p.newDraft(p.draftPersona)
	p.entry.SetText(text)
}
