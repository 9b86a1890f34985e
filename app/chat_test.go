package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// loadChat gives a's chat service a local responder on the shared chat
// model with a context of ctxLen tokens.
func loadChat(t *testing.T, a *App, ctxLen int) *Chat {
	t.Helper()
	lm, err := LoadModel(testenv.Path(t, "models", "chat-q4_k_m.gguf"), LoadOptions{Backend: "cpu", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewLocalResponder(lm, ctxLen)
	if err != nil {
		lm.Close()
		t.Fatal(err)
	}
	c := a.Chat()
	c.SetResponder(r)
	return c
}

// greedy is a short reply at temperature 0.
func greedy(n int) ReplyOptions {
	return ReplyOptions{Sampling: history.Sampling{Temperature: history.Ptr(0.0), MaxTokens: history.Ptr(n)}}
}

func thread(t *testing.T, c *Chat, id string) history.Thread {
	t.Helper()
	th, err := c.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestChatLifecycle(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 1024)
	ctx := context.Background()

	// Start: the conversation is created with its first message.
	var kinds []EventKind
	var streamed strings.Builder
	var done *ReplyResult
	first, err := c.Start(ctx, history.NewConversation{Persona: "Shakespearean poet"}, "Write about the sea.", greedy(6), func(e ReplyEvent) {
		kinds = append(kinds, e.Kind)
		streamed.WriteString(e.Text)
		if e.Kind == EventDone {
			done = e.Result
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if kinds[0] != EventStarted || kinds[len(kinds)-1] != EventDone || done != first {
		t.Fatalf("events %v, done %v", kinds, done)
	}
	if streamed.String() != first.Reply || first.StopReason != StopMaxTokens || first.Model != "chat-q4_k_m.gguf" {
		t.Fatalf("streamed %q, result %+v", streamed.String(), first)
	}
	convID := first.ConversationID
	th := thread(t, c, convID)
	if !strings.Contains(th.Conversation.SystemPrompt, "verse") || th.Conversation.Model != "chat-q4_k_m.gguf" {
		t.Fatalf("conversation %+v", th.Conversation)
	}

	// Send: the cache holds the first turn.
	second, err := c.Send(ctx, convID, "And the moon?", greedy(6), nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Stats.PromptEvaluated >= second.Stats.PromptTokens/2 {
		t.Errorf("second turn evaluated %d of %d tokens: no cache reuse", second.Stats.PromptEvaluated, second.Stats.PromptTokens)
	}
	th = thread(t, c, convID)
	if len(th.Messages) != 4 || th.Messages[1].Content != first.Reply || th.Messages[3].Status != history.StatusDone {
		t.Fatalf("saved thread: %+v", th.Messages)
	}
	if s := th.Messages[3].Stats; s.GeneratedTokens != 6 || s.StopReason != "max_tokens" || s.Backend != "cpu" {
		t.Errorf("saved stats: %+v", s)
	}

	// Regenerate keeps the old reply as an alternative.
	regen, err := c.Regenerate(ctx, th.Messages[3].ID, greedy(6), nil)
	if err != nil {
		t.Fatal(err)
	}
	alts, err := c.Alternatives(ctx, regen.MessageID)
	if err != nil || len(alts) != 2 {
		t.Fatalf("alternatives %v, %v", alts, err)
	}
	if regen.Stats.PromptEvaluated != 1 {
		t.Errorf("regenerate evaluated %d prompt tokens, want 1", regen.Stats.PromptEvaluated)
	}
	if ok, err := c.SwitchVersion(ctx, regen.MessageID, -1); !ok || err != nil {
		t.Fatalf("switch to the first version: %v %v", ok, err)
	}
	if th = thread(t, c, convID); th.Messages[3].ID != alts[0].ID {
		t.Errorf("after switching the path ends with %d, want %d", th.Messages[3].ID, alts[0].ID)
	}

	// Edit the first message: a new branch.
	edited, err := c.Edit(ctx, th.Messages[0].ID, "Write about the stars.", greedy(6), nil)
	if err != nil {
		t.Fatal(err)
	}
	th = thread(t, c, convID)
	if len(th.Messages) != 2 || th.Messages[0].Content != "Write about the stars." || th.Messages[1].ID != edited.MessageID {
		t.Fatalf("after edit: %+v", th.Messages)
	}

	// Rename, pin, list, delete.
	if err := c.Rename(ctx, convID, "Sea and stars"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPinned(ctx, convID, true); err != nil {
		t.Fatal(err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 1 || list[0].Title != "Sea and stars" || !list[0].Pinned {
		t.Fatalf("list %+v, %v", list, err)
	}
	if err := c.Delete(ctx, convID); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.List(ctx); len(list) != 0 {
		t.Fatalf("after delete: %+v", list)
	}
	if _, err := c.Send(ctx, convID, "Hello?", greedy(2), nil); !errors.Is(err, history.ErrNotFound) {
		t.Errorf("send to a deleted conversation: %v", err)
	}
}

func TestChatRefusesBeforeSaving(t *testing.T) {
	a := openApp(t)
	c := a.Chat()
	ctx := context.Background()
	if _, err := c.Start(ctx, history.NewConversation{}, "Hi", greedy(2), nil); !errors.Is(err, ErrNoResponder) {
		t.Fatalf("without a model: %v", err)
	}
	c = loadChat(t, a, 1024)
	for _, text := range []string{"", "  \n "} {
		if _, err := c.Start(ctx, history.NewConversation{}, text, greedy(2), nil); !errors.Is(err, ErrEmptyMessage) {
			t.Errorf("empty message %q: %v", text, err)
		}
	}
	if _, err := c.Start(ctx, history.NewConversation{Persona: "Nobody"}, "Hi", greedy(2), nil); !errors.Is(err, ErrNoPersona) {
		t.Errorf("unknown persona: %v", err)
	}
	bad := greedy(2)
	bad.Sampling.Temperature = history.Ptr(-1.0)
	if _, err := c.Start(ctx, history.NewConversation{}, "Hi", bad, nil); err == nil {
		t.Error("a negative temperature was accepted")
	}
	if list, _ := c.List(ctx); len(list) != 0 {
		t.Fatalf("refused messages saved conversations: %+v", list)
	}
}

func TestChatTooLongIsRefusedWithChoices(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 256)
	ctx := context.Background()
	long := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 60)

	check, err := c.CheckDraft(ctx, Draft{Text: "Hello there", Options: greedy(16)})
	if err != nil || !check.Counted || !check.Fits || check.Tokens == 0 || check.Context != 256 || check.Room <= check.Tokens {
		t.Fatalf("short draft: %+v, %v", check, err)
	}
	check, err = c.CheckDraft(ctx, Draft{Text: long, Options: greedy(16)})
	if err != nil || check.Fits || check.Tokens <= check.Room || check.Reason == "" {
		t.Fatalf("long draft: %+v, %v", check, err)
	}
	want := map[DraftChoice]bool{ChoiceShorten: true, ChoiceTruncateMiddle: true, ChoiceLargerContext: true}
	for _, ch := range check.Choices {
		delete(want, ch)
	}
	if len(want) != 0 || check.LargerContext <= 256 {
		t.Errorf("choices %v (larger context %d), missing %v", check.Choices, check.LargerContext, want)
	}

	_, err = c.Start(ctx, history.NewConversation{}, long, greedy(16), nil)
	var tooLong *TooLongError
	if !errors.As(err, &tooLong) || !errors.Is(err, chat.ErrContextFull) || tooLong.Check.Reason != check.Reason {
		t.Fatalf("start with a long message: %v", err)
	}
	if list, _ := c.List(ctx); len(list) != 0 {
		t.Fatalf("a refused message saved a conversation: %+v", list)
	}

	// In a conversation: nothing is added.
	res, err := c.Start(ctx, history.NewConversation{}, "Hi", greedy(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, res.ConversationID, long, greedy(16), nil); !errors.As(err, &tooLong) {
		t.Fatalf("send a long message: %v", err)
	}
	if n := len(thread(t, c, res.ConversationID).Messages); n != 2 {
		t.Fatalf("the refused message was saved: %d messages", n)
	}

	// Truncating the middle makes it fit; it keeps both ends.
	d := Draft{ConversationID: res.ConversationID, Text: long + "THE END", Options: greedy(16)}
	cut, err := c.TruncateDraft(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cut, "The quick") || !strings.HasSuffix(cut, "THE END") || !strings.Contains(cut, "…") {
		t.Errorf("truncated draft %q", cut)
	}
	d.Text = cut
	if check, err := c.CheckDraft(ctx, d); err != nil || !check.Fits {
		t.Fatalf("the truncated draft does not fit: %+v, %v", check, err)
	}
	if _, err := c.Send(ctx, res.ConversationID, cut, greedy(4), nil); err != nil {
		t.Fatalf("send the truncated draft: %v", err)
	}

	// Under stop-at-limit a conversation that outgrew the context is
	// refused with the policy and a new chat as ways out.
	stop := greedy(16)
	stop.Policy = chat.StopAtLimit
	check, err = c.CheckDraft(ctx, Draft{ConversationID: res.ConversationID, Text: "And then?", Options: stop})
	if err != nil || check.Fits || len(check.Choices) == 0 || check.Choices[0] != ChoiceDropOldest {
		t.Fatalf("stop-at-limit: %+v, %v", check, err)
	}
}

func TestChatContinue(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 1024)
	ctx := context.Background()
	whole, err := c.Start(ctx, history.NewConversation{}, "Tell me a story.", greedy(12), nil)
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.Start(ctx, history.NewConversation{}, "Tell me a story.", greedy(6), nil)
	if err != nil {
		t.Fatal(err)
	}
	th := thread(t, c, part.ConversationID)
	last := th.Messages[len(th.Messages)-1]
	if !CanContinue(last) {
		t.Fatalf("a reply stopped at its token limit cannot be continued: %+v", last)
	}
	if _, err := c.Continue(ctx, th.Messages[0].ID, greedy(6), nil); err == nil {
		t.Error("continuing the person's message was accepted")
	}
	var added strings.Builder
	more, err := c.Continue(ctx, last.ID, greedy(6), func(e ReplyEvent) { added.WriteString(e.Text) })
	if err != nil {
		t.Fatal(err)
	}
	if more.Reply != part.Reply+added.String() || added.Len() == 0 || more.MessageID != last.ID {
		t.Fatalf("continued %q + %q = %q", part.Reply, added.String(), more.Reply)
	}
	// Greedy: six tokens, then six more, write what twelve at once do.
	if more.Reply != whole.Reply {
		t.Errorf("continued reply %q differs from the whole one %q", more.Reply, whole.Reply)
	}
	th = thread(t, c, part.ConversationID)
	if m := th.Messages[len(th.Messages)-1]; m.Content != more.Reply || m.Status != history.StatusDone || len(th.Messages) != 2 {
		t.Fatalf("saved %+v", th.Messages)
	}
}

func TestSearchGroupsByConversation(t *testing.T) {
	a := openApp(t)
	c := a.Chat()
	ctx := context.Background()
	store, err := a.History()
	if err != nil {
		t.Fatal(err)
	}
	add := func(title string, messages ...string) string {
		conv, err := c.Create(ctx, history.NewConversation{Title: title})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range messages {
			if _, err := store.AppendUser(ctx, conv.ID, m); err != nil {
				t.Fatal(err)
			}
		}
		return conv.ID
	}
	many := add("Sea creatures", "The `walrus` sleeps.", "A **walrus** eats clams.", "Count the walruses.", "Nothing here.")
	one := add("Zoo trip", "We saw a walrus_ and_ a seal.")
	add("Other", "No match at all.")

	got, err := c.Search(ctx, "walrus", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d results, want one per matching conversation: %+v", len(got), got)
	}
	byID := map[string]SearchResult{}
	for _, r := range got {
		byID[r.ConversationID] = r
	}
	if r := byID[many]; r.Hits != 3 || r.MessageID == 0 || strings.ContainsAny(r.Snippet, "«»`*") {
		t.Errorf("grouped result %+v", r)
	}
	r := byID[one]
	if r.Hits != 1 || len(r.Bold) != 1 || r.Snippet[r.Bold[0].Start:r.Bold[0].End] != "walrus" {
		t.Errorf("result %+v", r)
	}
	if got, _ := c.Search(ctx, "walrus", 1); len(got) != 1 {
		t.Errorf("limit 1 gave %d results", len(got))
	}
}

func TestPlainSnippet(t *testing.T) {
	tests := []struct {
		in, text string
		bold     []string
	}{
		{"a «walrus» sleeps", "a walrus sleeps", []string{"walrus"}},
		{"use `go «test»`\n\n# Heading", "use go test Heading", []string{"test"}},
		{"**«bold»** and _it_", "bold and it", []string{"bold"}},
		{"snake_case stays, 2*3 too", "snake_case stays, 2*3 too", nil},
		{"…end of «one» and «two»…", "…end of one and two…", []string{"one", "two"}},
		{"> quoted «x»", "quoted x", []string{"x"}},
		{"«unclosed", "unclosed", []string{"unclosed"}},
	}
	for _, tt := range tests {
		text, spans := PlainSnippet(tt.in)
		var bold []string
		for _, s := range spans {
			bold = append(bold, text[s.Start:s.End])
		}
		if text != tt.text || strings.Join(bold, "|") != strings.Join(tt.bold, "|") {
			t.Errorf("PlainSnippet(%q) = %q %q, want %q %q", tt.in, text, bold, tt.text, tt.bold)
		}
	}
}

func TestRenameKeepsThePlaceInTheList(t *testing.T) {
	a := openApp(t)
	c := a.Chat()
	ctx := context.Background()
	older, err := c.Create(ctx, history.NewConversation{Title: "Older"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, err := c.Create(ctx, history.NewConversation{Title: "Newer"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename(ctx, older.ID, "Older, renamed"); err != nil {
		t.Fatal(err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 2 || list[0].Title != "Newer" || list[1].Title != "Older, renamed" ||
		!list[1].UpdatedAt.Equal(older.UpdatedAt) {
		t.Fatalf("after renaming the older conversation: %+v, %v", list, err)
	}
}
