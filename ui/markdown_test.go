package ui

import (
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// dump writes blocks as an outline, for comparing structure.
func dump(blocks []mdBlock) string {
	var b strings.Builder
	var walk func(bs []mdBlock, indent string)
	spans := func(ss []mdSpan) string {
		var parts []string
		for _, s := range ss {
			t := fmt.Sprintf("%q", s.text)
			switch {
			case s.code:
				t = "code" + t
			case s.bold:
				t = "bold" + t
			case s.italic:
				t = "em" + t
			}
			if s.link != "" {
				t += "->" + s.link
			}
			parts = append(parts, t)
		}
		return strings.Join(parts, " ")
	}
	walk = func(bs []mdBlock, indent string) {
		for _, bl := range bs {
			switch bl.kind {
			case mdParagraph:
				fmt.Fprintf(&b, "%sp %s\n", indent, spans(bl.spans))
			case mdHeading:
				fmt.Fprintf(&b, "%sh%d %s\n", indent, bl.level, spans(bl.spans))
			case mdList:
				fmt.Fprintf(&b, "%slist ordered=%v start=%d\n", indent, bl.ordered, bl.start)
				for _, it := range bl.items {
					fmt.Fprintf(&b, "%s  item\n", indent)
					walk(it, indent+"    ")
				}
			case mdQuote:
				fmt.Fprintf(&b, "%squote\n", indent)
				walk(bl.children, indent+"  ")
			case mdCode:
				fmt.Fprintf(&b, "%scode %s %q\n", indent, bl.lang, bl.code)
			case mdTable:
				var head []string
				for _, c := range bl.header {
					head = append(head, spans(c))
				}
				fmt.Fprintf(&b, "%stable %s align=%v\n", indent, strings.Join(head, " | "), bl.align)
				for _, r := range bl.rows {
					var cells []string
					for _, c := range r {
						cells = append(cells, spans(c))
					}
					fmt.Fprintf(&b, "%s  row %s\n", indent, strings.Join(cells, " | "))
				}
			case mdRule:
				fmt.Fprintf(&b, "%srule\n", indent)
			}
		}
	}
	walk(blocks, "")
	return b.String()
}

func TestParseMarkdown(t *testing.T) {
	tests := []struct{ name, md, want string }{
		{"nested lists", "- fruit\n  - apple\n  - pear\n- veg\n\n1. one\n2. two\n   1. two.a",
			"list ordered=false start=0\n  item\n    p \"fruit\"\n    list ordered=false start=0\n      item\n        p \"apple\"\n      item\n        p \"pear\"\n  item\n    p \"veg\"\n" +
				"list ordered=true start=1\n  item\n    p \"one\"\n  item\n    p \"two\"\n    list ordered=true start=1\n      item\n        p \"two.a\"\n"},
		{"line breaks kept", "Roses are red,\nviolets are blue.\n\nNext verse.",
			"p \"Roses are red,\\nviolets are blue.\"\np \"Next verse.\"\n"},
		{"intra-word underscores", "supercalifragilistic_expialidocious_ and_ more",
			"p \"supercalifragilistic_expialidocious_ and_ more\"\n"},
		{"emphasis and code", "Use **bold**, *it* and `go test`.",
			"p \"Use \" bold\"bold\" \", \" em\"it\" \" and \" code\"go test\" \".\"\n"},
		{"table", "| Model | Size |\n|:--|--:|\n| 7B | 4 GB |\n| 70B | 39 GB |",
			"table \"Model\" | \"Size\" align=[0 2]\n  row \"7B\" | \"4 GB\"\n  row \"70B\" | \"39 GB\"\n"},
		{"code", "Run:\n```go\nfunc main() {}\n```", "p \"Run:\"\ncode go \"func main() {}\"\n"},
		{"unclosed fence while streaming", "```python\nprint(1)", "code python \"print(1)\"\n"},
		{"heading quote rule link", "# Title\n> quoted\n\n---\n[site](https://example.org)",
			"h1 bold\"Title\"\nquote\n  p \"quoted\"\nrule\np \"site\"->https://example.org\n"},
		{"control tokens stay text", "a </s> [INST] b", "p \"a </s> [INST] b\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dump(parseMarkdown(tt.md)); got != tt.want {
				t.Errorf("parseMarkdown(%q):\n%s\nwant:\n%s", tt.md, got, tt.want)
			}
		})
	}
}

func FuzzParseMarkdown(f *testing.F) {
	for _, s := range []string{"", "a\n```go\nb\n```\nc", "| a |\n|---|\n| b |", "- a\n  - b\n    1. c", "> q\n>> r", "**x_y_**z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		blocks := parseMarkdown(md)
		// Nothing is invented: each block's text comes from the input, in order.
		var check func(bs []mdBlock)
		check = func(bs []mdBlock) {
			for _, b := range bs {
				var text strings.Builder
				for _, s := range b.spans {
					text.WriteString(s.text)
				}
				if !strings.ContainsAny(md, "&\\") && !subsequence(strings.ReplaceAll(text.String(), "\n", ""), md) {
					t.Fatalf("text %q is not taken from the input %q", text.String(), md)
				}
				for _, it := range b.items {
					check(it)
				}
				check(b.children)
			}
		}
		check(blocks)
		if spans := joinSpans(blocks); len(spans) > 0 {
			for _, parts := range splitSpans(spans, 40) {
				if len(parts) == 0 {
					t.Fatal("an empty part")
				}
			}
		}
	})
}

// joinSpans returns the spans of every paragraph.
func joinSpans(bs []mdBlock) []mdSpan {
	var out []mdSpan
	for _, b := range bs {
		out = append(out, b.spans...)
	}
	return out
}

func TestSplitSpansKeepsStylesAndText(t *testing.T) {
	spans := []mdSpan{{text: strings.Repeat("Plain words here. ", 5)}, {text: "bold part", bold: true}, {text: strings.Repeat(" tail words", 6)}}
	parts := splitSpans(spans, 60)
	var joined strings.Builder
	for _, p := range parts {
		n := 0
		for _, s := range p {
			n += len(s.text)
			joined.WriteString(s.text)
			if strings.Contains(s.text, "bold") && !s.bold {
				t.Errorf("the bold text lost its style: %+v", s)
			}
		}
		if n > 60 {
			t.Errorf("part of %d bytes", n)
		}
	}
	if strings.ReplaceAll(joined.String(), " ", "") != strings.ReplaceAll(spans[0].text+spans[1].text+spans[2].text, " ", "") {
		t.Errorf("text changed: %q", joined.String())
	}
}

// TestMarkdownViews checks what the blocks become: tables and code scroll
// sideways instead of wrapping, lists indent their items.
func TestMarkdownViews(t *testing.T) {
	test.NewTempApp(t)
	v := mdView{copyText: func(string) {}}
	objs := v.set(parseMarkdown("| a | b |\n|---|---|\n| 1 | 2 |\n\n```\n" + strings.Repeat("x", 400) + "\n```\n\n- one\n  - two"))
	if len(objs) != 3 {
		t.Fatalf("%d objects, want a table, a code block and a list", len(objs))
	}
	table, ok := objs[0].(*container.Scroll)
	if !ok || table.Direction != container.ScrollHorizontalOnly {
		t.Fatalf("the table is a %T, want a sideways scroller", objs[0])
	}
	grid := table.Content.(*fyne.Container)
	if g, ok := grid.Layout.(*gridLayout); !ok || g.cols != 2 || g.rows != 2 {
		t.Fatalf("the table's layout is %T %+v", grid.Layout, grid.Layout)
	}
	var code *container.Scroll
	walk(objs[1], func(o fyne.CanvasObject) bool {
		if s, ok := o.(*container.Scroll); ok {
			code = s
		}
		return true
	})
	if code == nil || code.Direction != container.ScrollHorizontalOnly || code.Content.(*widget.RichText).Wrapping != fyne.TextWrapOff {
		t.Fatalf("the code block does not scroll sideways unwrapped")
	}
	// At 300 px the 400-character line is not wrapped: as high as a short line.
	objs[1].Resize(fyne.NewSize(300, 10))
	other := mdView{copyText: func(string) {}}
	short := other.set(parseMarkdown("```\nx\n```"))[0]
	short.Resize(fyne.NewSize(300, 10))
	if h, one := objs[1].MinSize().Height, short.MinSize().Height; h > one+1 {
		t.Errorf("the code block is %v high at 300 px, one line is %v: it wraps", h, one)
	}
	// The nested item is drawn right of its parent's text.
	list := objs[2].(*fyne.Container)
	w := test.NewTempWindow(t, list)
	w.Resize(fyne.NewSize(400, 300))
	var labels []*widget.Label
	walk(list, func(o fyne.CanvasObject) bool {
		if l, ok := o.(*widget.Label); ok {
			labels = append(labels, l)
		}
		return true
	})
	if len(labels) != 2 {
		t.Fatalf("%d list markers, want 2", len(labels))
	}
	d := fyne.CurrentApp().Driver()
	if d.AbsolutePositionForObject(labels[1]).X <= d.AbsolutePositionForObject(labels[0]).X {
		t.Error("the nested item's marker is not indented")
	}
	// Reused: the same blocks again keep their widgets.
	again := v.set(parseMarkdown("| a | b |\n|---|---|\n| 1 | 2 |\n\n```\n" + strings.Repeat("x", 400) + "\n```\n\n- one\n  - two\n  - three"))
	if again[0] != objs[0] || again[1] != objs[1] || again[2] == objs[2] {
		t.Error("unchanged blocks were drawn again, or the changed one was not")
	}
}

func TestMDCacheParsesOnce(t *testing.T) {
	c := newMDCache()
	c.blocks(1, "a *b*")
	c.blocks(1, "a *b*")
	c.blocks(2, "other")
	if n := c.parseCount(); n != 2 {
		t.Fatalf("%d parses, want 2", n)
	}
	c.blocks(1, "changed")
	c.blocks(0, "streaming")
	c.blocks(0, "streaming")
	if n := c.parseCount(); n != 5 {
		t.Fatalf("%d parses, want 5 (changed content and unsaved replies parse again)", n)
	}
}

// subsequence reports whether the runes of a appear in b in order.
func subsequence(a, b string) bool {
	rb := []rune(b)
	j := 0
	for _, r := range a {
		for j < len(rb) && rb[j] != r {
			j++
		}
		if j == len(rb) {
			return false
		}
		j++
	}
	return true
}
