package app

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/history"
)

// unlimited is a reply with no token limit: on the shared chat model it
// runs until the context is full.
func unlimited(temp float64, seed *int64) ReplyOptions {
	return ReplyOptions{Sampling: history.Sampling{Temperature: history.Ptr(temp), MaxTokens: history.Ptr(1 << 20), Seed: seed}}
}

// TestContinueFailureKeepsTheReply checks that a continuation the engine
// cannot write (the reply so far fills the context: session.Continue fails
// with chat.ErrContextFull) leaves the reply as it was, whatever its
// status: its text, status, token count, stats, seed and error, so that
// later prompts still carry it, while the error reaches the caller and the
// EventDone event.
func TestContinueFailureKeepsTheReply(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 64)
	ctx := context.Background()
	store, err := a.History()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// reply writes a reply that fills most of the context and returns
		// its id.
		reply      func(t *testing.T) int64
		wantStatus history.Status
	}{
		{"stopped at a full context", func(t *testing.T) int64 {
			res, err := c.Start(ctx, history.NewConversation{}, "Tell me a long story about a walrus.", unlimited(0, nil), nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.StopReason != StopContextFull {
				t.Fatalf("the reply stopped at %s, want %s", res.StopReason, StopContextFull)
			}
			return res.MessageID
		}, history.StatusDone},
		{"stopped by the person, sampled", func(t *testing.T) int64 {
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			res, err := c.Start(rctx, history.NewConversation{}, "Tell me a long story about a seal.", unlimited(1, history.Ptr(int64(7))),
				func(e ReplyEvent) {
					if e.Kind == EventText && e.Live.Tokens >= 40 {
						cancel()
					}
				})
			if err != nil {
				t.Fatal(err)
			}
			if res.StopReason != StopCancelled || res.Seed == nil {
				t.Fatalf("stopped reply: %+v", res)
			}
			return res.MessageID
		}, history.StatusCancelled},
		{"interrupted by a crash", func(t *testing.T) int64 {
			res, err := c.Start(ctx, history.NewConversation{}, "Tell me a long story about an otter.", unlimited(0, nil), nil)
			if err != nil {
				t.Fatal(err)
			}
			// What MarkInterrupted leaves of a reply whose process died.
			if err := store.FinishAssistant(ctx, res.MessageID, history.Finish{Content: res.Reply, Status: history.StatusInterrupted,
				TokenCount: 47, Stats: history.Stats{GeneratedTokens: 47}}); err != nil {
				t.Fatal(err)
			}
			return res.MessageID
		}, history.StatusInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.reply(t)
			before, err := findMessage(ctx, store, id)
			if err != nil {
				t.Fatal(err)
			}
			if before.Status != tt.wantStatus || !CanContinue(before) {
				t.Fatalf("the reply to continue: %+v", before)
			}
			var events []ReplyEvent
			res, err := c.Continue(ctx, id, unlimited(0, nil), func(e ReplyEvent) { events = append(events, e) })
			if !errors.Is(err, chat.ErrContextFull) || res != nil {
				t.Fatalf("Continue: %+v, %v; want an error wrapping chat.ErrContextFull", res, err)
			}
			if n := len(events); n == 0 || events[n-1].Kind != EventDone || !errors.Is(events[n-1].Err, chat.ErrContextFull) {
				t.Errorf("events %+v: the last is not an EventDone with the error", events)
			}

			after, err := findMessage(ctx, store, id)
			if err != nil {
				t.Fatal(err)
			}
			if after.Content != before.Content || after.Status != before.Status || after.TokenCount != before.TokenCount ||
				after.Stats != before.Stats || after.Error != before.Error || !reflect.DeepEqual(after.Seed, before.Seed) {
				t.Errorf("after the failed continuation the reply is\n%+v\nwas\n%+v", after, before)
			}
			if !CanContinue(after) {
				t.Error("the reply can no longer be continued")
			}
			// Later prompts still carry the reply.
			conv := ChatConversation(thread(t, c, before.ConversationID))
			if n := len(conv.Messages); n != 2 || conv.Messages[1].Role != chat.Assistant || conv.Messages[1].Content != before.Content {
				t.Errorf("the next prompt's messages: %+v", conv.Messages)
			}
			if _, ok := c.Activity(before.ConversationID); ok {
				t.Error("the failed continuation is still active")
			}
		})
	}
}
