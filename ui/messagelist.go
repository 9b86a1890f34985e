package ui

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// rowActions connects message rows to the page.
func (p *chatPage) rowActions() rowActions {
	return rowActions{
		copy:       p.copyText,
		edit:       p.editMessage,
		regenerate: p.regenerate,
		switchTo:   p.switchVersion,
		resume:     p.continueReply,
		canContinue: func() bool {
			return p.model == nil || p.model.Info().CanContinue // with no model, Continue says to pick one
		},
		md: p.md,
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
	p.sideBg.FillColor = theme.Color(theme.ColorNameBackground)
	p.sideBg.Refresh()
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
