package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
)

// msgView is what one row of the message list shows.
type msgView struct {
	id        int64
	role      history.Role
	content   string
	status    history.Status
	errText   string
	stats     history.Stats
	seed      *int64 // a sampled reply's seed (nil: greedy, or not kept)
	version   int
	versions  int
	streaming bool
	// note is the latest reply's notice about dropped turns ("" for none).
	note string

	// height is the row's measured height at heightWidth (0: not measured).
	height      float32
	heightWidth float32
}

// rowActions are what a row's buttons do (UI goroutine).
type rowActions struct {
	copy       func(text string)
	edit       func(v msgView)
	regenerate func(v msgView)
	switchTo   func(v msgView, delta int)
	// resume continues a reply that was cut short (nil: no Continue button).
	resume func(v msgView)
	// canContinue reports whether the model in use can continue a reply
	// (a remote one cannot; nil: it can).
	canContinue func() bool
	// md caches the parsed Markdown of messages (nil: parse every time).
	md *mdCache
}

// messageRow is one message of the conversation: who wrote it, its text
// (Markdown with code blocks for replies), buttons (copy, edit or
// regenerate, versions) and, under a reply, its numbers and notices.
// Its height depends on its width; layoutAt computes both, so that the
// list's cached row heights match what is drawn.
type messageRow struct {
	widget.BaseWidget
	actions rowActions
	view    msgView

	bg        *canvas.Rectangle
	who       *widget.Label
	version   *widget.Label
	prev      *tipButton
	next      *tipButton
	copyBtn   *tipButton
	editBtn   *tipButton
	regenBtn  *tipButton
	resumeBtn *widget.Button
	buttons   *fyne.Container
	userText  *widget.RichText
	footer    *widget.Label
	notice    *widget.Label

	// md draws the reply's Markdown, keeping the widgets of unchanged
	// blocks (all but the last while a reply streams).
	md mdView
	// body lists the block views the current message uses, in order.
	body []fyne.CanvasObject

	height float32
	// shown is set once the row has shown a view (set).
	shown bool
}

func newMessageRow(actions rowActions) *messageRow {
	r := &messageRow{actions: actions}
	r.md.copyText = func(s string) { r.actions.copy(s) }
	r.bg = canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	r.bg.CornerRadius = theme.Size(theme.SizeNameInputRadius) * 2
	r.who = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.version = widget.NewLabel("")
	r.version.SizeName = theme.SizeNameCaptionText
	r.prev = iconButton(theme.NavigateBackIcon(), "Previous version", func() { r.actions.switchTo(r.view, -1) })
	r.next = iconButton(theme.NavigateNextIcon(), "Next version", func() { r.actions.switchTo(r.view, +1) })
	r.copyBtn = iconButton(theme.ContentCopyIcon(), "Copy the message", func() { r.actions.copy(r.view.content) })
	r.editBtn = iconButton(theme.DocumentCreateIcon(), "Edit and send again (the original is kept)", func() { r.actions.edit(r.view) })
	r.regenBtn = iconButton(theme.ViewRefreshIcon(), "Write another reply (this one is kept)", func() { r.actions.regenerate(r.view) })
	r.resumeBtn = widget.NewButtonWithIcon("Continue", theme.MediaPlayIcon(), func() {
		if r.actions.resume != nil {
			r.actions.resume(r.view)
		}
	})
	r.resumeBtn.Importance = widget.LowImportance
	r.buttons = container.NewHBox(r.resumeBtn, r.prev, r.version, r.next, r.copyBtn, r.editBtn, r.regenBtn)
	r.userText = widget.NewRichText()
	r.userText.Wrapping = fyne.TextWrapWord
	r.footer = widget.NewLabel("")
	r.footer.SizeName = theme.SizeNameCaptionText
	r.footer.Wrapping = fyne.TextWrapWord
	r.notice = widget.NewLabel("")
	r.notice.Importance = widget.WarningImportance
	r.notice.Wrapping = fyne.TextWrapWord
	r.ExtendBaseWidget(r)
	return r
}

// set shows v in the row (UI goroutine). A row already showing the same
// message is left alone, so that refreshing the list re-parses only what
// changed (the streaming reply).
func (r *messageRow) set(v msgView) {
	if r.shown && sameView(r.view, v) {
		return
	}
	r.apply(v)
	r.shown = true
	r.Refresh()
}

// sameView reports whether two views show the same thing.
func sameView(a, b msgView) bool {
	a.height, a.heightWidth, b.height, b.heightWidth = 0, 0, 0, 0
	return a == b
}

// apply puts v's content in the row's parts without laying the row out.
func (r *messageRow) apply(v msgView) {
	r.view = v
	user := v.role == history.RoleUser
	if user {
		r.who.SetText("You")
		r.bg.FillColor = theme.Color(theme.ColorNameInputBackground)
	} else {
		r.who.SetText("Llama")
		r.bg.FillColor = theme.Color(theme.ColorNameBackground)
	}
	r.bg.Refresh()
	setVisible(r.prev, v.versions > 1)
	setVisible(r.next, v.versions > 1)
	setVisible(r.version, v.versions > 1)
	if v.versions > 1 {
		r.version.SetText(fmt.Sprintf("%d/%d", v.version, v.versions))
		setEnabled(r.prev, v.version > 1)
		setEnabled(r.next, v.version < v.versions)
	}
	setVisible(r.editBtn, user)
	setVisible(r.regenBtn, !user)
	setEnabled(r.editBtn, !v.streaming && v.id != 0)
	setEnabled(r.regenBtn, !v.streaming && v.id != 0)
	setEnabled(r.copyBtn, v.content != "")
	modelContinues := r.actions.canContinue == nil || r.actions.canContinue()
	setVisible(r.resumeBtn, r.actions.resume != nil && modelContinues && canResume(v))

	r.body = r.body[:0]
	if user {
		r.userText.Segments = []widget.RichTextSegment{&widget.TextSegment{Style: widget.RichTextStyleParagraph, Text: v.content}}
		r.userText.Refresh()
		r.body = append(r.body, r.userText)
	} else {
		r.body = append(r.body, r.md.set(r.markdown(v))...)
	}

	footer, danger := footerText(v)
	r.footer.SetText(footer)
	if danger {
		r.footer.Importance = widget.DangerImportance
	} else {
		r.footer.Importance = widget.MediumImportance
	}
	r.footer.Refresh()
	setVisible(r.footer, footer != "")
	r.notice.SetText(noticeText(v))
	setVisible(r.notice, r.notice.Text != "")
}

// markdown returns the blocks of a reply, parsed once per id and content.
func (r *messageRow) markdown(v msgView) []mdBlock {
	if r.actions.md == nil {
		return parseMarkdown(v.content)
	}
	// A streaming reply keeps its id: the cache compares the content, so
	// the measurer's parse of a frame serves the row drawing it.
	return r.actions.md.blocks(v.id, v.content)
}

// canResume reports whether a reply can be continued (see app.CanContinue).
func canResume(v msgView) bool {
	return !v.streaming && v.id != 0 && app.CanContinue(history.Message{Role: v.role, Content: v.content,
		Status: v.status, Stats: v.stats})
}

// footerText is the line under a message: a reply's numbers, or why it
// stopped early. danger marks a failure.
func footerText(v msgView) (text string, danger bool) {
	if v.role == history.RoleUser {
		return "", false
	}
	if v.streaming {
		return "Generating…", false
	}
	var parts []string
	s := v.stats
	if s.GeneratedTokens > 0 {
		parts = append(parts, fmt.Sprintf("%d tokens", s.GeneratedTokens))
	}
	if s.TokensPerSecond > 0 {
		parts = append(parts, fmt.Sprintf("%.1f tokens/s", s.TokensPerSecond))
	}
	if s.TimeToFirstTokenMs > 0 {
		parts = append(parts, "first token "+formatMillis(s.TimeToFirstTokenMs))
	}
	if s.Backend != "" {
		parts = append(parts, s.Backend)
	}
	if v.seed != nil {
		parts = append(parts, fmt.Sprintf("seed %d", *v.seed))
	}
	switch v.status {
	case history.StatusCancelled:
		parts = append(parts, "stopped")
	case history.StatusInterrupted:
		parts = append(parts, "interrupted (the app closed while it was written)")
	case history.StatusError:
		msg := "failed"
		if v.errText != "" {
			msg = "failed: " + v.errText
		}
		return strings.Join(append(parts, msg), " · "), true
	case history.StatusDone:
		switch s.StopReason {
		case "max_tokens":
			parts = append(parts, "reached the token limit")
		case "context_full":
			parts = append(parts, "the context is full")
		}
	}
	return strings.Join(parts, " · "), false
}

// noticeText says when earlier turns were left out to fit the context.
func noticeText(v msgView) string {
	if v.role == history.RoleUser || v.streaming {
		return ""
	}
	if v.note != "" {
		return "⚠ " + v.note
	}
	if n := v.stats.DroppedTurns; n > 0 {
		turns := "turns were"
		if n == 1 {
			turns = "turn was"
		}
		return fmt.Sprintf("⚠ %d earlier %s left out of this reply's context to make room (see Settings → overflow policy).", n, turns)
	}
	return ""
}

func formatMillis(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.1f s", ms/1000)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// CreateRenderer draws the row with layoutAt.
func (r *messageRow) CreateRenderer() fyne.WidgetRenderer { return &messageRowRenderer{row: r} }

// rowPad is the space around and inside a message's background.
func rowPad() float32 { return theme.Padding() * 2 }

// layoutAt places the row's parts for a width and returns the height it needs.
func (r *messageRow) layoutAt(width float32) float32 { return r.arrange(width, true) }

// arrange computes the row's height at width; with place, it also moves
// and sizes the parts (measuring alone skips that work).
func (r *messageRow) arrange(width float32, place bool) float32 {
	pad := rowPad()
	// On a wide window the message is a centred column of maxColumn.
	x0 := max(0, (width-maxColumn)/2)
	width = min(width, maxColumn)
	inner := width - 4*pad
	if inner < 50 {
		inner = 50
	}
	x := x0 + 2*pad
	y := 2 * pad
	whoMin := r.who.MinSize()
	btnMin := r.buttons.MinSize()
	headH := fyne.Max(whoMin.Height, btnMin.Height)
	if place {
		r.who.Move(fyne.NewPos(x, y+(headH-whoMin.Height)/2))
		r.who.Resize(whoMin)
		r.buttons.Move(fyne.NewPos(x+inner-btnMin.Width, y+(headH-btnMin.Height)/2))
		r.buttons.Resize(btnMin)
	}
	y += headH
	add := func(o fyne.CanvasObject) {
		if !place {
			y += heightAtWidth(o, inner)
			return
		}
		h := fitWidth(o, inner)
		o.Move(fyne.NewPos(x, y))
		y += h
	}
	for _, o := range r.body {
		add(o)
	}
	if r.footer.Visible() {
		add(r.footer)
	}
	if r.notice.Visible() {
		add(r.notice)
	}
	y += pad
	if place {
		r.bg.Move(fyne.NewPos(x0+pad, pad))
		r.bg.Resize(fyne.NewSize(width-2*pad, y-pad))
	}
	r.height = y + pad
	return r.height
}

// measure returns the height the row needs to show v at width.
func (r *messageRow) measure(v msgView, width float32) float32 {
	r.apply(v)
	return r.arrange(width, false)
}

// heightAtWidth returns the height o needs at width w, giving it that
// width (but not the height: that would lay wrapped text out again).
func heightAtWidth(o fyne.CanvasObject, w float32) float32 {
	if o.Size().Width != w {
		o.Resize(fyne.NewSize(w, o.Size().Height))
	}
	return o.MinSize().Height
}

// fitWidth gives o the width w and the height it then needs, which it returns.
func fitWidth(o fyne.CanvasObject, w float32) float32 {
	if o.Size().Width != w {
		o.Resize(fyne.NewSize(w, o.Size().Height))
	}
	h := o.MinSize().Height
	o.Resize(fyne.NewSize(w, h))
	return h
}

// messageRowRenderer draws a messageRow, which lays itself out (layoutAt).
type messageRowRenderer struct{ row *messageRow }

// Destroy implements fyne.WidgetRenderer.
func (m *messageRowRenderer) Destroy() {}

// Layout implements fyne.WidgetRenderer.
func (m *messageRowRenderer) Layout(size fyne.Size) { m.row.layoutAt(size.Width) }

// MinSize implements fyne.WidgetRenderer: the height of the last layout.
func (m *messageRowRenderer) MinSize() fyne.Size {
	return fyne.NewSize(200, m.row.height)
}

// Objects implements fyne.WidgetRenderer.
func (m *messageRowRenderer) Objects() []fyne.CanvasObject {
	r := m.row
	objs := make([]fyne.CanvasObject, 0, 6+len(r.body))
	objs = append(objs, r.bg, r.who, r.buttons)
	objs = append(objs, r.body...)
	return append(objs, r.footer, r.notice)
}

// Refresh implements fyne.WidgetRenderer: it lays the row out again.
func (m *messageRowRenderer) Refresh() {
	m.row.layoutAt(m.row.Size().Width)
	for _, o := range m.Objects() {
		o.Refresh()
	}
}

// codeView is a code block: its language, a copy button and the code in a
// monospace font on a tinted background.
type codeView struct {
	root   *fyne.Container
	scroll *container.Scroll
	bg     *canvas.Rectangle
	lang   *widget.Label
	text   *widget.RichText
	code   string
}

func newCodeView(copyText func(string)) *codeView {
	cv := &codeView{}
	cv.bg = canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	cv.bg.CornerRadius = theme.Size(theme.SizeNameInputRadius)
	cv.lang = widget.NewLabel("")
	cv.lang.SizeName = theme.SizeNameCaptionText
	copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() { copyText(cv.code) })
	copyBtn.Importance = widget.LowImportance
	copyBtn.SetText("")
	cv.text = widget.NewRichText()
	cv.text.Wrapping = fyne.TextWrapOff // long lines scroll sideways, not wrap mid-word
	cv.scroll = container.NewHScroll(cv.text)
	head := container.NewBorder(nil, nil, cv.lang, newTipButton(copyBtn, "Copy the code"))
	cv.root = container.NewStack(cv.bg, container.NewBorder(head, nil, nil, nil, cv.scroll))
	return cv
}

// set shows code (in language lang, "" when unknown).
func (cv *codeView) set(code, lang string) {
	if lang == "" {
		lang = "code"
	}
	if cv.code == code && cv.lang.Text == lang && len(cv.text.Segments) > 0 {
		return
	}
	cv.code = code
	cv.lang.SetText(lang)
	cv.bg.FillColor = theme.Color(theme.ColorNameInputBackground)
	cv.text.Segments = []widget.RichTextSegment{&widget.TextSegment{Style: widget.RichTextStyleCodeBlock, Text: code}}
	cv.text.Refresh()
}

func setVisible(o fyne.CanvasObject, visible bool) {
	if visible {
		o.Show()
	} else {
		o.Hide()
	}
}

func setEnabled(d fyne.Disableable, enabled bool) {
	if enabled {
		d.Enable()
	} else {
		d.Disable()
	}
}
