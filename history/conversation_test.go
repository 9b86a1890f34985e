package history

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestTitleFrom(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello", "Hello"},
		{"  What is\n\na   neutron star?  ", "What is a neutron star?"},
		{"", ""},
		{strings.Repeat("word ", 30), "word word word word word word word word word word word…"},
		{strings.Repeat("x", 100), strings.Repeat("x", 59) + "…"},
		{"Explain the difference between goroutines, threads, and processes in detail",
			"Explain the difference between goroutines, threads, and…"},
		{strings.Repeat("é", 70), strings.Repeat("é", 59) + "…"},
	}
	for _, tc := range tests {
		got := TitleFrom(tc.in)
		if got != tc.want {
			t.Errorf("TitleFrom(%.30q) = %q, want %q", tc.in, got, tc.want)
		}
		if n := utf8.RuneCountInString(got); n > maxTitle {
			t.Errorf("TitleFrom(%.30q) has %d characters", tc.in, n)
		}
	}
}

func TestCreateConversationFromPersona(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if err := s.CreatePersona(ctx, Persona{Name: "Poet", SystemPrompt: "Answer in verse.", Model: "poet.gguf",
		Sampling: Sampling{Temperature: Ptr(0.9), TopK: Ptr(50)}}); err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateConversation(ctx, NewConversation{Persona: "poet", Sampling: Sampling{Temperature: Ptr(0.0), Seed: Ptr(int64(1))}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Persona != "Poet" || c.SystemPrompt != "Answer in verse." || c.Model != "poet.gguf" {
		t.Errorf("conversation = %+v", c)
	}
	if *c.Sampling.Temperature != 0 || *c.Sampling.TopK != 50 || *c.Sampling.Seed != 1 {
		t.Errorf("sampling = %s, want the overlay of persona and request", c.Sampling)
	}
	if !validID(c.ID) || len(c.ID) != idLength || c.Title != "" || c.TitleEdited {
		t.Errorf("id %q, title %q", c.ID, c.Title)
	}

	// Overrides, and no persona at all.
	sys := "Custom."
	c2, err := s.CreateConversation(ctx, NewConversation{Persona: "Poet", SystemPrompt: &sys, Model: "other.gguf", Title: "My  title"})
	if err != nil || c2.SystemPrompt != "Custom." || c2.Model != "other.gguf" || c2.Title != "My title" || !c2.TitleEdited {
		t.Errorf("overrides: %+v, %v", c2, err)
	}
	c3, err := s.CreateConversation(ctx, NewConversation{})
	if err != nil || c3.Persona != "" || c3.SystemPrompt != "" || c3.ID == c.ID {
		t.Errorf("plain: %+v, %v", c3, err)
	}
	_, err = s.CreateConversation(ctx, NewConversation{Persona: "Nobody"})
	wantErr(t, err, ErrNotFound)
	_, err = s.CreateConversation(ctx, NewConversation{Sampling: Sampling{TopP: Ptr(2.0)}})
	wantErr(t, err, ErrInvalid)

	// The conversation keeps its snapshot when the persona changes or goes.
	if err := s.UpdatePersona(ctx, "Poet", Persona{Name: "Poet", SystemPrompt: "Prose now."}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePersona(ctx, "Poet"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Conversation(ctx, c.ID)
	if err != nil || got.Persona != "Poet" || got.SystemPrompt != "Answer in verse." {
		t.Errorf("after the persona went: %+v, %v", got, err)
	}
}

func TestTitleRenamePinListDelete(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	a := chat(t, s, "", "  First question about\nstars  ", "answer", "second question")
	b := chat(t, s, "", "Another chat")
	c := chat(t, s, "Coding assistant", "Write a Go function")

	conv, err := s.Conversation(ctx, a)
	if err != nil || conv.Title != "First question about stars" || conv.MessageCount != 3 {
		t.Errorf("auto title %q, %d messages, %v", conv.Title, conv.MessageCount, err)
	}
	time.Sleep(3 * time.Millisecond) // updated_at has millisecond precision
	if err := s.RenameConversation(ctx, a, "  Stars\tand more "); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUser(ctx, a, "third"); err != nil {
		t.Fatal(err)
	}
	conv, _ = s.Conversation(ctx, a)
	if conv.Title != "Stars and more" || !conv.TitleEdited {
		t.Errorf("renamed title = %q (edited %v)", conv.Title, conv.TitleEdited)
	}
	if err := s.RenameConversation(ctx, a, ""); err != nil {
		t.Fatal(err)
	}
	conv, _ = s.Conversation(ctx, a)
	if conv.Title != "First question about stars" || conv.TitleEdited {
		t.Errorf("title back to automatic = %q (edited %v)", conv.Title, conv.TitleEdited)
	}
	wantErr(t, s.RenameConversation(ctx, "nope", "x"), ErrNotFound)
	wantErr(t, s.RenameConversation(ctx, a, strings.Repeat("x", 201)), ErrInvalid)

	// a was updated last (the rename), then c, then b; pinning b lifts it.
	order := func() string {
		list, err := s.Conversations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range list {
			ids = append(ids, c.ID)
		}
		return strings.Join(ids, ",")
	}
	if got, want := order(), strings.Join([]string{a, c, b}, ","); got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
	if err := s.SetPinned(ctx, b, true); err != nil {
		t.Fatal(err)
	}
	if got, want := order(), strings.Join([]string{b, a, c}, ","); got != want {
		t.Errorf("order with b pinned = %s, want %s", got, want)
	}
	if conv, _ := s.Conversation(ctx, b); !conv.Pinned {
		t.Error("b not pinned")
	}
	wantErr(t, s.SetPinned(ctx, "nope", true), ErrNotFound)

	if err := s.UpdateSettings(ctx, c, ConversationSettings{SystemPrompt: "New prompt", Model: "x.gguf", Sampling: Sampling{MinP: Ptr(0.05)}}); err != nil {
		t.Fatal(err)
	}
	if conv, _ := s.Conversation(ctx, c); conv.SystemPrompt != "New prompt" || conv.Model != "x.gguf" || *conv.Sampling.MinP != 0.05 {
		t.Errorf("settings = %+v", conv)
	}
	wantErr(t, s.UpdateSettings(ctx, c, ConversationSettings{Sampling: Sampling{MinP: Ptr(5.0)}}), ErrInvalid)

	if err := s.DeleteConversation(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteConversation(ctx, a), ErrNotFound)
	_, err = s.Conversation(ctx, a)
	wantErr(t, err, ErrNotFound)
	var left int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE conversation_id = ?", a).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d messages left after delete (%v)", left, err)
	}
	if got, want := order(), strings.Join([]string{b, c}, ","); got != want {
		t.Errorf("order after delete = %s, want %s", got, want)
	}
	mustCheck(t, s)
}
