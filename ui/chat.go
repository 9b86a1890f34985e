package ui

import (
	"context"
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
	loadLabel   *widget.Label
	loadBox     *fyne.Container
	// sideBtn shows or hides the conversations; sideLayout places them.
	sideBtn    *tipButton
	sideLayout *sideLayout
	// sideBg is the sidebar's background (it may lie over the chat).
	sideBg *canvas.Rectangle
	// count shows the draft's size against the room in the context.
	count *widget.Label
	// countSeq numbers the draft checks, so that only the newest is shown.
	countSeq   int
	countTimer *time.Timer
	loadSeq    int
	// model is the responder this page gave the chat service (nil before
	// the first model loads): a local model or a remote one; the service
	// owns and closes it.
	model app.Responder
	// remoteRefs are the remote models in the picker (label → remote:NAME/MODEL).
	remoteRefs   map[string]string
	status       *widget.Label
	personaSel   *widget.Select
	personas     map[string]history.Persona
	suppressPick bool
	samplingBtn  *tipButton
	exportBtn    *tipButton

	// The conversation shown: convID is "" for a new chat not saved yet
	// (draftID tells drafts apart), with the persona and sampling it will
	// start with.
	convID        string
	conv          history.Conversation
	draftID       int
	draftPersona  string
	draftSampling history.Sampling
	views         []msgView
	// openSeq numbers the conversations opened (and new chats shown), so
	// that only the newest is shown; reloadSeq numbers the reloads of the
	// one shown. An open drops a pending reload; a reload leaves a pending
	// open alone.
	openSeq   int
	reloadSeq int
	// notes keeps the dropped-turns notice of replies made in this session.
	notes map[int64]string
	// md holds the replies' parsed Markdown (parsed off the UI goroutine
	// when a conversation opens).
	md *mdCache

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
	bannerX *tipButton
	bannerC *fyne.Container

	// samplingDialog is the last sampling dialog shown (for tests and screenshots).
	samplingDialog dialog.Dialog
	// renameDialog is the last rename dialog shown (for tests).
	renameDialog *dialog.FormDialog
	// startingDraft is the draft (draftID) whose first message is being
	// sent, until its conversation exists (0 for none); startCancel stops
	// that reply.
	startingDraft int
	startCancel   context.CancelFunc
	// earlyDone keeps the ends of replies that came while startingDraft
	// was shown without its conversation (see finishReply).
	earlyDone []app.ReplyEvent
	// preferredNotice is the banner's text when it says why a persona's
	// preferred model was not loaded.
	preferredNotice string
	// streamShown, when set (tests), is told each text a streaming row shows.
	streamShown func(text string)
}

func newChatPage(w *Window) *chatPage {
	p := &chatPage{w: w, modelPaths: map[string]string{}, localCount: -1, notes: map[int64]string{}, md: newMDCache(),
		personas: map[string]history.Persona{}, draftPersona: w.settings.DefaultPersona}
	p.sidebar = newSidebar(p)
	p.measurer = newMessageRow(rowActions{copy: func(string) {}, edit: func(msgView) {}, regenerate: func(msgView) {},
		switchTo: func(msgView, int) {}, md: p.md})

	p.modelSelect = widget.NewSelect(nil, func(label string) {
		if p.suppressPick {
			return
		}
		if path, ok := p.modelPaths[label]; ok {
			p.loadModel(path)
		} else if ref, ok := p.remoteRefs[label]; ok {
			p.useRemote(ref)
		}
	})
	p.modelSelect.PlaceHolder = "Choose a model"
	p.loadBar = widget.NewProgressBarInfinite()
	p.loadBar.Stop()
	p.loadLabel = widget.NewLabel("")
	p.loadLabel.SizeName = theme.SizeNameCaptionText
	p.loadBox = container.NewBorder(nil, nil, p.loadLabel, nil, p.loadBar)
	p.loadBox.Hide()
	p.personaSel = widget.NewSelect([]string{noPersona}, func(name string) {
		if p.suppressPick {
			return
		}
		if name == noPersona {
			name = ""
		}
		p.pickPersona(name)
	})
	p.samplingBtn = newTipButton(widget.NewButtonWithIcon("Sampling", theme.SettingsIcon(), p.editSampling),
		"Temperature, seed, stop strings and more for this conversation")
	p.exportBtn = iconButton(theme.DocumentSaveIcon(), "Export this conversation (Ctrl+E)", p.exportCurrent)
	p.sideBtn = iconButton(theme.MenuIcon(), "Show or hide the conversations", p.toggleSidebar)
	top := container.NewBorder(nil, p.loadBox, p.sideBtn,
		container.NewHBox(widget.NewLabel("Persona"), fixedWidth(p.personaSel, 170), p.samplingBtn, p.exportBtn),
		p.modelSelect)

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
	p.bannerX = iconButton(theme.CancelIcon(), "Dismiss", func() { p.bannerC.Hide() })
	p.bannerC = container.NewBorder(nil, nil, nil, p.bannerX, p.banner)
	p.bannerC.Hide()
	p.status = widget.NewLabel("No model loaded")
	p.status.SizeName = theme.SizeNameCaptionText
	p.status.Importance = widget.LowImportance
	p.status.Truncation = fyne.TextTruncateEllipsis
	p.count = widget.NewLabel("")
	p.count.SizeName = theme.SizeNameCaptionText
	p.count.Importance = widget.LowImportance
	p.entry.OnChanged = func(string) { p.draftChanged() }
	buttons := container.NewVBox(p.sendBtn, p.stopBtn)
	input := container.NewVBox(p.bannerC,
		container.NewBorder(nil, nil, nil, container.NewCenter(buttons), p.entry),
		container.NewBorder(nil, nil, nil, p.count, p.status))

	main := container.NewBorder(container.NewVBox(top, widget.NewSeparator()), container.New(&capWidth{max: maxColumn}, input),
		nil, nil, center)
	p.sideLayout = &sideLayout{width: sidebarWidth, page: p}
	sideBg := canvas.NewRectangle(theme.Color(theme.ColorNameBackground))
	p.sideBg = sideBg
	p.content = container.New(p.sideLayout, main, widget.NewSeparator(), container.NewStack(sideBg, p.sidebar.content))
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

// updateEmptyState shows the welcome page (no models), a hint (no
// messages) or the messages.
func (p *chatPage) updateEmptyState() {
	noModels := p.localCount == 0 && !p.hasModels() && p.model == nil // remote models count too
	setVisible(p.welcome, noModels && len(p.views) == 0)
	if len(p.views) > 0 || noModels {
		p.hintBox.Hide()
		return
	}
	var b strings.Builder
	switch {
	case p.localCount < 0:
		b.WriteString("Looking for models…")
	case p.model == nil && p.loadBox.Visible():
		b.WriteString("Loading the model…")
	case p.model == nil:
		b.WriteString("Choose a model at the top to start chatting.")
	default:
		b.WriteString("New chat with " + p.model.Info().Model + ".")
	}
	if p.hasModels() || p.model != nil {
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
