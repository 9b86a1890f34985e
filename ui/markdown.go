package ui

import (
	"strings"
	"unicode/utf8"
)

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

// splitSpans cuts a paragraph's spans into parts of at most limit bytes
// of text (see splitLong), each part a run of spans.
func splitSpans(spans []mdSpan, limit int) [][]mdSpan {
	var all strings.Builder
	for _, s := range spans {
		all.WriteString(s.text)
	}
	text := all.String()
	if len(text) <= limit {
		return [][]mdSpan{spans}
	}
	// The parts' byte ranges in text.
	type cut struct{ start, end int }
	var cuts []cut
	pos := 0
	for len(text)-pos > limit {
		at, skip := cutPoint(text[pos : pos+limit+1])
		end := pos + at
		for end > pos && text[end-1] == ' ' {
			end--
		}
		cuts = append(cuts, cut{pos, end})
		pos += at + skip
	}
	cuts = append(cuts, cut{pos, len(text)})
	var parts [][]mdSpan
	for _, c := range cuts {
		var part []mdSpan
		off := 0
		for _, s := range spans {
			lo, hi := max(c.start, off), min(c.end, off+len(s.text))
			if lo < hi {
				p := s
				p.text = s.text[lo-off : hi-off]
				part = append(part, p)
			}
			off += len(s.text)
		}
		if len(part) > 0 {
			parts = append(parts, part)
		}
	}
	return parts
}
