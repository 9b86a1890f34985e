package history

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestMatchQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"neutron star", `"neutron" "star"*`},
		{`"foo`, `"""foo"*`},
		{"AND (", `"AND"*`},
		{"a OR b", `"a" "OR" "b"*`},
		{"col:value", `"col:value"*`},
		{"* - ( ) ^ \"\"", ""},
		{"   ", ""},
		{"naïve café", `"naïve" "café"*`},
		{"NEAR(a b, 3)", `"NEAR(a" "b," "3)"*`},
	}
	for _, tc := range tests {
		if got := MatchQuery(tc.in); got != tc.want {
			t.Errorf("MatchQuery(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSearch(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	stars := chat(t, s, "", "What is a neutron star?", "A neutron star is the collapsed core of a massive star.")
	cooking := chat(t, s, "", "How do I make a crêpe?", "Whisk flour, eggs and milk; cook thin in a hot pan.")
	if err := s.RenameConversation(ctx, cooking, "Breakfast ideas"); err != nil {
		t.Fatal(err)
	}

	hits, err := s.Search(ctx, "neutron", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 3 { // both messages and the automatic title
		t.Fatalf("Search(neutron) = %+v", hits)
	}
	var titleHits, messageHits int
	for _, h := range hits {
		if h.ConversationID != stars {
			t.Errorf("hit in the wrong conversation: %+v", h)
		}
		if !strings.Contains(h.Snippet, HighlightStart+"neutron"+HighlightEnd) && !strings.Contains(h.Snippet, HighlightStart+"Neutron"+HighlightEnd) {
			t.Errorf("snippet %q lacks the highlighted word", h.Snippet)
		}
		if h.MessageID == 0 {
			titleHits++
		} else {
			messageHits++
			if h.Role != RoleUser && h.Role != RoleAssistant {
				t.Errorf("hit role %q", h.Role)
			}
		}
	}
	if titleHits != 1 || messageHits != 2 {
		t.Errorf("%d title hits and %d message hits, want 1 and 2", titleHits, messageHits)
	}

	tests := []struct {
		query string
		want  int
	}{
		{"breakfast", 1}, // a renamed title
		{"crepe", 1},     // diacritics folded
		{"neutr", 3},     // prefix of the last word
		{"collapsed massive", 1},
		{"collapsed pancake", 0},
		{"milk", 1},
		{"nothing-like-this", 0},
	}
	for _, tc := range tests {
		hits, err := s.Search(ctx, tc.query, 0)
		if err != nil || len(hits) != tc.want {
			t.Errorf("Search(%q) = %d hits, %v; want %d", tc.query, len(hits), err, tc.want)
		}
	}
	if hits, _ := s.Search(ctx, "star", 1); len(hits) != 1 {
		t.Errorf("limit 1 gave %d hits", len(hits))
	}
}

func TestSearchHostileQueries(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	chat(t, s, "", `He said "foo" AND (bar) OR NEAR baz*`, "ok")
	for _, q := range []string{
		`"foo`, `AND (`, `(`, `)`, `*`, `"`, `""`, `NOT`, `OR`, `a OR`, `NEAR(`, `NEAR(foo bar, 2)`,
		`content:foo`, `title:foo`, `{content}: foo`, `^foo`, `-foo`, `+foo`, `foo*bar`, `'`, `\`, `;DROP TABLE messages;--`,
		"\x00", "\xff\xfe", "😀 emoji", "日本語", strings.Repeat("a ", 500), strings.Repeat(`"`, 1000),
	} {
		if _, err := s.Search(ctx, q, 0); err != nil {
			t.Errorf("Search(%.40q): %v", q, err)
		}
	}
	hits, err := s.Search(ctx, `"foo" AND (bar)`, 0)
	if err != nil || len(hits) != 2 { // the message and its title
		t.Errorf("operators as words: %+v, %v", hits, err)
	}
}

func TestSearchIndexStaysInStep(t *testing.T) {
	// Inserts, streaming updates, edits and deletes keep the full-text
	// indexes equal to the tables (FTS5 integrity-check), checked from
	// connections that last looked before the changes.
	ctx := context.Background()
	s := openTemp(t)
	id := chat(t, s, "", "original question")
	a, err := s.StartAssistant(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&text, "streamed%d ", i)
		if err := s.UpdateContent(ctx, a.ID, text.String()); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			mustCheck(t, s)
		}
	}
	if err := s.FinishAssistant(ctx, a.ID, Finish{Content: "final words", Status: StatusDone}); err != nil {
		t.Fatal(err)
	}
	if hits, _ := s.Search(ctx, "streamed30", 0); len(hits) != 0 {
		t.Errorf("text replaced by the final reply is still found: %+v", hits)
	}
	if hits, _ := s.Search(ctx, "final", 0); len(hits) != 1 || hits[0].MessageID != a.ID {
		t.Errorf("final reply not found: %+v", hits)
	}
	other := chat(t, s, "", "to be deleted soon", "gone")
	if err := s.RenameConversation(ctx, other, "temporary title"); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, s)
	if err := s.DeleteConversation(ctx, other); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"deleted", "gone", "temporary"} {
		if hits, _ := s.Search(ctx, q, 0); len(hits) != 0 {
			t.Errorf("Search(%q) finds a deleted conversation: %+v", q, hits)
		}
	}
	mustCheck(t, s)
	if err := s.RebuildSearchIndex(ctx); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, s)
}

func FuzzSearch(f *testing.F) {
	s := openTemp(f)
	chat(f, s, "", `some "quoted" text AND (parens) with NEAR and stars*`, "reply")
	for _, seed := range []string{`"foo`, `AND (`, `NEAR(a b)`, `col:x`, `*`, "\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if _, err := s.Search(context.Background(), q, 5); err != nil {
			t.Fatalf("Search(%q) via %q: %v", q, MatchQuery(q), err)
		}
	})
}
