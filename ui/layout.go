package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
)

// widthWatch lays its objects over its whole size and reports width changes.
type widthWatch struct {
	width    float32
	onChange func(width float32)
}

// Layout implements fyne.Layout, calling onChange when the width changed.
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

// MinSize implements fyne.Layout.
func (l *widthWatch) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(200, 120) }

// fixedWidth lays o out at a given width (less when the space is
// narrower), with the height o needs at that width: for wrapped text in
// centred boxes.
func fixedWidth(o fyne.CanvasObject, width float32) fyne.CanvasObject {
	return container.New(&minWidth{width: width}, o)
}

// minWidth is fixedWidth's layout: at least width wide, as high as the
// objects are at that width.
type minWidth struct{ width float32 }

// Layout implements fyne.Layout.
func (l *minWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// MinSize implements fyne.Layout.
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

// maxColumn caps the width of the messages and the input on wide windows
// (they are centred), so that lines stay readable.
const maxColumn = 860

// capWidth lays its objects out at most max wide, centred.
type capWidth struct{ max float32 }

// Layout implements fyne.Layout.
func (l *capWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	w := min(size.Width, l.max)
	for _, o := range objs {
		o.Move(fyne.NewPos((size.Width-w)/2, 0))
		o.Resize(fyne.NewSize(w, size.Height))
	}
}

// MinSize implements fyne.Layout.
func (l *capWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}

// Sidebar sizes: its width, and the narrowest window that still shows it
// beside the chat without being asked.
const (
	sidebarWidth     = 264
	sidebarAutoWidth = 820
)

// sideLayout places the main area, a separator and the sidebar (objects
// in that order, so that the sidebar is drawn over the main area when it
// overlays it). The sidebar has a fixed width (never narrower than its
// content). On wide windows it sits beside the chat unless the person hid
// it; on narrow ones it is hidden unless the person opened it, and then
// lies over the chat like a drawer.
type sideLayout struct {
	width float32
	page  *chatPage
	// choice is the person's: 0 automatic, 1 shown, -1 hidden.
	choice int
	// shown and overlay describe the last layout.
	shown, overlay bool
}

// showSidebar reports whether the sidebar shows in a window total wide.
func (l *sideLayout) showSidebar(total float32) bool {
	switch l.choice {
	case 1:
		return true
	case -1:
		return false
	}
	return total >= sidebarAutoWidth
}

// Layout implements fyne.Layout.
func (l *sideLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	main, sep, side := objs[0], objs[1], objs[2]
	l.shown = l.showSidebar(size.Width)
	l.overlay = l.shown && size.Width < sidebarAutoWidth
	x := float32(0)
	if l.shown {
		w := max(l.width, side.MinSize().Width)
		side.Show()
		sep.Show()
		side.Move(fyne.NewPos(0, 0))
		side.Resize(fyne.NewSize(w, size.Height))
		sep.Move(fyne.NewPos(w, 0))
		sep.Resize(fyne.NewSize(theme.SeparatorThicknessSize(), size.Height))
		if !l.overlay {
			x = w + theme.SeparatorThicknessSize()
		}
	} else {
		side.Hide()
		sep.Hide()
	}
	main.Move(fyne.NewPos(x, 0))
	main.Resize(fyne.NewSize(size.Width-x, size.Height))
}

// MinSize implements fyne.Layout.
func (l *sideLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	m := objs[0].MinSize()
	return fyne.NewSize(m.Width, max(m.Height, objs[2].MinSize().Height))
}
