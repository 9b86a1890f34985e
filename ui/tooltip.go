package ui

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// tipDelay is how long the pointer rests on a button before its tooltip shows.
const tipDelay = 500 * time.Millisecond

// tipButton is a button with a tooltip: icon-only buttons say what they do
// when the pointer rests on them. The tooltip is drawn by the tipHost
// laid over the window's content (Fyne 2.7 has no tooltips).
type tipButton struct {
	widget.Button
	tip   string
	timer *time.Timer
}

// newTipButton gives b (built with widget.NewButton…) a tooltip.
func newTipButton(b *widget.Button, tip string) *tipButton {
	t := &tipButton{tip: tip}
	t.Text, t.Icon, t.OnTapped, t.Importance = b.Text, b.Icon, b.OnTapped, b.Importance
	t.ExtendBaseWidget(t)
	return t
}

// iconButton is an icon-only button with a tooltip.
func iconButton(icon fyne.Resource, tip string, tapped func()) *tipButton {
	b := widget.NewButtonWithIcon("", icon, tapped)
	b.Importance = widget.LowImportance
	return newTipButton(b, tip)
}

// MouseIn starts the tooltip's delay (and lets the button highlight).
func (t *tipButton) MouseIn(e *desktop.MouseEvent) {
	t.Button.MouseIn(e)
	if t.tip == "" {
		return
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.timer = time.AfterFunc(tipDelay, func() { fyne.Do(t.showTip) })
}

// MouseOut hides the tooltip.
func (t *tipButton) MouseOut() {
	t.Button.MouseOut()
	if t.timer != nil {
		t.timer.Stop()
	}
	if h := hostFor(t); h != nil {
		h.hide(t)
	}
}

// Tapped hides the tooltip and presses the button.
func (t *tipButton) Tapped(e *fyne.PointEvent) {
	if t.timer != nil {
		t.timer.Stop()
	}
	if h := hostFor(t); h != nil {
		h.hide(t)
	}
	t.Button.Tapped(e)
}

func (t *tipButton) showTip() {
	if h := hostFor(t); h != nil && t.Visible() {
		h.show(t, t.tip)
	}
}

// hostFor finds the tipHost over the window content that o is drawn in.
func hostFor(o fyne.CanvasObject) *tipHost {
	app := fyne.CurrentApp()
	if app == nil {
		return nil
	}
	c := app.Driver().CanvasForObject(o)
	if c == nil {
		return nil
	}
	if st, ok := c.Content().(*fyne.Container); ok && len(st.Objects) > 0 {
		if h, ok := st.Objects[len(st.Objects)-1].(*tipHost); ok {
			return h
		}
	}
	return nil
}

// tipHost draws one tooltip at a time over the window's content. It takes
// no input: pointer events go to what is under it.
type tipHost struct {
	widget.BaseWidget
	owner fyne.CanvasObject
	bg    *canvas.Rectangle
	text  *canvas.Text
	root  *fyne.Container
}

func newTipHost() *tipHost {
	h := &tipHost{}
	h.bg = canvas.NewRectangle(theme.Color(theme.ColorNameOverlayBackground))
	h.bg.StrokeColor = theme.Color(theme.ColorNameInputBorder)
	h.bg.StrokeWidth = 1
	h.bg.CornerRadius = theme.Size(theme.SizeNameInputRadius)
	h.text = canvas.NewText("", theme.Color(theme.ColorNameForeground))
	h.text.TextSize = theme.CaptionTextSize()
	h.root = container.NewWithoutLayout(h.bg, h.text)
	h.bg.Hide()
	h.text.Hide()
	h.ExtendBaseWidget(h)
	return h
}

// withTips lays a tipHost over content.
func withTips(content fyne.CanvasObject) (*fyne.Container, *tipHost) {
	h := newTipHost()
	return container.NewStack(content, h), h
}

// show draws text under (or above, near the bottom) owner.
func (h *tipHost) show(owner fyne.CanvasObject, text string) {
	d := fyne.CurrentApp().Driver()
	pos := d.AbsolutePositionForObject(owner).Subtract(d.AbsolutePositionForObject(h))
	h.owner = owner
	h.text.Text = text
	h.text.Color = theme.Color(theme.ColorNameForeground)
	h.bg.FillColor = theme.Color(theme.ColorNameOverlayBackground)
	pad := theme.Padding() * 2
	ts := h.text.MinSize()
	size := fyne.NewSize(ts.Width+2*pad, ts.Height+pad)
	at := fyne.NewPos(pos.X+owner.Size().Width/2-size.Width/2, pos.Y+owner.Size().Height+2)
	if at.Y+size.Height > h.Size().Height {
		at.Y = pos.Y - size.Height - 2
	}
	at.X = max(0, min(at.X, h.Size().Width-size.Width))
	h.bg.Move(at)
	h.bg.Resize(size)
	h.text.Move(at.AddXY(pad, pad/2))
	h.text.Resize(ts)
	h.bg.Show()
	h.text.Show()
	h.Refresh()
}

// hide removes owner's tooltip.
func (h *tipHost) hide(owner fyne.CanvasObject) {
	if h.owner != owner {
		return
	}
	h.owner = nil
	h.bg.Hide()
	h.text.Hide()
	h.Refresh()
}

// shown returns the tooltip's text ("" when none shows).
func (h *tipHost) shown() string {
	if h.owner == nil {
		return ""
	}
	return h.text.Text
}

// CreateRenderer draws the tooltip.
func (h *tipHost) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(h.root) }
