package ui

import (
	"strings"
	"unicode/utf8"
)

// blockKind tells prose from code in a message.
type blockKind int

const (
	proseBlock blockKind = iota // Markdown text, rendered by RichText
	codeBlock                   // a fenced code block (or a table), shown monospace with a copy button
)

// block is one part of a message: prose or code.
type block struct {
	kind blockKind
	// text is the Markdown (prose) or the code itself, without its fences.
	text string
	// lang is the fence's info word ("go", "python"), or "table".
	lang string
}

// splitBlocks cuts Markdown into prose and fenced code blocks, so that each
// code block can get its own monospace view and copy button (Fyne's
// RichText draws code without a background and cannot be selected). A
// fence opened with ``` or ~~~ (up to three spaces indented) closes at a
// line of at least as many of the same character; an unclosed fence, as
// while a reply streams, runs to the end. Markdown tables, which Fyne's
// parser does not support, become code blocks so their columns line up.
func splitBlocks(md string) []block {
	var out []block
	var prose []string
	flushProse := func() {
		out = appendProse(out, prose)
		prose = prose[:0]
	}
	lines := strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		fch, flen, info, ok := openingFence(lines[i])
		if !ok {
			prose = append(prose, lines[i])
			continue
		}
		flushProse()
		var code []string
		i++
		for ; i < len(lines); i++ {
			if closesFence(lines[i], fch, flen) {
				break
			}
			code = append(code, lines[i])
		}
		out = append(out, block{kind: codeBlock, text: strings.Join(code, "\n"), lang: info})
	}
	flushProse()
	return out
}

// appendProse adds prose lines to out, cut into paragraphs (at a blank
// line followed by an unindented line, where Markdown starts a new block
// anyway) so that a growing reply re-parses only its last paragraph,
// turning Markdown tables into code blocks and dropping blank edges.
func appendProse(out []block, lines []string) []block {
	var pending []string
	emit := func() {
		text := strings.Trim(strings.Join(pending, "\n"), "\n")
		if strings.TrimSpace(text) != "" {
			for _, part := range splitLong(text, maxProse) {
				out = append(out, block{kind: proseBlock, text: part})
			}
		}
		pending = pending[:0]
	}
	for i := 0; i < len(lines); i++ {
		if n := tableLines(lines[i:]); n > 0 {
			emit()
			out = append(out, block{kind: codeBlock, text: alignTable(lines[i : i+n]), lang: "table"})
			i += n - 1
			continue
		}
		pending = append(pending, lines[i])
		if strings.TrimSpace(lines[i]) == "" && i+1 < len(lines) && startsBlock(lines[i+1]) {
			emit()
		}
	}
	emit()
	return out
}

// maxProse is the longest prose block, in bytes. Fyne 2.7's RichText lays
// a wrapped paragraph out in time that grows faster than its length (an
// 8 kB paragraph took a third of a second), so longer paragraphs are shown
// in parts.
const maxProse = 700

// splitLong cuts text into parts of at most limit bytes: at a line break
// before an unindented line, else after a sentence, else at a space, else
// anywhere (on a character boundary).
func splitLong(text string, limit int) []string {
	var parts []string
	for len(text) > limit {
		cut, skip := cutPoint(text[:limit+1])
		parts = append(parts, strings.TrimRight(text[:cut], " "))
		text = text[cut+skip:]
	}
	return append(parts, text)
}

// cutPoint finds where to cut head (the first limit+1 bytes of a long
// text): the part ends at cut, and skip bytes (a newline or space) go.
func cutPoint(head string) (cut, skip int) {
	limit := len(head) - 1
	min := limit / 4
	for i := limit; i > min; i-- {
		if head[i-1] == '\n' && i <= limit && startsBlock(head[i:]) {
			return i - 1, 1
		}
	}
	for i := limit - 1; i > min; i-- {
		if head[i] == ' ' && strings.ContainsRune(".!?:;", rune(head[i-1])) {
			return i, 1
		}
	}
	for i := limit - 1; i > min; i-- {
		if head[i] == ' ' {
			return i, 1
		}
	}
	cut = limit
	for cut > 0 && !utf8.RuneStart(head[cut]) {
		cut--
	}
	if cut == 0 {
		cut = limit
	}
	return cut, 0
}

// startsBlock reports whether a line after a blank line starts a new
// Markdown block: it has text and no indentation (indented, it would
// continue a list item).
func startsBlock(line string) bool {
	return strings.TrimSpace(line) != "" && line[0] != ' ' && line[0] != '\t'
}

// openingFence reports whether line opens a fenced code block, with the
// fence character, its length and the info word.
func openingFence(line string) (ch byte, n int, info string, ok bool) {
	trimmed, indent := trimIndent(line)
	if indent > 3 || len(trimmed) < 3 {
		return 0, 0, "", false
	}
	ch = trimmed[0]
	if ch != '`' && ch != '~' {
		return 0, 0, "", false
	}
	for n < len(trimmed) && trimmed[n] == ch {
		n++
	}
	if n < 3 {
		return 0, 0, "", false
	}
	rest := strings.TrimSpace(trimmed[n:])
	if ch == '`' && strings.ContainsRune(rest, '`') {
		return 0, 0, "", false // inline code such as ```x```, not a fence
	}
	if f := strings.Fields(rest); len(f) > 0 {
		info = f[0]
	}
	return ch, n, info, true
}

// closesFence reports whether line closes a fence of n characters ch.
func closesFence(line string, ch byte, n int) bool {
	trimmed, indent := trimIndent(line)
	if indent > 3 {
		return false
	}
	k := 0
	for k < len(trimmed) && trimmed[k] == ch {
		k++
	}
	return k >= n && strings.TrimSpace(trimmed[k:]) == ""
}

// trimIndent removes leading spaces and returns how many there were.
func trimIndent(line string) (string, int) {
	t := strings.TrimLeft(line, " ")
	return t, len(line) - len(t)
}

// tableLines returns how many lines at the start of lines form a Markdown
// table (a header row, a delimiter row, then rows), or 0.
func tableLines(lines []string) int {
	if len(lines) < 2 || !isTableRow(lines[0]) || !isDelimiterRow(lines[1]) {
		return 0
	}
	n := 2
	for n < len(lines) && isTableRow(lines[n]) {
		n++
	}
	return n
}

// alignTable pads a Markdown table's cells so that its columns line up in
// a monospace font; the delimiter row becomes dashes.
func alignTable(lines []string) string {
	rows := make([][]string, len(lines))
	var widths []int
	for i, l := range lines {
		t := strings.TrimSpace(l)
		t = strings.TrimPrefix(t, "|")
		t = strings.TrimSuffix(t, "|")
		cells := strings.Split(t, "|")
		for k := range cells {
			cells[k] = strings.TrimSpace(cells[k])
			if k >= len(widths) {
				widths = append(widths, 0)
			}
			if i != 1 {
				widths[k] = max(widths[k], utf8.RuneCountInString(cells[k]))
			}
		}
		rows[i] = cells
	}
	var b strings.Builder
	for i, cells := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		for k, w := range widths {
			if k > 0 {
				b.WriteString(" │ ")
			}
			cell := ""
			if k < len(cells) {
				cell = cells[k]
			}
			if i == 1 {
				cell = strings.Repeat("─", w)
			}
			b.WriteString(cell)
			if k < len(widths)-1 {
				b.WriteString(strings.Repeat(" ", w-utf8.RuneCountInString(cell)))
			}
		}
	}
	return b.String()
}

func isTableRow(line string) bool {
	t := strings.TrimSpace(line)
	return strings.Count(t, "|") >= 1 && (strings.HasPrefix(t, "|") || strings.HasSuffix(t, "|")) && len(t) > 1
}

func isDelimiterRow(line string) bool {
	t := strings.Trim(strings.TrimSpace(line), "|")
	if t == "" {
		return false
	}
	for _, cell := range strings.Split(t, "|") {
		c := strings.TrimSpace(cell)
		c = strings.TrimSuffix(strings.TrimPrefix(c, ":"), ":")
		if len(c) == 0 || strings.Trim(c, "-") != "" {
			return false
		}
	}
	return true
}
