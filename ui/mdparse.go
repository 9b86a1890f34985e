package ui

import (
	"strings"
	"sync"

	"github.com/yuin/goldmark"
	gast "github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// mdKind is the kind of a Markdown block.
type mdKind int

const (
	mdParagraph mdKind = iota
	mdHeading
	mdList
	mdQuote
	mdCode
	mdTable
	mdRule
)

// mdBlock is one block of a message, as the window draws it. The model
// holds no widget, so that it can be made off the UI goroutine, cached,
// compared (a streaming reply redraws only the blocks that changed) and
// tested as structure.
type mdBlock struct {
	kind mdKind
	// level is a heading's level (1–6).
	level int
	// spans are a paragraph's or a heading's text. Line breaks are kept:
	// a reply's single newlines (a poem's lines) stay line breaks.
	spans []mdSpan
	// ordered, start and items make a list; each item is a run of blocks
	// (a paragraph, a nested list…).
	ordered bool
	start   int
	items   [][]mdBlock
	// children are a quote's blocks.
	children []mdBlock
	// lang and code are a code block's.
	lang, code string
	// header, rows and align make a table; each cell is spans.
	header [][]mdSpan
	rows   [][][]mdSpan
	align  []mdAlign
}

// mdAlign is a table column's alignment.
type mdAlign int

const (
	alignLeft mdAlign = iota
	alignCenter
	alignRight
)

// mdSpan is a run of text in one style.
type mdSpan struct {
	text                       string
	bold, italic, code, struck bool
	// link is the address of a link ("" for none).
	link string
}

// mdParser is goldmark with GitHub's tables and strikethrough. Goldmark
// parsers are safe for concurrent use.
var mdParser = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough)).Parser()

// parseMarkdown turns a message into blocks.
func parseMarkdown(md string) []mdBlock {
	src := []byte(strings.ReplaceAll(md, "\r\n", "\n"))
	doc := mdParser.Parse(text.NewReader(src))
	return convertBlocks(doc, src)
}

// convertBlocks converts the block children of n.
func convertBlocks(n gast.Node, src []byte) []mdBlock {
	var out []mdBlock
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		out = append(out, convertBlock(c, src)...)
	}
	return out
}

func convertBlock(n gast.Node, src []byte) []mdBlock {
	switch n := n.(type) {
	case *gast.Paragraph, *gast.TextBlock:
		if spans := convertInline(n, src, mdSpan{}); len(spans) > 0 {
			return []mdBlock{{kind: mdParagraph, spans: spans}}
		}
		return nil
	case *gast.Heading:
		return []mdBlock{{kind: mdHeading, level: n.Level, spans: convertInline(n, src, mdSpan{bold: true})}}
	case *gast.List:
		b := mdBlock{kind: mdList, ordered: n.IsOrdered(), start: n.Start}
		for item := n.FirstChild(); item != nil; item = item.NextSibling() {
			b.items = append(b.items, convertBlocks(item, src))
		}
		return []mdBlock{b}
	case *gast.Blockquote:
		return []mdBlock{{kind: mdQuote, children: convertBlocks(n, src)}}
	case *gast.FencedCodeBlock:
		return []mdBlock{{kind: mdCode, lang: string(n.Language(src)), code: linesText(n, src)}}
	case *gast.CodeBlock:
		return []mdBlock{{kind: mdCode, code: linesText(n, src)}}
	case *gast.HTMLBlock:
		// Shown as written: the window renders no HTML.
		return []mdBlock{{kind: mdParagraph, spans: []mdSpan{{text: strings.TrimRight(linesText(n, src), "\n")}}}}
	case *gast.ThematicBreak:
		return []mdBlock{{kind: mdRule}}
	case *east.Table:
		b := mdBlock{kind: mdTable}
		for _, a := range n.Alignments {
			switch a {
			case east.AlignCenter:
				b.align = append(b.align, alignCenter)
			case east.AlignRight:
				b.align = append(b.align, alignRight)
			default:
				b.align = append(b.align, alignLeft)
			}
		}
		for row := n.FirstChild(); row != nil; row = row.NextSibling() {
			var cells [][]mdSpan
			for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
				cells = append(cells, convertInline(cell, src, mdSpan{}))
			}
			if _, ok := row.(*east.TableHeader); ok {
				b.header = cells
			} else {
				b.rows = append(b.rows, cells)
			}
		}
		return []mdBlock{b}
	}
	// Anything else (a link reference definition leaves nothing): its blocks.
	return convertBlocks(n, src)
}

// linesText joins a block's raw lines (code keeps its text as written).
func linesText(n gast.Node, src []byte) string {
	var b strings.Builder
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		b.Write(seg.Value(src))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// convertInline flattens n's inline children into spans in style st,
// merging neighbours of the same style (so that "expialidocious_ and_"
// stays one run of text, with no space added between its parts).
func convertInline(n gast.Node, src []byte, st mdSpan) []mdSpan {
	var out []mdSpan
	add := func(s mdSpan) {
		if s.text == "" {
			return
		}
		if k := len(out) - 1; k >= 0 && sameStyle(out[k], s) {
			out[k].text += s.text
			return
		}
		out = append(out, s)
	}
	var walk func(n gast.Node, st mdSpan)
	walk = func(n gast.Node, st mdSpan) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *gast.Text:
				s := st
				s.text = string(c.Segment.Value(src))
				add(s)
				if c.SoftLineBreak() || c.HardLineBreak() {
					s.text = "\n"
					add(s)
				}
			case *gast.String:
				s := st
				s.text = string(c.Value)
				add(s)
			case *gast.CodeSpan:
				s := st
				s.code = true
				var b strings.Builder
				for t := c.FirstChild(); t != nil; t = t.NextSibling() {
					if tx, ok := t.(*gast.Text); ok {
						b.Write(tx.Segment.Value(src))
					} else if str, ok := t.(*gast.String); ok {
						b.Write(str.Value)
					}
				}
				s.text = b.String()
				add(s)
			case *gast.Emphasis:
				s := st
				if c.Level >= 2 {
					s.bold = true
				} else {
					s.italic = true
				}
				walk(c, s)
			case *east.Strikethrough:
				s := st
				s.struck = true
				walk(c, s)
			case *gast.Link:
				s := st
				s.link = string(c.Destination)
				walk(c, s)
			case *gast.AutoLink:
				s := st
				s.link = string(c.URL(src))
				s.text = string(c.Label(src))
				add(s)
			case *gast.Image:
				// No images in the window: the alternative text, as a link.
				s := st
				s.link = string(c.Destination)
				walk(c, s)
			case *gast.RawHTML:
				s := st
				for i := 0; i < c.Segments.Len(); i++ {
					seg := c.Segments.At(i)
					s.text = string(seg.Value(src))
					add(s)
				}
			default:
				walk(c, st)
			}
		}
	}
	walk(n, st)
	// A trailing line break (the end of a paragraph) shows nothing.
	if k := len(out) - 1; k >= 0 {
		out[k].text = strings.TrimRight(out[k].text, "\n")
		if out[k].text == "" {
			out = out[:k]
		}
	}
	return out
}

func sameStyle(a, b mdSpan) bool {
	a.text, b.text = "", ""
	return a == b
}

// mdCache keeps each message's blocks, parsed once, by message id and
// content: opening a conversation again, resizing the window or switching
// theme lays the blocks out again without parsing. A reply still
// streaming is parsed once a frame (its entry replaced); messages without
// an id (not saved yet) are parsed every time and not kept.
// Safe for concurrent use: a conversation is parsed off the UI goroutine
// when it opens.
type mdCache struct {
	mu      sync.Mutex
	entries map[int64]mdEntry
	// parses counts the parses done (for tests).
	parses int
}

type mdEntry struct {
	content string
	blocks  []mdBlock
}

// maxCached bounds the cache; beyond it, the cache starts over.
const maxCached = 4000

func newMDCache() *mdCache { return &mdCache{entries: map[int64]mdEntry{}} }

// blocks returns the blocks of message id with the given content.
func (c *mdCache) blocks(id int64, content string) []mdBlock {
	c.mu.Lock()
	if e, ok := c.entries[id]; ok && id != 0 && e.content == content {
		c.mu.Unlock()
		return e.blocks
	}
	c.parses++
	c.mu.Unlock()
	b := parseMarkdown(content)
	if id != 0 {
		c.mu.Lock()
		if len(c.entries) >= maxCached {
			c.entries = map[int64]mdEntry{}
		}
		c.entries[id] = mdEntry{content: content, blocks: b}
		c.mu.Unlock()
	}
	return b
}

// parseCount returns how many parses were done.
func (c *mdCache) parseCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parses
}
