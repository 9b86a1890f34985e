package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// wheelCatcher lies over a form field and hands mouse-wheel events to the
// page's scroller. Fyne gives a wheel event to the innermost scrollable
// object under the pointer, and every Entry holds a scroller of its own,
// so a page of form fields would not scroll while the pointer is over a
// field. The catcher takes only wheel events: clicks, typing, the text
// cursor and hovering reach the field under it.
type wheelCatcher struct {
	widget.BaseWidget
	target func() fyne.Scrollable
}

// Scrolled scrolls the page.
func (c *wheelCatcher) Scrolled(e *fyne.ScrollEvent) {
	if t := c.target(); t != nil {
		t.Scrolled(e)
	}
}

// CreateRenderer draws nothing.
func (c *wheelCatcher) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(canvas.NewRectangle(color.Transparent))
}

// wheelThrough lays a wheelCatcher over o for the page's scroller.
func wheelThrough(o fyne.CanvasObject, target func() fyne.Scrollable) fyne.CanvasObject {
	c := &wheelCatcher{target: target}
	c.ExtendBaseWidget(c)
	return container.NewStack(o, c)
}

// wheelFormItems passes the wheel through the single-line entries of
// items to the page's scroller (multi-line ones scroll their own text).
func wheelFormItems(items []*widget.FormItem, target func() fyne.Scrollable) []*widget.FormItem {
	for _, it := range items {
		if e, ok := it.Widget.(*widget.Entry); ok && !e.MultiLine {
			it.Widget = wheelThrough(e, target)
		}
	}
	return items
}

// scrollTarget returns a function that finds *s once it is set.
func scrollTarget(s **container.Scroll) func() fyne.Scrollable {
	return func() fyne.Scrollable {
		if *s == nil {
			return nil
		}
		return *s
	}
}
