package ui

import (
	"net/url"
	"reflect"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// mdView draws Markdown blocks as widgets, keeping the widgets of blocks
// that did not change since the last set (all but the last while a reply
// streams).
type mdView struct {
	copyText func(string)
	blocks   []mdBlock
	objs     []fyne.CanvasObject
}

// set returns the widgets for blocks.
func (v *mdView) set(blocks []mdBlock) []fyne.CanvasObject {
	objs := make([]fyne.CanvasObject, len(blocks))
	for i, b := range blocks {
		if i < len(v.blocks) && reflect.DeepEqual(v.blocks[i], b) {
			objs[i] = v.objs[i]
			continue
		}
		objs[i] = v.blockObject(b)
	}
	v.blocks, v.objs = blocks, objs
	return objs
}

// reset forgets the widgets (after a theme change: they hold colours).
func (v *mdView) reset() { v.blocks, v.objs = nil, nil }

func (v *mdView) blockObject(b mdBlock) fyne.CanvasObject {
	switch b.kind {
	case mdHeading:
		size := theme.SizeNameSubHeadingText
		if b.level == 1 {
			size = theme.SizeNameHeadingText
		}
		return spansText(b.spans, size, fyne.TextWrapWord)
	case mdList:
		return v.listObject(b)
	case mdQuote:
		bar := canvas.NewRectangle(theme.Color(theme.ColorNameDisabled))
		return container.New(&indentLayout{indent: theme.Padding() * 4, bar: true}, bar, v.stack(b.children))
	case mdCode:
		cv := newCodeView(v.copyText)
		cv.set(b.code, b.lang)
		return cv.root
	case mdTable:
		return tableObject(b)
	case mdRule:
		return widget.NewSeparator()
	}
	// A long paragraph is drawn in parts: Fyne's RichText lays a wrapped
	// paragraph out in time that grows faster than its length.
	parts := splitSpans(b.spans, maxProse)
	if len(parts) == 1 {
		return spansText(b.spans, theme.SizeNameText, fyne.TextWrapWord)
	}
	objs := make([]fyne.CanvasObject, len(parts))
	for i, p := range parts {
		objs[i] = spansText(p, theme.SizeNameText, fyne.TextWrapWord)
	}
	return container.New(&tightStack{}, objs...)
}

// stack lays blocks one under the other.
func (v *mdView) stack(blocks []mdBlock) fyne.CanvasObject {
	objs := make([]fyne.CanvasObject, len(blocks))
	for i, b := range blocks {
		objs[i] = v.blockObject(b)
	}
	return container.NewVBox(objs...)
}

// listObject draws a list: each item's marker in a column, its blocks
// (nested lists too) indented beside it, wrapped lines aligned.
func (v *mdView) listObject(b mdBlock) fyne.CanvasObject {
	items := make([]fyne.CanvasObject, len(b.items))
	for i, item := range b.items {
		marker := "•"
		if b.ordered {
			marker = strconv.Itoa(b.start+i) + "."
		}
		m := widget.NewLabel(marker)
		m.Alignment = fyne.TextAlignTrailing
		m.TextStyle.Bold = b.ordered
		items[i] = container.New(&markerLayout{}, m, v.stack(item))
	}
	return container.New(&tightStack{}, items...)
}

// spansText is a RichText for spans.
func spansText(spans []mdSpan, size fyne.ThemeSizeName, wrap fyne.TextWrap) *widget.RichText {
	rt := widget.NewRichText(spanSegments(spans, size)...)
	rt.Wrapping = wrap
	return rt
}

// spanSegments turns spans into inline RichText segments.
func spanSegments(spans []mdSpan, size fyne.ThemeSizeName) []widget.RichTextSegment {
	segs := make([]widget.RichTextSegment, 0, len(spans))
	for _, s := range spans {
		if s.link != "" {
			if u, err := url.Parse(s.link); err == nil && (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "mailto") {
				segs = append(segs, &widget.HyperlinkSegment{Text: s.text, URL: u})
				continue
			}
		}
		style := widget.RichTextStyle{Inline: true, SizeName: size, ColorName: theme.ColorNameForeground,
			TextStyle: fyne.TextStyle{Bold: s.bold, Italic: s.italic || s.struck, Monospace: s.code}}
		segs = append(segs, &widget.TextSegment{Text: s.text, Style: style})
	}
	return segs
}

// tableObject draws a table as a grid (the header bold on a tinted row,
// the columns as wide as their widest cell) that scrolls sideways when it
// is wider than the message.
func tableObject(b mdBlock) fyne.CanvasObject {
	cols := len(b.header)
	for _, r := range b.rows {
		cols = max(cols, len(r))
	}
	if cols == 0 {
		return widget.NewLabel("")
	}
	var cells []fyne.CanvasObject
	addRow := func(row [][]mdSpan, header bool) {
		for c := range cols {
			var spans []mdSpan
			if c < len(row) {
				spans = append(spans, row[c]...) // a copy: the blocks are shared
			}
			if header {
				for i := range spans {
					spans[i].bold = true
				}
			}
			rt := spansText(spans, theme.SizeNameText, fyne.TextWrapOff)
			if c < len(b.align) {
				switch b.align[c] {
				case alignCenter:
					setAlignment(rt, fyne.TextAlignCenter)
				case alignRight:
					setAlignment(rt, fyne.TextAlignTrailing)
				}
			}
			cells = append(cells, rt)
		}
	}
	addRow(b.header, true)
	for _, r := range b.rows {
		addRow(r, false)
	}
	rows := 1 + len(b.rows)
	shade := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	grid := &gridLayout{cols: cols, rows: rows}
	lines := make([]fyne.CanvasObject, 0, rows+cols)
	for range rows + cols - 1 {
		lines = append(lines, canvas.NewRectangle(theme.Color(theme.ColorNameSeparator)))
	}
	objs := append([]fyne.CanvasObject{shade}, lines...)
	objs = append(objs, cells...)
	grid.shade, grid.lines = 1, len(lines)
	return container.NewHScroll(container.New(grid, objs...))
}

// setAlignment aligns every text segment of rt.
func setAlignment(rt *widget.RichText, a fyne.TextAlign) {
	for _, s := range rt.Segments {
		if t, ok := s.(*widget.TextSegment); ok {
			t.Style.Alignment = a
		}
	}
}

// gridLayout lays a table out: objects are the header shade, the grid
// lines, then the cells row by row. Each column is as wide as its widest
// cell; the grid is as wide as its columns (its scroller scrolls the rest).
type gridLayout struct {
	cols, rows   int
	shade, lines int
}

func (g *gridLayout) measure(objs []fyne.CanvasObject) (widths, heights []float32) {
	widths, heights = make([]float32, g.cols), make([]float32, g.rows)
	cells := objs[g.shade+g.lines:]
	pad := theme.Padding() * 2
	for i, c := range cells {
		m := c.MinSize()
		r, k := i/g.cols, i%g.cols
		widths[k] = max(widths[k], m.Width+pad)
		heights[r] = max(heights[r], m.Height)
	}
	return widths, heights
}

// Layout implements fyne.Layout: the cells, then the shading of the
// header row and the rule lines between rows and columns.
func (g *gridLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	widths, heights := g.measure(objs)
	cells := objs[g.shade+g.lines:]
	y := float32(0)
	var ys []float32
	for r := range g.rows {
		x := float32(0)
		for k := range g.cols {
			c := cells[r*g.cols+k]
			c.Move(fyne.NewPos(x+theme.Padding(), y))
			c.Resize(fyne.NewSize(widths[k]-2*theme.Padding(), heights[r]))
			x += widths[k]
		}
		y += heights[r]
		ys = append(ys, y)
	}
	total := float32(0)
	for _, w := range widths {
		total += w
	}
	if g.shade > 0 {
		objs[0].Move(fyne.NewPos(0, 0))
		objs[0].Resize(fyne.NewSize(total, heights[0]))
	}
	lines := objs[g.shade : g.shade+g.lines]
	li := 0
	for r := 0; r < g.rows-1 && li < len(lines); r++ {
		lines[li].Move(fyne.NewPos(0, ys[r]))
		lines[li].Resize(fyne.NewSize(total, 1))
		li++
	}
	x := float32(0)
	for k := 0; k < g.cols-1 && li < len(lines); k++ {
		x += widths[k]
		lines[li].Move(fyne.NewPos(x, 0))
		lines[li].Resize(fyne.NewSize(1, y))
		li++
	}
}

// MinSize implements fyne.Layout.
func (g *gridLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	widths, heights := g.measure(objs)
	var s fyne.Size
	for _, w := range widths {
		s.Width += w
	}
	for _, h := range heights {
		s.Height += h
	}
	return s
}

// markerLayout places a list item's marker in a fixed column and its
// content beside it.
type markerLayout struct{}

func markerWidth() float32 { return theme.TextSize() * 2.2 }

// Layout implements fyne.Layout.
func (markerLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	mw := markerWidth()
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(fyne.NewSize(mw, objs[0].MinSize().Height))
	objs[1].Move(fyne.NewPos(mw, 0))
	w := max(size.Width-mw, 10)
	if objs[1].Size().Width != w {
		objs[1].Resize(fyne.NewSize(w, objs[1].Size().Height))
	}
	objs[1].Resize(fyne.NewSize(w, objs[1].MinSize().Height))
}

// MinSize implements fyne.Layout.
func (markerLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	m, c := objs[0].MinSize(), objs[1].MinSize()
	return fyne.NewSize(markerWidth()+c.Width, max(m.Height, c.Height))
}

// indentLayout indents its second object, drawing the first (a bar) in
// the indent when bar is set (a quote).
type indentLayout struct {
	indent float32
	bar    bool
}

// Layout implements fyne.Layout.
func (l *indentLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	w := max(size.Width-l.indent, 10)
	c := objs[1]
	c.Move(fyne.NewPos(l.indent, 0))
	if c.Size().Width != w {
		c.Resize(fyne.NewSize(w, c.Size().Height))
	}
	h := c.MinSize().Height
	c.Resize(fyne.NewSize(w, h))
	objs[0].Move(fyne.NewPos(theme.Padding(), 0))
	objs[0].Resize(fyne.NewSize(3, h))
}

// MinSize implements fyne.Layout.
func (l *indentLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	c := objs[1].MinSize()
	return fyne.NewSize(l.indent+c.Width, c.Height)
}

// tightStack stacks objects with no space between them (list items; the
// rich texts inside bring their own padding).
type tightStack struct{}

// Layout implements fyne.Layout.
func (tightStack) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	y := float32(0)
	for _, o := range objs {
		if o.Size().Width != size.Width {
			o.Resize(fyne.NewSize(size.Width, o.Size().Height))
		}
		h := o.MinSize().Height
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, h))
		y += h
	}
}

// MinSize implements fyne.Layout.
func (tightStack) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		m := o.MinSize()
		s.Width = max(s.Width, m.Width)
		s.Height += m.Height
	}
	return s
}
