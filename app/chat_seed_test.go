package app

import (
	"context"
	"testing"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/history"
)

// sampled is a short reply at temperature 0.8 with no fixed seed.
func sampled(n int) ReplyOptions {
	return ReplyOptions{Sampling: history.Sampling{Temperature: history.Ptr(0.8), MaxTokens: history.Ptr(n)}}
}

// TestRegenerateDrawsFreshSeeds checks that each sampled reply gets its own
// seed (so regenerating gives another reply), that the seed is saved with
// the reply, and that the seed reproduces it.
func TestRegenerateDrawsFreshSeeds(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 512)
	ctx := context.Background()
	first, err := c.Start(ctx, history.NewConversation{}, "Tell me a story about a dragon.", sampled(12), nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Seed == nil {
		t.Fatal("a sampled reply has no seed")
	}
	replies := map[string]bool{first.Reply: true}
	seeds := map[int64]bool{*first.Seed: true}
	id := first.MessageID
	for range 3 {
		res, err := c.Regenerate(ctx, id, sampled(12), nil)
		if err != nil {
			t.Fatal(err)
		}
		replies[res.Reply] = true
		seeds[*res.Seed] = true
		id = res.MessageID
	}
	if len(seeds) != 4 {
		t.Errorf("four replies drew %d seeds", len(seeds))
	}
	if len(replies) < 2 {
		t.Errorf("four replies at temperature 0.8 were all %q", first.Reply)
	}
	// Saved with the reply.
	th := thread(t, c, first.ConversationID)
	last := th.Messages[len(th.Messages)-1]
	if last.Seed == nil || !seeds[*last.Seed] {
		t.Errorf("saved reply's seed: %v", last.Seed)
	}
	// The seed reproduces the reply: same conversation so far, same seed.
	again := sampled(12)
	again.Sampling.Seed = first.Seed
	res, err := c.Start(ctx, history.NewConversation{}, "Tell me a story about a dragon.", again, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reply != first.Reply || *res.Seed != *first.Seed {
		t.Errorf("seed %d gave %q, first time %q", *first.Seed, res.Reply, first.Reply)
	}
	// Greedy replies need no seed.
	if g, err := c.Send(ctx, res.ConversationID, "Go on.", greedy(3), nil); err != nil || g.Seed != nil {
		t.Errorf("greedy reply: seed %v, %v", g.Seed, err)
	}
}

// TestOverflowPolicyStaysWithTheConversation checks that a policy chosen
// for a conversation is saved with it and used by later replies whatever
// their callers' default.
func TestOverflowPolicyStaysWithTheConversation(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 512)
	ctx := context.Background()
	opts := greedy(2)
	opts.Policy, opts.StorePolicy = chat.TruncateMiddle, true
	res, err := c.Start(ctx, history.NewConversation{}, "Hello.", opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if conv := thread(t, c, res.ConversationID).Conversation; conv.OverflowPolicy != "truncate-middle" {
		t.Fatalf("new conversation's policy %q", conv.OverflowPolicy)
	}
	// A later reply with another default keeps the conversation's policy.
	later := greedy(2)
	later.Policy = chat.StopAtLimit
	got, _, err := conversationPolicy(thread(t, c, res.ConversationID).Conversation, later)
	if err != nil || got.Policy != chat.TruncateMiddle {
		t.Errorf("the policy a later reply runs with: %v, %v", got.Policy, err)
	}
	if _, err := c.Send(ctx, res.ConversationID, "Again.", later, nil); err != nil {
		t.Fatal(err)
	}
	if conv := thread(t, c, res.ConversationID).Conversation; conv.OverflowPolicy != "truncate-middle" {
		t.Errorf("a reply with another default changed the policy to %q", conv.OverflowPolicy)
	}
	// Choosing one explicitly replaces it.
	later.StorePolicy = true
	if _, err := c.Send(ctx, res.ConversationID, "Once more.", later, nil); err != nil {
		t.Fatal(err)
	}
	if conv := thread(t, c, res.ConversationID).Conversation; conv.OverflowPolicy != "stop-at-limit" {
		t.Errorf("an explicit policy was not saved: %q", conv.OverflowPolicy)
	}
}
