package app

import (
	"context"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

func loadChat(t *testing.T, a *App) *Chat {
	t.Helper()
	lm, err := LoadModel(testenv.Path(t, "models", "chat-q4_k_m.gguf"), LoadOptions{Backend: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lm.Close() })
	c, err := a.NewChat(lm, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChatSendSavesTurnsAndReuses(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a)
	ctx := context.Background()
	conv, err := c.StartConversation(ctx, "Shakespearean poet", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(conv.SystemPrompt, "verse") {
		t.Fatalf("persona's system prompt not used: %q", conv.SystemPrompt)
	}
	greedy := ReplyOptions{Sampling: history.Sampling{Temperature: history.Ptr(0.0), MaxTokens: history.Ptr(6)}}
	var streamed strings.Builder
	var done *ReplyResult
	first, err := c.Send(ctx, conv.ID, "Write about the sea.", greedy, func(e ReplyEvent) {
		streamed.WriteString(e.Text)
		if e.Done {
			done = e.Result
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if done != first || streamed.String() != first.Reply || first.StopReason != "max_tokens" {
		t.Fatalf("events %q (done %v) vs result %+v", streamed.String(), done, first)
	}
	second, err := c.Send(ctx, conv.ID, "And the moon?", greedy, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Stats.PromptEvaluated >= second.Stats.PromptTokens/2 {
		t.Errorf("second turn evaluated %d of %d tokens: no cache reuse", second.Stats.PromptEvaluated, second.Stats.PromptTokens)
	}
	store, _ := a.History()
	th, err := store.Thread(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(th.Messages) != 4 || th.Messages[1].Content != first.Reply || th.Messages[3].Status != history.StatusDone {
		t.Fatalf("saved thread: %+v", th.Messages)
	}
	if th.Messages[3].Stats.GeneratedTokens != 6 || th.Messages[3].Stats.StopReason != "max_tokens" {
		t.Errorf("saved stats: %+v", th.Messages[3].Stats)
	}

	// Regenerate keeps the old reply as an alternative.
	regen, err := c.Regenerate(ctx, th.Messages[3].ID, greedy, nil)
	if err != nil {
		t.Fatal(err)
	}
	alts, err := store.Alternatives(ctx, regen.MessageID)
	if err != nil || len(alts) != 2 {
		t.Fatalf("alternatives %v, %v", alts, err)
	}
	if regen.Stats.PromptEvaluated != 1 {
		t.Errorf("regenerate evaluated %d prompt tokens, want 1", regen.Stats.PromptEvaluated)
	}

	// Editing the first message writes a new branch.
	edited, err := c.Edit(ctx, th.Messages[0].ID, "Write about the stars.", greedy, nil)
	if err != nil {
		t.Fatal(err)
	}
	th, _ = store.Thread(ctx, conv.ID)
	if len(th.Messages) != 2 || th.Messages[0].Content != "Write about the stars." || th.Messages[1].ID != edited.MessageID {
		t.Fatalf("after edit: %+v", th.Messages)
	}
}

func TestChatStopSavesPartialReply(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a)
	conv, err := c.StartConversation(context.Background(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	res, err := c.Send(ctx, conv.ID, "Tell me a story.", ReplyOptions{Sampling: history.Sampling{Temperature: history.Ptr(0.0)}}, func(e ReplyEvent) {
		if n++; n == 4 {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != "cancelled" {
		t.Fatalf("stop reason %s", res.StopReason)
	}
	store, _ := a.History()
	th, _ := store.Thread(context.Background(), conv.ID)
	last := th.Messages[len(th.Messages)-1]
	if last.Status != history.StatusCancelled || last.Content != res.Reply || last.Content == "" {
		t.Errorf("saved %+v, reply %q", last, res.Reply)
	}
}
