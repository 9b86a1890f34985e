package history

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Search snippets mark the matched words with these.
const (
	HighlightStart = "«"
	HighlightEnd   = "»"
)

// defaultSearchLimit applies when Search is given no limit.
const defaultSearchLimit = 50

// Hit is one search result: a message or a conversation title that matched.
type Hit struct {
	ConversationID string `json:"conversation_id"`
	// MessageID is the message that matched; 0 when the title matched.
	MessageID int64 `json:"message_id"`
	// Title is the conversation's title.
	Title string `json:"title"`
	// Role is the matched message's role ("" for a title).
	Role Role `json:"role,omitempty"`
	// Snippet is the matching text around the hit, the matched words between
	// HighlightStart and HighlightEnd.
	Snippet string `json:"snippet"`
	// Time is when the message was written (or the conversation updated).
	Time time.Time `json:"time"`
}

// MatchQuery turns text a person typed into a safe FTS5 query: every word
// becomes a quoted phrase, so FTS5 syntax (AND, NEAR, quotes, parentheses,
// '*', column filters) is plain text and control characters separate
// words; all words must match, and the last one matches as a prefix
// (search as you type). Words without a letter or digit are dropped. It
// returns "" when nothing is left.
func MatchQuery(text string) string {
	// FTS5 ends a query at a NUL byte; control characters are spaces.
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
	var phrases []string
	for _, w := range strings.Fields(text) {
		if strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) < 0 {
			continue
		}
		phrases = append(phrases, `"`+strings.ReplaceAll(w, `"`, `""`)+`"`)
	}
	if len(phrases) == 0 {
		return ""
	}
	phrases[len(phrases)-1] += "*"
	return strings.Join(phrases, " ")
}

// Search finds messages (every version) and conversation titles matching
// text (see MatchQuery), best first, at most limit hits (limit <= 0 means 50).
func (s *Store) Search(ctx context.Context, text string, limit int) ([]Hit, error) {
	q := MatchQuery(text)
	if q == "" {
		return nil, nil
	}
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	rows, err := s.r.QueryContext(ctx, `
		SELECT conversation_id, message_id, title, role, snip, at FROM (
			SELECT m.conversation_id AS conversation_id, m.id AS message_id, c.title AS title, m.role AS role,
				snippet(messages_fts, 0, ?1, ?2, '…', 16) AS snip, m.created_at AS at, bm25(messages_fts) AS score
			FROM messages_fts
			JOIN messages m ON m.id = messages_fts.rowid
			JOIN conversations c ON c.id = m.conversation_id
			WHERE messages_fts MATCH ?3
			UNION ALL
			SELECT c.id, 0, c.title, '', snippet(conversations_fts, 0, ?1, ?2, '…', 16), c.updated_at,
				bm25(conversations_fts)
			FROM conversations_fts
			JOIN conversations c ON c.num = conversations_fts.rowid
			WHERE conversations_fts MATCH ?3
		) ORDER BY score, at DESC LIMIT ?4`, HighlightStart, HighlightEnd, q, limit)
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", text, err)
	}
	defer rows.Close()
	var hits []Hit
	for rows.Next() {
		var h Hit
		var at int64
		if err := rows.Scan(&h.ConversationID, &h.MessageID, &h.Title, &h.Role, &h.Snippet, &at); err != nil {
			return nil, fmt.Errorf("search %q: %w", text, err)
		}
		h.Time = fromMillis(at)
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search %q: %w", text, err)
	}
	return hits, nil
}
