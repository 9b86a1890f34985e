package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/history"
)

// reloadPersonas refreshes the persona picker.
func (p *chatPage) reloadPersonas() {
	p.w.loadPersonas(func(list []history.Persona) {
		p.personas = map[string]history.Persona{}
		names := []string{noPersona}
		for _, ps := range list {
			p.personas[ps.Name] = ps
			names = append(names, ps.Name)
		}
		p.personaSel.Options = names
		p.showPersona()
	})
}

// showPersona sets the picker to the conversation's persona (or the draft's).
func (p *chatPage) showPersona() {
	name := p.draftPersona
	if p.convID != "" {
		name = p.conv.Persona
	}
	if name == "" {
		name = noPersona
	}
	p.suppressPick = true
	p.personaSel.SetSelected(name)
	p.suppressPick = false
	p.updateEmptyState()
}

// pickPersona applies a persona: to the new chat being started, or, when
// a conversation with messages is open, by starting a new chat with it
// (a conversation keeps the system prompt it began with).
// Its preferred model, if it names one, becomes the chat's model.
func (p *chatPage) pickPersona(name string) {
	if p.convID != "" || len(p.views) > 0 {
		p.newDraft(name)
	} else {
		p.draftPersona = name
		p.draftSampling = history.Sampling{}
		p.updateEmptyState()
	}
	p.usePreferredModel(name)
}

// newDraft shows a new chat, saved when its first message is sent.
func (p *chatPage) newDraft(persona string) {
	p.openSeq++
	p.draftID++
	p.convID = ""
	p.conv = history.Conversation{}
	p.draftPersona = persona
	p.draftSampling = history.Sampling{}
	p.views = nil
	p.bannerC.Hide()
	p.showPersona()
	p.rebuildList(true)
	p.sidebar.markCurrent()
	p.setBusy(p.busy())
	p.draftChanged() // the room differs from chat to chat
	p.focusInput()
}

// openConversation shows a saved conversation.
func (p *chatPage) openConversation(id string) { p.openAt(id, 0) }

// openAt shows a saved conversation scrolled to a message (0: the end),
// switching to the message's version when another one is shown (see
// app.Chat.OpenAt).
func (p *chatPage) openAt(id string, messageID int64) {
	if p.sideLayout.overlay {
		// A drawer over a narrow window closes once a conversation is picked.
		p.sideLayout.choice = 0
		p.content.(*fyne.Container).Refresh()
	}
	if id == p.convID && (messageID == 0 || p.indexOf(messageID) >= 0) {
		p.scrollToMessage(messageID)
		return
	}
	p.loadThreadAt("Open the conversation", id, messageID, func(th history.Thread) {
		p.showThread(th, messageID == 0)
		p.scrollToMessage(messageID)
		p.bannerC.Hide()
		p.sidebar.markCurrent()
		p.focusInput()
	})
}

// loadThreadAt reads conversation id (its replies parsed, showing message
// messageID's version: see app.Chat.OpenAt; 0: the version shown) off the
// UI goroutine and hands it to show on it, unless it could not be read
// (the error is shown in a dialog titled what) or another conversation
// was opened since.
func (p *chatPage) loadThreadAt(what, id string, messageID int64, show func(history.Thread)) {
	p.openSeq++
	seq := p.openSeq
	p.readThread(what, id, messageID, func() bool { return seq == p.openSeq }, show)
}

// readThread reads conversation id off the UI goroutine and hands it to
// show on it, if current (asked on the UI goroutine) still says so.
func (p *chatPage) readThread(what, id string, messageID int64, current func() bool, show func(history.Thread)) {
	var th history.Thread
	p.w.background(what, func(ctx context.Context) error {
		var err error
		th, err = p.w.chatService().OpenAt(ctx, id, messageID)
		p.parseReplies(th)
		return err
	}, func(err error) {
		if err == nil && current() {
			show(th)
		}
	})
}

// scrollToMessage shows message id at the top of the list (when it is on
// the conversation's shown path).
func (p *chatPage) scrollToMessage(id int64) {
	if i := p.indexOf(id); i >= 0 && p.list != nil {
		p.list.ScrollTo(i)
	}
}

// reloadThread shows the open conversation again from the database,
// unless another one was opened, or it was reloaded again, since. A
// conversation being opened still opens.
func (p *chatPage) reloadThread() {
	if p.convID == "" {
		return
	}
	id := p.convID
	p.reloadSeq++
	seq, open := p.reloadSeq, p.openSeq
	current := func() bool { return seq == p.reloadSeq && open == p.openSeq && p.convID == id }
	p.readThread("Reload the conversation", id, 0, current, func(th history.Thread) {
		p.showThread(th, p.atBottom())
	})
}

// showThread shows a conversation's active path.
func (p *chatPage) showThread(th history.Thread, toBottom bool) {
	p.convID = th.Conversation.ID
	p.conv = th.Conversation
	old := map[int64]msgView{}
	for _, v := range p.views {
		old[v.id] = v
	}
	p.views = p.views[:0]
	act, active := p.w.chatService().Activity(th.Conversation.ID)
	for _, m := range th.Messages {
		v := msgView{id: m.ID, role: m.Role, content: m.Content, status: m.Status, errText: m.Error,
			stats: m.Stats, seed: m.Seed, version: m.Version, versions: m.Versions, note: p.notes[m.ID]}
		v.streaming = active && m.ID == act.MessageID
		if v.streaming {
			v.content = act.Text
		}
		if o, ok := old[v.id]; ok && o.content == v.content && o.status == v.status && o.versions == v.versions &&
			o.note == v.note && o.streaming == v.streaming {
			v.height, v.heightWidth = o.height, o.heightWidth
		}
		p.views = append(p.views, v)
	}
	p.showPersona()
	p.rebuildList(toBottom)
	p.setBusy(active)
	p.draftChanged()
}

// editSampling edits the sampling settings of the conversation (or of the
// new chat before it starts).
func (p *chatPage) editSampling() {
	current := p.draftSampling
	if p.convID != "" {
		current = p.conv.Sampling
	} else if ps, ok := p.personas[p.draftPersona]; ok {
		current = ps.Sampling.Overlay(p.draftSampling)
	}
	form := newSamplingForm(current)
	var scroll *container.Scroll
	scroll = container.NewVScroll(widget.NewForm(wheelFormItems(form.items(), scrollTarget(&scroll))...))
	d := dialog.NewCustomConfirm("Sampling settings", "Save", "Cancel", scroll, func(ok bool) {
		if !ok {
			return
		}
		s, err := form.sampling(current)
		if err != nil {
			p.w.showError("Sampling settings", err)
			return
		}
		if p.convID == "" {
			p.draftSampling = s
			return
		}
		conv := p.conv
		p.w.background("Save the sampling settings", func(ctx context.Context) error {
			return p.w.chatService().SetSampling(ctx, conv.ID, s)
		}, func(err error) {
			if err == nil && p.convID == conv.ID {
				p.conv.Sampling = s
			}
		})
	}, p.w.win)
	h := min(640, p.w.win.Canvas().Size().Height-40)
	d.Resize(fyne.NewSize(min(620, p.w.win.Canvas().Size().Width-40), h))
	d.Show()
	p.samplingDialog = d
}

// setPinned pins or unpins a conversation.
func (p *chatPage) setPinned(id string, pinned bool) {
	p.w.background("Pin the conversation", func(ctx context.Context) error {
		return p.w.chatService().SetPinned(ctx, id, pinned)
	}, nil)
}

// rename asks for a conversation's title.
func (p *chatPage) rename(c history.Conversation) {
	entry := widget.NewEntry()
	entry.SetText(c.Title)
	entry.SetPlaceHolder("Empty: named after the first message")
	d := dialog.NewForm("Rename conversation", "Rename", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("Title", entry)}, func(ok bool) {
			if !ok {
				return
			}
			title := entry.Text
			p.w.background("Rename the conversation", func(ctx context.Context) error {
				return p.w.chatService().Rename(ctx, c.ID, title)
			}, nil)
		}, p.w.win)
	entry.OnSubmitted = func(string) { d.Submit() } // Enter renames
	d.Resize(fyne.NewSize(520, d.MinSize().Height))
	d.Show()
	p.w.win.Canvas().Focus(entry)
	p.renameDialog = d
}

// deleteConversation deletes a conversation (after the menu's confirmation).
func (p *chatPage) deleteConversation(id string) {
	p.w.background("Delete the conversation", func(ctx context.Context) error {
		return p.w.chatService().Delete(ctx, id)
	}, func(err error) {
		if err == nil && p.convID == id {
			p.newDraft(p.draftPersona)
		}
	})
}

// parseReplies parses the Markdown of a thread's replies into the cache
// (off the UI goroutine: the UI then only lays them out).
func (p *chatPage) parseReplies(th history.Thread) {
	for _, m := range th.Messages {
		if m.Role == history.RoleAssistant && m.Status != history.StatusStreaming {
			p.md.blocks(m.ID, m.Content)
		}
	}
}
