package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
)

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
