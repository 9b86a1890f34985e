package app

import (
	"context"
	"slices"
	"testing"

	"github.com/llamadesk/llamadesk/history"
)

// A search hit in a version that is not shown opens the conversation at
// that version; other messages leave the version shown as it is.
func TestOpenAtShowsTheHitsVersion(t *testing.T) {
	a := openApp(t)
	c := a.Chat()
	ctx := context.Background()
	store, err := a.History()
	if err != nil {
		t.Fatal(err)
	}
	must := func(m history.Message, err error) history.Message {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	reply := func(m history.Message, text string) history.Message {
		t.Helper()
		if err := store.FinishAssistant(ctx, m.ID, history.Finish{Content: text, Status: history.StatusDone}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	conv, err := c.Create(ctx, history.NewConversation{Title: "Sea"})
	if err != nil {
		t.Fatal(err)
	}
	question := must(store.AppendUser(ctx, conv.ID, "Tell me a story."))
	old := reply(must(store.StartAssistant(ctx, conv.ID, "")), "An old walrus slept on the ice.")
	newer := reply(must(store.Regenerate(ctx, old.ID, "")), "A seal swam under the ice.")
	later := must(store.AppendUser(ctx, conv.ID, "Another one."))
	other, err := c.Create(ctx, history.NewConversation{Title: "Elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	stranger := must(store.AppendUser(ctx, other.ID, "Hello."))

	hits, err := c.Search(ctx, "walrus", 10)
	if err != nil || len(hits) != 1 || hits[0].MessageID != old.ID {
		t.Fatalf("search for the old version: %+v, %v", hits, err)
	}
	ids := func(th history.Thread) []int64 {
		var out []int64
		for _, m := range th.Messages {
			out = append(out, m.ID)
		}
		return out
	}
	shownNow := []int64{question.ID, newer.ID, later.ID}
	tests := []struct {
		name      string
		messageID int64
		want      []int64
	}{
		{"no message", 0, shownNow},
		{"a message shown", later.ID, shownNow},
		{"another conversation's message", stranger.ID, shownNow},
		{"a deleted message", 1 << 40, shownNow},
		{"the hidden version", old.ID, []int64{question.ID, old.ID}},
		{"back to the newer version", newer.ID, shownNow},
	}
	for _, tt := range tests {
		th, err := c.OpenAt(ctx, conv.ID, tt.messageID)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := ids(th); !slices.Equal(got, tt.want) {
			t.Errorf("%s: shows messages %v, want %v", tt.name, got, tt.want)
		}
		if got := ids(thread(t, c, conv.ID)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: opened again, shows %v, want %v (the switch is kept)", tt.name, got, tt.want)
		}
	}
	if got := ids(thread(t, c, other.ID)); !slices.Equal(got, []int64{stranger.ID}) {
		t.Errorf("the other conversation shows %v", got)
	}
}
