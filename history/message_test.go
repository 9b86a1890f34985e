package history

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestStreamingReply(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	c, err := s.CreateConversation(ctx, NewConversation{Persona: "Llama 2 default", Model: "chat.gguf"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.StartAssistant(ctx, c.ID, "")
	wantErr(t, err, ErrInvalid) // nothing to reply to
	u, err := s.AppendUser(ctx, c.ID, "Tell me a story")
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.StartAssistant(ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != StatusStreaming || a.ParentID != u.ID || a.Model != "chat.gguf" || a.Content != "" {
		t.Errorf("started reply = %+v", a)
	}
	_, err = s.StartAssistant(ctx, c.ID, "")
	wantErr(t, err, ErrInvalid) // the path ends with a reply already
	for _, text := range []string{"Once", "Once upon", "Once upon a time"} {
		if err := s.UpdateContent(ctx, a.ID, text); err != nil {
			t.Fatal(err)
		}
		path, err := s.ActivePath(ctx, c.ID)
		if err != nil || len(path) != 2 || path[1].Content != text || path[1].Status != StatusStreaming {
			t.Fatalf("while streaming: %q, %v", contents(path), err)
		}
	}
	stats := Stats{PromptTokens: 120, PromptTokensPerSecond: 410.5, GeneratedTokens: 5, TokensPerSecond: 21.25,
		TimeToFirstTokenMs: 310, DurationMs: 545, StopReason: "eos", Backend: "cpu"}
	if err := s.FinishAssistant(ctx, a.ID, Finish{Content: "Once upon a time.", Status: StatusDone, TokenCount: 5, Stats: stats}); err != nil {
		t.Fatal(err)
	}
	th, err := s.Thread(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := th.Messages[1]
	if got.Content != "Once upon a time." || got.Status != StatusDone || got.TokenCount != 5 || got.Stats != stats {
		t.Errorf("finished reply = %+v", got)
	}
	if got.Version != 1 || got.Versions != 1 || th.Conversation.LeafID != a.ID {
		t.Errorf("version %d/%d, leaf %d", got.Version, got.Versions, th.Conversation.LeafID)
	}
	if !th.Conversation.UpdatedAt.After(c.CreatedAt) && !th.Conversation.UpdatedAt.Equal(c.CreatedAt) {
		t.Errorf("updated_at %v before created_at %v", th.Conversation.UpdatedAt, c.CreatedAt)
	}

	// Errors that keep the data as it was.
	wantErr(t, s.UpdateContent(ctx, a.ID, "overwrite"), ErrInvalid) // finished
	wantErr(t, s.UpdateContent(ctx, u.ID, "overwrite"), ErrInvalid) // a user message
	wantErr(t, s.UpdateContent(ctx, 9999, "x"), ErrNotFound)
	wantErr(t, s.FinishAssistant(ctx, u.ID, Finish{Status: StatusDone}), ErrInvalid)
	wantErr(t, s.FinishAssistant(ctx, a.ID, Finish{Status: StatusStreaming}), ErrInvalid)
	wantErr(t, s.FinishAssistant(ctx, a.ID, Finish{Status: "weird"}), ErrInvalid)
	_, err = s.AppendUser(ctx, c.ID, "  \n ")
	wantErr(t, err, ErrInvalid)
	_, err = s.AppendUser(ctx, c.ID, "bad \xff bytes")
	wantErr(t, err, ErrInvalid)
	_, err = s.AppendUser(ctx, "nope", "hi")
	wantErr(t, err, ErrNotFound)
	if path, _ := s.ActivePath(ctx, c.ID); strings.Join(contents(path), "|") != "Tell me a story|Once upon a time." {
		t.Errorf("failed calls changed the path: %q", contents(path))
	}
}

func TestCancelledAndFailedReplies(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	id := chat(t, s, "", "first")
	a, err := s.StartAssistant(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateContent(ctx, a.ID, "partial \xff text"); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAssistant(ctx, a.ID, Finish{Content: "partial \xff text", Status: StatusCancelled}); err != nil {
		t.Fatal(err)
	}
	id2 := chat(t, s, "", "second")
	b, _ := s.StartAssistant(ctx, id2, "")
	if err := s.FinishAssistant(ctx, b.ID, Finish{Status: StatusError, Error: "model file vanished"}); err != nil {
		t.Fatal(err)
	}
	p1, _ := s.ActivePath(ctx, id)
	p2, _ := s.ActivePath(ctx, id2)
	if p1[1].Status != StatusCancelled || p1[1].Content != "partial \uFFFD text" {
		t.Errorf("cancelled reply = %+v", p1[1])
	}
	if p2[1].Status != StatusError || p2[1].Error != "model file vanished" {
		t.Errorf("failed reply = %+v", p2[1])
	}
}

func TestMarkInterrupted(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	id := chat(t, s, "", "q")
	a, _ := s.StartAssistant(ctx, id, "")
	time.Sleep(5 * time.Millisecond)
	// This Store is alive: its reply is never marked, however idle.
	if n, err := s.MarkInterrupted(ctx, time.Millisecond); err != nil || n != 0 {
		t.Errorf("a live reply was marked: %d, %v", n, err)
	}
	// A reply saved without a writer session (release 1) is marked once idle.
	id2 := chat(t, s, "", "q2")
	b, _ := s.StartAssistant(ctx, id2, "")
	if _, err := s.w.ExecContext(ctx, "UPDATE messages SET writer = NULL WHERE id = ?", b.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MarkInterrupted(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("a fresh reply was marked: %d, %v", n, err)
	}
	time.Sleep(5 * time.Millisecond)
	if n, err := s.MarkInterrupted(ctx, time.Millisecond); err != nil || n != 1 {
		t.Errorf("MarkInterrupted = %d, %v; want 1", n, err)
	}
	path, _ := s.ActivePath(ctx, id2)
	if path[1].Status != StatusInterrupted {
		t.Errorf("status = %s", path[1].Status)
	}
	// The process was alive after all: its next update revives the reply.
	if err := s.UpdateContent(ctx, b.ID, "still here"); err != nil {
		t.Fatal(err)
	}
	path, _ = s.ActivePath(ctx, id2)
	if path[1].Status != StatusStreaming || path[1].Content != "still here" {
		t.Errorf("after revival: %+v", path[1])
	}
	if path, _ := s.ActivePath(ctx, id); path[1].ID != a.ID || path[1].Status != StatusStreaming {
		t.Errorf("the live reply: %+v", path[1])
	}
}

func TestEditAndRegenerateKeepAlternatives(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	id := chat(t, s, "", "u1", "a1", "u2", "a2")
	path, _ := s.ActivePath(ctx, id)
	u1, a1, u2, a2 := path[0], path[1], path[2], path[3]

	// Edit the second question and answer it again.
	u2b, err := s.EditUser(ctx, u2.ID, "u2 edited")
	if err != nil {
		t.Fatal(err)
	}
	if u2b.ParentID != a1.ID {
		t.Errorf("edited message parent %d, want %d", u2b.ParentID, a1.ID)
	}
	a2b := reply(t, s, id, "a2 for the edit")
	path, _ = s.ActivePath(ctx, id)
	if got := strings.Join(contents(path), "|"); got != "u1|a1|u2 edited|a2 for the edit" {
		t.Errorf("path after edit = %s", got)
	}
	if path[2].Version != 2 || path[2].Versions != 2 || path[3].Versions != 1 {
		t.Errorf("versions: %d/%d and %d/%d", path[2].Version, path[2].Versions, path[3].Version, path[3].Versions)
	}
	alts, err := s.Alternatives(ctx, u2b.ID)
	if err != nil || len(alts) != 2 || alts[0].ID != u2.ID || alts[1].ID != u2b.ID || alts[0].Version != 1 {
		t.Errorf("Alternatives = %q, %v", contents(alts), err)
	}

	// Switch back to the original version: its own reply comes back.
	if err := s.SwitchTo(ctx, u2.ID); err != nil {
		t.Fatal(err)
	}
	path, _ = s.ActivePath(ctx, id)
	if got := strings.Join(contents(path), "|"); got != "u1|a1|u2|a2" {
		t.Errorf("path after switching back = %s", got)
	}
	if path[3].ID != a2.ID || path[2].Version != 1 {
		t.Errorf("switched path = %+v", path)
	}

	// Regenerate the first reply: the rest of the branch stays reachable.
	a1b, err := s.Regenerate(ctx, a1.ID, "other.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if a1b.Status != StatusStreaming || a1b.ParentID != u1.ID || a1b.Model != "other.gguf" {
		t.Errorf("regenerated = %+v", a1b)
	}
	if err := s.FinishAssistant(ctx, a1b.ID, Finish{Content: "a1 again", Status: StatusDone}); err != nil {
		t.Fatal(err)
	}
	path, _ = s.ActivePath(ctx, id)
	if got := strings.Join(contents(path), "|"); got != "u1|a1 again" {
		t.Errorf("path after regenerate = %s", got)
	}
	if err := s.SwitchTo(ctx, a1.ID); err != nil {
		t.Fatal(err)
	}
	path, _ = s.ActivePath(ctx, id)
	// The newest branch below a1 is the edited question and its reply.
	if got := strings.Join(contents(path), "|"); got != "u1|a1|u2 edited|a2 for the edit" || path[3].ID != a2b.ID {
		t.Errorf("path after switching to a1 = %s", got)
	}

	// Editing the first message re-titles the conversation.
	if _, err := s.EditUser(ctx, u1.ID, "A new opening question"); err != nil {
		t.Fatal(err)
	}
	conv, _ := s.Conversation(ctx, id)
	if conv.Title != "A new opening question" || conv.MessageCount != 8 {
		t.Errorf("title %q, %d messages", conv.Title, conv.MessageCount)
	}
	all, err := s.Messages(ctx, id)
	if err != nil || len(all) != 8 {
		t.Errorf("Messages = %d, %v", len(all), err)
	}

	_, err = s.EditUser(ctx, a1.ID, "x")
	wantErr(t, err, ErrInvalid)
	_, err = s.Regenerate(ctx, u1.ID, "")
	wantErr(t, err, ErrInvalid)
	_, err = s.EditUser(ctx, 424242, "x")
	wantErr(t, err, ErrNotFound)
	wantErr(t, s.SwitchTo(ctx, 424242), ErrNotFound)
	_, err = s.Alternatives(ctx, 424242)
	wantErr(t, err, ErrNotFound)
	mustCheck(t, s)
}

func TestTurns(t *testing.T) {
	msg := func(r Role, text string) Message { return Message{Role: r, Content: text} }
	tests := []struct {
		name string
		in   []Message
		want []Turn
	}{
		{"empty", nil, nil},
		{"waiting", []Message{msg(RoleUser, "hi")}, []Turn{{User: "hi"}}},
		{"pairs", []Message{msg(RoleUser, "a"), msg(RoleAssistant, "b"), msg(RoleUser, "c")},
			[]Turn{{User: "a", Assistant: "b", Replied: true}, {User: "c"}}},
		{"unanswered question", []Message{msg(RoleUser, "a"), msg(RoleUser, "b"), msg(RoleAssistant, "c")},
			[]Turn{{User: "a"}, {User: "b", Assistant: "c", Replied: true}}},
		{"reply first", []Message{msg(RoleAssistant, "x")}, []Turn{{Assistant: "x", Replied: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Thread{Messages: tc.in}.Turns()
			if len(got) != len(tc.want) {
				t.Fatalf("Turns = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("turn %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
