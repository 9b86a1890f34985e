package app

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/llamadesk/llamadesk/history"
)

// searchHitLimit bounds the hits read for one search before grouping.
const searchHitLimit = 500

// SearchResult is one conversation that matched a search: how many of its
// messages matched and its best hit.
type SearchResult struct {
	ConversationID string
	Title          string
	// Hits counts the matching messages (every version) and the title.
	Hits int
	// MessageID is the best hit's message, where to open the conversation
	// (0 when only the title matched).
	MessageID int64
	Role      history.Role
	// Snippet is the text around the best hit, as plain text (Markdown
	// marks removed), and Bold the byte ranges of it that matched.
	Snippet string
	Bold    []Span
	// Time is when the best hit was written.
	Time time.Time
}

// Span is a byte range [Start, End) of a text.
type Span struct{ Start, End int }

// Search finds the conversations whose messages or title match query (every
// word, the last as a prefix), best first, one result per conversation, at
// most limit (limit <= 0: 50).
func (c *Chat) Search(ctx context.Context, query string, limit int) ([]SearchResult, error) {
	if limit <= 0 {
		limit = 50
	}
	store, err := c.store()
	if err != nil {
		return nil, err
	}
	hits, err := store.Search(ctx, query, searchHitLimit)
	if err != nil {
		return nil, err
	}
	return groupHits(hits, limit), nil
}

// groupHits keeps the first (best) hit of each conversation, counting the
// others, in the order of the best hits.
func groupHits(hits []history.Hit, limit int) []SearchResult {
	var out []SearchResult
	at := map[string]int{}
	for _, h := range hits {
		if i, ok := at[h.ConversationID]; ok {
			out[i].Hits++
			// A message hit says more than the title's.
			if out[i].MessageID == 0 && h.MessageID != 0 {
				hits := out[i].Hits
				out[i] = resultFor(h)
				out[i].Hits = hits
			}
			continue
		}
		at[h.ConversationID] = len(out)
		out = append(out, resultFor(h))
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func resultFor(h history.Hit) SearchResult {
	text, bold := PlainSnippet(h.Snippet)
	return SearchResult{ConversationID: h.ConversationID, Title: h.Title, Hits: 1, MessageID: h.MessageID,
		Role: h.Role, Snippet: text, Bold: bold, Time: h.Time}
}

// PlainSnippet turns a search snippet (matched words between
// history.HighlightStart and HighlightEnd, Markdown as written) into one
// line of plain text and the byte ranges of the matches: code marks,
// emphasis marks, heading and quote marks are removed and runs of
// whitespace become one space.
func PlainSnippet(s string) (string, []Span) {
	var b strings.Builder
	var bold []Span
	start := -1
	lineStart := true
	space := false
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], history.HighlightStart):
			i += len(history.HighlightStart)
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			start = b.Len()
			continue
		case strings.HasPrefix(s[i:], history.HighlightEnd):
			i += len(history.HighlightEnd)
			if start >= 0 && b.Len() > start {
				bold = append(bold, Span{start, b.Len()})
			}
			start = -1
			continue
		}
		r, size := rune(s[i]), 1
		if r >= 0x80 {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		switch {
		case r == '\n':
			space, lineStart = true, true
		case unicode.IsSpace(r):
			space = true
		case r == '`':
			// code marks
		case (r == '*' || r == '_') && markupRun(s, i):
			// emphasis marks (not a lone '*' between words, as in 2*3)
		case lineStart && (r == '#' || r == '>'):
			// heading and quote marks
		default:
			lineStart = false
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	if start >= 0 && b.Len() > start {
		bold = append(bold, Span{start, b.Len()})
	}
	return b.String(), bold
}

// markupRun reports whether the '*' or '_' at s[i] is emphasis markup: part
// of a doubled mark, or at a word's edge (not inside a word, as in
// snake_case).
func markupRun(s string, i int) bool {
	c := s[i]
	if (i+1 < len(s) && s[i+1] == c) || (i > 0 && s[i-1] == c) {
		return true
	}
	wordBefore := i > 0 && isWordByte(s[i-1])
	wordAfter := i+1 < len(s) && isWordByte(s[i+1])
	return !(wordBefore && wordAfter)
}

func isWordByte(b byte) bool {
	return b >= 0x80 || b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}
