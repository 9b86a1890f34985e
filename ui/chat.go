package ui

import (
	"context"
	"errors"
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
	"github.com/llamadesk/llamadesk/engine/chat"
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
	modelSelect  *widget.Select
	modelPaths   map[string]string // picker label → file path
	localCount   int               // local models found by the last scan (-1 before it)
	loadBar      *widget.ProgressBarInfinite
	loadSeq      int
	loaded       *app.LoadedModel
	chat         *app.Chat
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

	// reply is the reply being generated (nil when none).
	reply *replyStream
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
		store, err := p.w.app.History()
		if err != nil {
			return err
		}
		// Replies still "streaming" but untouched for a while were cut
		// short by a crash or a closed window.
		_, err = store.MarkInterrupted(ctx, 2*time.Minute)
		return err
	}, nil)
	p.sidebar.reload()
	p.reloadPersonas()
	p.refreshModels(true)
	p.newDraft(p.draftPersona)
	if page == PageChat {
		p.w.background("Open the newest conversation", func(ctx context.Context) error {
			store, err := p.w.app.History()
			if err != nil {
				return err
			}
			convs, err := store.Conversations(ctx)
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
		if autoload && p.loaded == nil {
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
		if p.loaded != nil && l.Path == p.loaded.Path {
			selected = label
		}
	}
	p.suppressPick = true
	p.modelSelect.Options = labels
	if selected != "" {
		p.modelSelect.SetSelected(selected)
	} else if p.loaded == nil && p.loadSeq == 0 {
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
// makes it the chat's model when it is ready.
func (p *chatPage) loadModel(path string) {
	if p.reply != nil {
		return
	}
	p.loadSeq++
	seq := p.loadSeq
	p.loadBar.Show()
	p.loadBar.Start()
	p.status.SetText("Loading " + filepath.Base(path) + "…")
	settings := p.w.settings
	var lm *app.LoadedModel
	var c *app.Chat
	p.w.background("Load the model", func(ctx context.Context) error {
		var err error
		opts := settings.LoadOptions()
		opts.MainThread = fyne.DoAndWait // see app.LoadOptions.MainThread
		lm, err = app.LoadModel(path, opts)
		if err != nil {
			return err
		}
		c, err = p.w.app.NewChat(lm, settings.ContextSize)
		if err != nil {
			lm.Close()
			return fmt.Errorf("prepare %s: %w", filepath.Base(path), err)
		}
		return nil
	}, func(err error) {
		if seq != p.loadSeq {
			// A later choice replaced this one.
			if lm != nil {
				p.closeInBackground(lm)
			}
			return
		}
		p.loadBar.Stop()
		p.loadBar.Hide()
		if err != nil {
			p.status.SetText("The model could not be loaded: choose another one")
			return
		}
		if old := p.loaded; old != nil {
			p.closeInBackground(old)
		}
		p.loaded, p.chat = lm, c
		p.updateStatus()
		p.updateEmptyState()
		p.rememberModel(path)
		p.focusInput()
	})
}

// updateStatus shows the model in use under the input.
func (p *chatPage) updateStatus() {
	if p.loaded == nil {
		p.status.SetText("No model loaded")
		return
	}
	text := filepath.Base(p.loaded.Path) + " · " + p.loaded.BackendNote + " · " + p.chat.Format().Describe()
	if warn := p.chat.Format().Warning(); warn != "" {
		text += " · " + warn
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

// closeInBackground releases a model no longer used.
func (p *chatPage) closeInBackground(lm *app.LoadedModel) {
	p.w.background("Close the model", func(context.Context) error { return lm.Close() }, nil)
}

// closeModel releases the loaded model (at exit).
func (p *chatPage) closeModel() error {
	if p.loaded == nil {
		return nil
	}
	err := p.loaded.Close()
	p.loaded, p.chat = nil, nil
	return err
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
		store, err := p.w.app.History()
		if err != nil {
			return err
		}
		th, err = store.Thread(ctx, id)
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
		store, err := p.w.app.History()
		if err != nil {
			return err
		}
		th, err = store.Thread(ctx, id)
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
	for _, m := range th.Messages {
		v := msgView{id: m.ID, role: m.Role, content: m.Content, status: m.Status, errText: m.Error,
			stats: m.Stats, version: m.Version, versions: m.Versions, note: p.notes[m.ID]}
		v.streaming = m.Status == history.StatusStreaming && p.reply != nil && p.reply.messageIDIs(m.ID)
		if v.streaming {
			v.content = p.reply.snapshot()
		}
		if o, ok := old[v.id]; ok && o.content == v.content && o.status == v.status && o.versions == v.versions &&
			o.note == v.note && o.streaming == v.streaming {
			v.height, v.heightWidth = o.height, o.heightWidth
		}
		p.views = append(p.views, v)
	}
	p.showPersona()
	p.rebuildList(toBottom)
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
	case p.loaded == nil && p.loadBar.Visible():
		b.WriteString("Loading the model…")
	case p.loaded == nil:
		b.WriteString("Choose a model at the top to start chatting.")
	default:
		b.WriteString("New chat with " + filepath.Base(p.loaded.Path) + ".")
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

// replyOptions are the options of the next reply (from the settings).
func (p *chatPage) replyOptions() app.ReplyOptions {
	return app.ReplyOptions{Policy: p.w.settings.Policy()}
}

// send sends the input as the next message and streams the reply.
func (p *chatPage) send() {
	text := strings.TrimSpace(p.entry.Text)
	if text == "" || p.reply != nil {
		return
	}
	if p.chat == nil {
		msg := "Choose a model at the top of the chat first."
		if p.loadBar.Visible() {
			msg = "The model is still loading: send again in a moment."
		}
		if p.localCount == 0 {
			msg = "There is no model yet: download one from the catalog (Models page) or import a GGUF file."
		}
		dialog.ShowInformation("No model loaded", msg, p.w.win)
		return
	}
	p.entry.SetText("")
	p.appendViews(msgView{role: history.RoleUser, content: text},
		msgView{role: history.RoleAssistant, status: history.StatusStreaming, streaming: true})
	c := p.chat
	opts := p.replyOptions()
	p.startReply(func(ctx context.Context, convID string, onEvent func(app.ReplyEvent)) (*app.ReplyResult, error) {
		return c.Send(ctx, convID, text, opts, onEvent)
	})
}

// regenerate writes a new version of a reply.
func (p *chatPage) regenerate(v msgView) {
	i := p.indexOf(v.id)
	if p.reply != nil || p.chat == nil || i < 0 || p.convID == "" {
		p.explainBusy()
		return
	}
	p.views = append(p.views[:i], msgView{role: history.RoleAssistant, status: history.StatusStreaming, streaming: true})
	p.rebuildList(true)
	c, opts, id := p.chat, p.replyOptions(), v.id
	p.startReply(func(ctx context.Context, _ string, onEvent func(app.ReplyEvent)) (*app.ReplyResult, error) {
		return c.Regenerate(ctx, id, opts, onEvent)
	})
}

// editMessage asks for a new version of one of the person's messages and
// answers it.
func (p *chatPage) editMessage(v msgView) {
	if p.reply != nil || p.chat == nil || p.convID == "" {
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
		if !ok || text == "" || i < 0 || p.reply != nil || p.chat == nil {
			return
		}
		p.views = append(p.views[:i], msgView{role: history.RoleUser, content: text},
			msgView{role: history.RoleAssistant, status: history.StatusStreaming, streaming: true})
		p.rebuildList(true)
		c, opts, id := p.chat, p.replyOptions(), v.id
		p.startReply(func(ctx context.Context, _ string, onEvent func(app.ReplyEvent)) (*app.ReplyResult, error) {
			return c.Edit(ctx, id, text, opts, onEvent)
		})
	}, p.w.win)
	d.Resize(fyne.NewSize(560, 320))
	d.Show()
}

func (p *chatPage) explainBusy() {
	switch {
	case p.reply != nil:
		dialog.ShowInformation("A reply is being written", "Wait for it to finish, or stop it (Esc), first.", p.w.win)
	case p.chat == nil:
		dialog.ShowInformation("No model loaded", "Choose a model at the top of the chat first.", p.w.win)
	}
}

// switchVersion shows another version of a message (and what followed it).
func (p *chatPage) switchVersion(v msgView, delta int) {
	if p.reply != nil {
		p.explainBusy()
		return
	}
	p.w.background("Switch versions", func(ctx context.Context) error {
		store, err := p.w.app.History()
		if err != nil {
			return err
		}
		alts, err := store.Alternatives(ctx, v.id)
		if err != nil {
			return err
		}
		k := v.version - 1 + delta
		if k < 0 || k >= len(alts) {
			return nil
		}
		return store.SwitchTo(ctx, alts[k].ID)
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

// stop stops the reply being generated (its text so far is kept).
func (p *chatPage) stop() {
	if p.reply != nil {
		p.reply.cancel()
	}
}

// setBusy switches the input between Send and Stop.
func (p *chatPage) setBusy(busy bool) {
	setVisible(p.sendBtn, !busy)
	setVisible(p.stopBtn, busy)
	setEnabled(p.modelSelect, !busy)
}

// replyFunc generates one reply in conversation convID.
type replyFunc func(ctx context.Context, convID string, onEvent func(app.ReplyEvent)) (*app.ReplyResult, error)

// startReply runs generate off the UI goroutine, creating the conversation
// first for a new chat, and streams its text into the last row.
func (p *chatPage) startReply(generate replyFunc) {
	ctx, cancel := context.WithCancel(p.w.ctx)
	rs := newReplyStream(cancel, p.convID, p.draftID)
	p.reply = rs
	p.setBusy(true)
	p.bannerC.Hide()
	draft := history.NewConversation{Persona: p.draftPersona, Sampling: p.draftSampling, Model: p.chat.ModelName()}
	stopTicker := rs.tick(func() { p.w.do(func() { rs.drawn(); p.showStream(rs) }) })
	var res *app.ReplyResult
	p.w.bg.Add(1)
	go func() {
		defer p.w.bg.Done()
		err := p.w.protect(func() error {
			convID := rs.conversation()
			if convID == "" {
				store, err := p.w.app.History()
				if err != nil {
					return err
				}
				conv, err := store.CreateConversation(ctx, draft)
				if err != nil {
					return fmt.Errorf("start the conversation: %w", err)
				}
				rs.setConversation(conv.ID)
				convID = conv.ID
				p.w.do(func() { p.conversationCreated(rs, conv) })
			}
			var err error
			res, err = generate(ctx, convID, rs.add)
			return err
		})
		stopTicker()
		p.w.do(func() { p.finishReply(rs, res, err) })
	}()
}

// viewing reports whether the reply rs belongs to what is shown.
func (p *chatPage) viewing(rs *replyStream) bool {
	convID, draftID := rs.conversation(), rs.draftID
	if p.convID != "" {
		return p.convID == convID
	}
	return convID == "" || draftID == p.draftID
}

// conversationCreated adopts the conversation made for a new chat's first message.
func (p *chatPage) conversationCreated(rs *replyStream, conv history.Conversation) {
	if p.convID == "" && rs.draftID == p.draftID {
		p.convID = conv.ID
		p.conv = conv
	}
	p.sidebar.reload()
}

// showStream shows the reply's text so far in its row (at most once a frame).
func (p *chatPage) showStream(rs *replyStream) {
	if p.reply != rs || !p.viewing(rs) {
		return
	}
	i := len(p.views) - 1
	if i < 0 || !p.views[i].streaming {
		return
	}
	text := rs.snapshot()
	if text == p.views[i].content {
		return
	}
	p.views[i].content = text
	p.views[i].id = rs.messageID()
	p.updateRow(i)
	if p.streamShown != nil {
		p.streamShown(text)
	}
}

// finishReply ends a reply: the row gets the saved text and its numbers.
func (p *chatPage) finishReply(rs *replyStream, res *app.ReplyResult, err error) {
	if p.reply == rs {
		p.reply = nil
	}
	p.setBusy(false)
	viewing := p.viewing(rs)
	if res != nil && res.DroppedNote != "" {
		p.notes[res.MessageID] = res.DroppedNote
		if viewing {
			p.showBanner("Older turns were left out to fit the context: " + res.DroppedNote)
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) && viewing {
		if errors.Is(err, chat.ErrContextFull) {
			p.showBanner("The conversation no longer fits the model's context: " + err.Error() +
				". Start a new chat, or choose an overflow policy that drops older turns in Settings.")
		} else {
			p.showBanner("The reply failed: " + err.Error())
		}
	}
	p.sidebar.reload()
	if viewing && p.convID != "" {
		p.reloadThread()
	} else if viewing {
		// The conversation could not even be created: drop the pending rows.
		p.views = nil
		p.rebuildList(true)
	}
}

func (p *chatPage) showBanner(text string) {
	p.banner.SetText(text)
	p.bannerC.Show()
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
			store, err := p.w.app.History()
			if err != nil {
				return err
			}
			return store.UpdateSettings(ctx, conv.ID, history.ConversationSettings{SystemPrompt: conv.SystemPrompt, Model: conv.Model, Sampling: s})
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
		store, err := p.w.app.History()
		if err != nil {
			return err
		}
		return store.SetPinned(ctx, id, pinned)
	}, func(error) { p.sidebar.reload() })
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
				store, err := p.w.app.History()
				if err != nil {
					return err
				}
				return store.RenameConversation(ctx, c.ID, title)
			}, func(error) { p.sidebar.reload() })
		}, p.w.win)
}

// deleteConversation deletes a conversation (after the menu's confirmation).
func (p *chatPage) deleteConversation(id string) {
	if p.reply != nil && p.reply.conversation() == id {
		p.explainBusy()
		return
	}
	p.w.background("Delete the conversation", func(ctx context.Context) error {
		store, err := p.w.app.History()
		if err != nil {
			return err
		}
		return store.DeleteConversation(ctx, id)
	}, func(err error) {
		if err == nil && p.convID == id {
			p.newDraft(p.draftPersona)
		}
		p.sidebar.reload()
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
