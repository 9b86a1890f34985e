package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/assets"
	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/models"
)

// noPersona is the persona picker's choice for a chat without a persona.
const noPersona = "No persona"

// chatPage is the chat: conversations on the left; the model and persona
// pickers and sampling settings at the top; the messages; the input.
// All fields are used on the UI goroutine only.
type chatPage struct {
	w       *Window
	content fyne.CanvasObject
	sidebar *sidebar

	// The model picker, and the model in use.
	modelSelect *widget.Select
	modelPaths  map[string]string // picker label → file path
	localCount  int               // local models found by the last scan (-1 before it)
	loadBar     *widget.ProgressBarInfinite
	loadSeq     int
	// model is the responder this page gave the chat service (nil before
	// the first model loads); the service owns and closes it.
	model        *app.LocalResponder
	status       *widget.Label
	personaSel   *widget.Select
	personas     map[string]history.Persona
	suppressPick bool
	samplingBtn  *widget.Button
	exportBtn    *widget.Button

	// The conversation shown: convID is "" for a new chat not saved yet
	// (draftID tells drafts apart), with the persona and sampling it will
	// start with.
	convID        string
	conv          history.Conversation
	draftID       int
	draftPersona  string
	draftSampling history.Sampling
	views         []msgView
	openSeq       int
	// notes keeps the dropped-turns notice of replies made in this session.
	notes map[int64]string

	// The message list: rebuilt (a fresh List, whose row heights can be
	// set cheaply before it is drawn) when a conversation opens or the
	// width changes.
	holder      *fyne.Container
	list        *widget.List
	measurer    *messageRow
	width       float32
	resizeTimer *time.Timer
	welcome     fyne.CanvasObject
	hint        *widget.Label
	hintBox     fyne.CanvasObject

	entry   *chatEntry
	sendBtn *widget.Button
	stopBtn *widget.Button
	banner  *widget.Label
	bannerX *widget.Button
	bannerC *fyne.Container

	// startingDraft is the draft (draftID) whose first message is being
	// sent, until its conversation exists (0 for none).
	startingDraft int
	// streamShown, when set (tests), is told each text a streaming row shows.
	streamShown func(text string)
}

func newChatPage(w *Window) *chatPage {
	p := &chatPage{w: w, modelPaths: map[string]string{}, localCount: -1, notes: map[int64]string{},
		personas: map[string]history.Persona{}, draftPersona: w.settings.DefaultPersona}
	p.sidebar = newSidebar(p)
	p.measurer = newMessageRow(rowActions{copy: func(string) {}, edit: func(msgView) {}, regenerate: func(msgView) {},
		switchTo: func(msgView, int) {}})

	p.modelSelect = widget.NewSelect(nil, func(label string) {
		if p.suppressPick {
			return
		}
		if path, ok := p.modelPaths[label]; ok {
			p.loadModel(path)
		}
	})
	p.modelSelect.PlaceHolder = "Choose a model"
	p.loadBar = widget.NewProgressBarInfinite()
	p.loadBar.Hide()
	p.loadBar.Stop()
	p.personaSel = widget.NewSelect([]string{noPersona}, func(name string) {
		if p.suppressPick {
			return
		}
		if name == noPersona {
			name = ""
		}
		p.pickPersona(name)
	})
	p.samplingBtn = widget.NewButtonWithIcon("Sampling", theme.SettingsIcon(), p.editSampling)
	p.exportBtn = widget.NewButtonWithIcon("", theme.DocumentSaveIcon(), p.exportCurrent)
	modelBox := container.NewBorder(nil, nil, widget.NewLabel("Model"), nil,
		container.NewStack(p.modelSelect))
	top := container.NewBorder(nil, container.NewStack(p.loadBar), nil,
		container.NewHBox(widget.NewLabel("Persona"), fixedWidth(p.personaSel, 210), p.samplingBtn, p.exportBtn),
		modelBox)

	p.holder = container.New(&widthWatch{onChange: p.widthChanged})
	p.welcome = p.makeWelcome()
	p.welcome.Hide()
	p.hint = widget.NewLabel("")
	p.hint.Wrapping = fyne.TextWrapWord
	p.hint.Alignment = fyne.TextAlignCenter
	p.hintBox = container.NewCenter(fixedWidth(p.hint, 460))
	center := container.NewStack(p.holder, p.hintBox, p.welcome)

	p.entry = newChatEntry()
	p.entry.SetPlaceHolder("Message Llama 2 (Enter sends, Shift+Enter breaks the line)")
	p.entry.onSend = p.send
	p.entry.onEscape = p.stop
	p.sendBtn = widget.NewButtonWithIcon("Send", theme.MailSendIcon(), p.send)
	p.sendBtn.Importance = widget.HighImportance
	p.stopBtn = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), p.stop)
	p.stopBtn.Importance = widget.DangerImportance
	p.stopBtn.Hide()
	p.banner = widget.NewLabel("")
	p.banner.Wrapping = fyne.TextWrapWord
	p.banner.Importance = widget.WarningImportance
	p.bannerX = widget.NewButtonWithIcon("", theme.CancelIcon(), func() { p.bannerC.Hide() })
	p.bannerX.Importance = widget.LowImportance
	p.bannerC = container.NewBorder(nil, nil, nil, p.bannerX, p.banner)
	p.bannerC.Hide()
	p.status = widget.NewLabel("No model loaded")
	p.status.SizeName = theme.SizeNameCaptionText
	p.status.Importance = widget.LowImportance
	p.status.Truncation = fyne.TextTruncateEllipsis
	buttons := container.NewVBox(p.sendBtn, p.stopBtn)
	input := container.NewVBox(p.bannerC,
		container.NewBorder(nil, nil, nil, container.NewCenter(buttons), p.entry), p.status)

	main := container.NewBorder(container.NewVBox(top, widget.NewSeparator()), input, nil, nil, center)
	split := container.NewHSplit(p.sidebar.content, main)
	split.Offset = 0.24
	p.content = split
	return p
}

// start fills the page when the window opens: conversations, personas,
// local models (loading the last one used), and for page "chat" the
// newest conversation.
func (p *chatPage) start(page string) {
	p.w.background("Check for interrupted replies", func(ctx context.Context) error {
		// Replies still "streaming" but untouched for a while were cut
		// short by a crash or a closed window.
		_, err := p.w.chatService().MarkInterrupted(ctx, 2*time.Minute)
		return err
	}, nil)
	p.sidebar.reload()
	p.reloadPersonas()
	p.refreshModels(true)
	p.newDraft(p.draftPersona)
	if page == PageChat {
		p.w.background("Open the newest conversation", func(ctx context.Context) error {
			convs, err := p.w.chatService().List(ctx)
			if err != nil || len(convs) == 0 {
				return err
			}
			newest := convs[0]
			for _, c := range convs {
				if c.UpdatedAt.After(newest.UpdatedAt) {
					newest = c
				}
			}
			p.w.do(func() { p.openConversation(newest.ID) })
			return nil
		}, nil)
	}
}

// makeWelcome is the first-start page: what Llamadesk does and the first step.
func (p *chatPage) makeWelcome() fyne.CanvasObject {
	icon := canvas.NewImageFromResource(fyne.NewStaticResource("icon.png", assets.IconPNG()))
	icon.FillMode = canvas.ImageFillContain
	icon.SetMinSize(fyne.NewSquareSize(112))
	title := widget.NewRichTextFromMarkdown("# Welcome to Llamadesk")
	body := widget.NewRichTextFromMarkdown("Llamadesk runs **Llama 2** models on this computer: what you type never leaves it.\n\n" +
		"**First step: get a model.** Download one from the catalog (Llama 2 7B Chat in its `Q4_K_M` file, about 4 GB, " +
		"is a good first pick; the catalog says which files fit this machine), or import a GGUF file you already have.")
	body.Wrapping = fyne.TextWrapWord
	browse := widget.NewButtonWithIcon("Browse the catalog", theme.DownloadIcon(), func() { p.w.showPage(PageCatalog) })
	browse.Importance = widget.HighImportance
	imp := widget.NewButtonWithIcon("Import a GGUF file…", theme.FolderOpenIcon(), func() { p.w.modelsPage.importModel() })
	where := widget.NewLabel("")
	where.Importance = widget.LowImportance
	where.SizeName = theme.SizeNameCaptionText
	where.Wrapping = fyne.TextWrapWord
	where.SetText("Models are kept in " + p.w.modelService().Library.Dir + " (Settings can change this).")
	card := container.NewVBox(container.NewCenter(icon), container.NewCenter(title), body,
		container.NewCenter(container.NewHBox(browse, imp)), where)
	return container.NewCenter(fixedWidth(card, 560))
}

// refreshModels rescans the local models for the picker and the welcome
// page; with autoload, it then loads the last model used (or the only one).
func (p *chatPage) refreshModels(autoload bool) {
	var list *app.ModelList
	ctxLen := p.w.settings.ContextSize
	p.w.background("List the local models", func(ctx context.Context) error {
		var err error
		list, err = p.w.modelService().List(models.FitOptions{Context: ctxLen})
		return err
	}, func(err error) {
		if err != nil {
			return
		}
		p.setLocalModels(list.Local)
		if autoload && p.model == nil {
			p.autoload(list.Local)
		}
	})
}

// setLocalModels fills the model picker (UI goroutine).
func (p *chatPage) setLocalModels(local []app.LocalEntry) {
	p.localCount = len(local)
	p.modelPaths = map[string]string{}
	var labels []string
	selected := ""
	for _, l := range local {
		label := modelLabel(l)
		p.modelPaths[label] = l.Path
		labels = append(labels, label)
		if p.model != nil && l.Path == p.model.Model().Path {
			selected = label
		}
	}
	p.suppressPick = true
	p.modelSelect.Options = labels
	if selected != "" {
		p.modelSelect.SetSelected(selected)
	} else if p.model == nil && p.loadSeq == 0 {
		p.modelSelect.ClearSelected()
	}
	p.modelSelect.Refresh()
	p.suppressPick = false
	p.updateEmptyState()
}

// modelLabel is how the picker shows a local model: its file and fit.
func modelLabel(l app.LocalEntry) string {
	label := l.File
	switch {
	case l.Err != "":
		label += " · unreadable"
	case l.FitSummary != "":
		label += " · " + l.FitSummary
	}
	return label
}

// autoload loads the last model used, or the only local one.
func (p *chatPage) autoload(local []app.LocalEntry) {
	last := p.w.settings.LastModel
	for _, l := range local {
		if last != "" && l.Path == last && l.Err == "" {
			p.selectAndLoad(l)
			return
		}
	}
	if len(local) == 1 && local[0].Err == "" {
		p.selectAndLoad(local[0])
	}
}

func (p *chatPage) selectAndLoad(l app.LocalEntry) {
	p.suppressPick = true
	p.modelSelect.SetSelected(modelLabel(l))
	p.suppressPick = false
	p.loadModel(l.Path)
}

// loadModel loads a model off the UI goroutine, with a progress bar, and
// makes it the chat's model when it is ready. A reply being written on
// the previous model goes on; the service closes that model after it.
func (p *chatPage) loadModel(path string) {
	p.loadSeq++
	seq := p.loadSeq
	p.loadBar.Show()
	p.loadBar.Start()
	p.status.SetText("Loading " + filepath.Base(path) + "…")
	settings := p.w.settings
	var r *app.LocalResponder
	p.w.background("Load the model", func(ctx context.Context) error {
		opts := settings.LoadOptions()
		opts.MainThread = fyne.DoAndWait // see app.LoadOptions.MainThread
		lm, err := app.LoadModel(path, opts)
		if err != nil {
			return err
		}
		r, err = app.NewLocalResponder(lm, settings.ContextSize)
		if err != nil {
			lm.Close()
			return fmt.Errorf("prepare %s: %w", filepath.Base(path), err)
		}
		return nil
	}, func(err error) {
		if seq != p.loadSeq {
			// A later choice replaced this one.
			if r != nil {
				p.w.background("Close the model", func(context.Context) error { return r.Close() }, nil)
			}
			return
		}
		p.loadBar.Stop()
		p.loadBar.Hide()
		if err != nil {
			p.status.SetText("The model could not be loaded: choose another one")
			return
		}
		p.model = r
		p.w.chatService().SetResponder(r)
		p.updateStatus()
		p.updateEmptyState()
		p.rememberModel(path)
		p.focusInput()
	})
}

// modelPath is the file of the model in use ("" for none).
func (p *chatPage) modelPath() string {
	if p.model == nil {
		return ""
	}
	return p.model.Model().Path
}

// updateStatus shows the model in use under the input.
func (p *chatPage) updateStatus() {
	if p.model == nil {
		p.status.SetText("No model loaded")
		return
	}
	info := p.model.Info()
	text := info.Model + " · " + info.Backend + " · " + info.Format
	if info.Warning != "" {
		text += " · " + info.Warning
	}
	p.status.SetText(text)
}

// rememberModel saves the model as the one to load next time.
func (p *chatPage) rememberModel(path string) {
	p.w.settings.LastModel = path
	s := p.w.settings
	p.w.background("Remember the model", func(ctx context.Context) error {
		return p.w.app.SaveSettings(ctx, s)
	}, nil)
}

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
func (p *chatPage) pickPersona(name string) {
	if p.convID != "" || len(p.views) > 0 {
		p.newDraft(name)
		return
	}
	p.draftPersona = name
	p.draftSampling = history.Sampling{}
	p.updateEmptyState()
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
	p.focusInput()
}

// openConversation shows a saved conversation.
func (p *chatPage) openConversation(id string) {
	if id == p.convID {
		return
	}
	p.openSeq++
	seq := p.openSeq
	var th history.Thread
	p.w.background("Open the conversation", func(ctx context.Context) error {
		var err error
		th, err = p.w.chatService().Open(ctx, id)
		return err
	}, func(err error) {
		if err != nil || seq != p.openSeq {
			return
		}
		p.showThread(th, true)
		p.bannerC.Hide()
		p.sidebar.markCurrent()
		p.focusInput()
	})
}

// reloadThread shows the open conversation again from the database.
func (p *chatPage) reloadThread() {
	if p.convID == "" {
		return
	}
	id := p.convID
	p.openSeq++
	seq := p.openSeq
	var th history.Thread
	p.w.background("Reload the conversation", func(ctx context.Context) error {
		var err error
		th, err = p.w.chatService().Open(ctx, id)
		return err
	}, func(err error) {
		if err == nil && seq == p.openSeq && p.convID == id {
			p.showThread(th, p.atBottom())
		}
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
			stats: m.Stats, version: m.Version, versions: m.Versions, note: p.notes[m.ID]}
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
}

// rowActions connects message rows to the page.
func (p *chatPage) rowActions() rowActions {
	return rowActions{
		copy:       p.copyText,
		edit:       p.editMessage,
		regenerate: p.regenerate,
		switchTo:   p.switchVersion,
	}
}

// copyText puts text on the clipboard.
func (p *chatPage) copyText(text string) {
	p.w.fyneApp.Clipboard().SetContent(text)
	p.status.SetText("Copied to the clipboard")
	time.AfterFunc(2*time.Second, func() { p.w.do(p.updateStatus) })
}

// measureWidth is the width rows are measured at.
func (p *chatPage) measureWidth() float32 {
	if w := p.holder.Size().Width; w > 0 {
		return w
	}
	return 700
}

// ensureHeight measures view i at width unless it already was.
func (p *chatPage) ensureHeight(i int, width float32) float32 {
	v := &p.views[i]
	if v.height == 0 || v.heightWidth != width {
		v.height = p.measurer.measure(*v, width)
		v.heightWidth = width
	}
	return v.height
}

// rebuildList makes a fresh message list for p.views.
func (p *chatPage) rebuildList(toBottom bool) {
	width := p.measureWidth()
	offset := float32(0)
	if p.list != nil && !toBottom {
		offset = p.list.GetScrollOffset()
	}
	l := widget.NewList(
		func() int { return len(p.views) },
		func() fyne.CanvasObject { return newMessageRow(p.rowActions()) },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(p.views) {
				o.(*messageRow).set(p.views[id])
			}
		},
	)
	for i := range p.views {
		l.SetItemHeight(i, p.ensureHeight(i, width))
	}
	l.OnSelected = func(id widget.ListItemID) { l.Unselect(id) }
	p.list = l
	p.holder.Objects = []fyne.CanvasObject{l}
	p.holder.Refresh()
	if toBottom {
		l.ScrollToBottom()
	} else if offset > 0 {
		l.ScrollToOffset(offset)
	}
	p.updateEmptyState()
}

// widthChanged re-measures the rows once the width has settled.
func (p *chatPage) widthChanged(width float32) {
	if p.resizeTimer != nil {
		p.resizeTimer.Stop()
	}
	p.resizeTimer = time.AfterFunc(120*time.Millisecond, func() {
		p.w.do(func() {
			if p.width != p.holder.Size().Width {
				p.width = p.holder.Size().Width
				p.rebuildList(p.atBottom())
			}
		})
	})
}

// themeChanged redraws the messages in the new theme's colours and sizes.
func (p *chatPage) themeChanged() {
	for i := range p.views {
		p.views[i].height = 0
	}
	p.measurer = newMessageRow(p.measurer.actions)
	p.rebuildList(p.atBottom())
}

// contentHeight is the list's total height.
func (p *chatPage) contentHeight() float32 {
	var h float32
	for _, v := range p.views {
		h += v.height
	}
	if n := len(p.views); n > 1 {
		h += float32(n-1) * theme.Padding()
	}
	return h
}

// atBottom reports whether the list shows its end (so new text should keep it there).
func (p *chatPage) atBottom() bool {
	if p.list == nil {
		return true
	}
	return p.list.GetScrollOffset() >= p.contentHeight()-p.list.Size().Height-48
}

// updateRow re-measures row i after its view changed and redraws it.
func (p *chatPage) updateRow(i int) {
	stick := p.atBottom()
	p.views[i].height = 0
	h := p.ensureHeight(i, p.measureWidth())
	p.list.SetItemHeight(i, h) // refreshes the row when the height changed
	p.list.RefreshItem(i)
	if stick {
		p.list.ScrollToBottom()
	}
}

// appendViews adds rows at the end of the list.
func (p *chatPage) appendViews(vs ...msgView) {
	first := len(p.views)
	p.views = append(p.views, vs...)
	width := p.measureWidth()
	for i := first; i < len(p.views); i++ {
		p.list.SetItemHeight(i, p.ensureHeight(i, width))
	}
	p.list.Refresh()
	p.list.ScrollToBottom()
	p.updateEmptyState()
}

// updateEmptyState shows the welcome page (no models), a hint (no
// messages) or the messages.
func (p *chatPage) updateEmptyState() {
	setVisible(p.welcome, p.localCount == 0 && len(p.views) == 0)
	if len(p.views) > 0 || p.localCount == 0 {
		p.hintBox.Hide()
		return
	}
	var b strings.Builder
	switch {
	case p.localCount < 0:
		b.WriteString("Looking for models…")
	case p.model == nil && p.loadBar.Visible():
		b.WriteString("Loading the model…")
	case p.model == nil:
		b.WriteString("Choose a model at the top to start chatting.")
	default:
		b.WriteString("New chat with " + p.model.Info().Model + ".")
	}
	if p.localCount > 0 {
		if ps, ok := p.personas[p.draftPersona]; ok && p.convID == "" {
			b.WriteString("\n\nPersona: " + ps.Name + ". " + firstWords(ps.SystemPrompt, 28))
		}
		b.WriteString("\n\nType below: Enter sends, Shift+Enter starts a new line, Esc stops a reply.")
	}
	p.hint.SetText(b.String())
	p.hintBox.Show()
}

// firstWords returns about n words of s.
func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) <= n {
		return strings.Join(f, " ")
	}
	return strings.Join(f[:n], " ") + "…"
}

func (p *chatPage) focusInput() {
	if c := p.w.win.Canvas(); c != nil && p.entry.Visible() {
		c.Focus(p.entry)
	}
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
	d := dialog.NewForm("Sampling settings", "Save", "Cancel", form.items(), func(ok bool) {
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
	d.Resize(fyne.NewSize(460, 420))
	d.Show()
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
	dialog.ShowForm("Rename conversation", "Rename", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("Title", entry)}, func(ok bool) {
			if !ok {
				return
			}
			title := entry.Text
			p.w.background("Rename the conversation", func(ctx context.Context) error {
				return p.w.chatService().Rename(ctx, c.ID, title)
			}, nil)
		}, p.w.win)
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

// widthWatch lays its objects over its whole size and reports width changes.
type widthWatch struct {
	width    float32
	onChange func(width float32)
}

func (l *widthWatch) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
	if size.Width != l.width {
		l.width = size.Width
		if l.onChange != nil {
			l.onChange(size.Width)
		}
	}
}

func (l *widthWatch) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(200, 120) }

// fixedWidth lays o out at a given width (less when the space is
// narrower), with the height o needs at that width: for wrapped text in
// centred boxes.
func fixedWidth(o fyne.CanvasObject, width float32) fyne.CanvasObject {
	return container.New(&minWidth{width: width}, o)
}

type minWidth struct{ width float32 }

func (l *minWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func (l *minWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		if o.Visible() {
			s = s.Max(fyne.NewSize(fyne.Max(l.width, o.MinSize().Width), 0))
			s.Height = fyne.Max(s.Height, fitWidth(o, l.width))
		}
	}
	return s
}
