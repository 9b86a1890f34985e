package app

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// Replies in progress (chat_active.go): other conversations stay usable,
// Stop takes effect at once, an idle responder is closed when replaced.

// waitFor polls cond until it holds or a second passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// streaming starts an endless reply in a new conversation and returns
// its id once text flows, and a channel that gets its result.
func streaming(t *testing.T, c *Chat, ctx context.Context) (string, chan error) {
	t.Helper()
	started := make(chan string, 1)
	var texts sync.WaitGroup
	texts.Add(3)
	n := 0
	done := make(chan error, 1)
	go func() {
		opts := ReplyOptions{Sampling: history.Sampling{Temperature: history.Ptr(1.0), Seed: history.Ptr(int64(3))}}
		_, err := c.Start(ctx, history.NewConversation{}, "Tell me a long story.", opts, func(e ReplyEvent) {
			switch e.Kind {
			case EventStarted:
				started <- e.ConversationID
			case EventText:
				if n++; n <= 3 {
					texts.Done()
				}
			}
		})
		done <- err
	}()
	id := <-started
	texts.Wait()
	return id, done
}

func TestChatOthersStayUsableWhileOneStreams(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 4096)
	ctx := context.Background()
	other, err := c.Start(ctx, history.NewConversation{}, "Hello walrus", greedy(3), nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []ReplyEvent
	defer c.Subscribe(func(e ReplyEvent) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	})()

	busyID, done := streaming(t, c, ctx)
	act, ok := c.Activity(busyID)
	if !ok || act.Live.Phase != PhaseWriting || act.Text == "" || act.MessageID == 0 {
		t.Fatalf("activity of the streaming reply: %+v, %v", act, ok)
	}
	waitFor(t, "a live tokens/s", func() bool {
		a, _ := c.Activity(busyID)
		return a.Live.TokensPerSecond > 0
	})
	if all := c.Active(); len(all) != 1 || all[0].ConversationID != busyID {
		t.Fatalf("active %+v", all)
	}

	// Everything but a second reply works on the other conversation, at once.
	var wg sync.WaitGroup
	work := []func() error{
		func() error { _, err := c.List(ctx); return err },
		func() error { _, err := c.Open(ctx, other.ConversationID); return err },
		func() error { _, err := c.Search(ctx, "walrus", 10); return err },
		func() error {
			_, err := c.CheckDraft(ctx, Draft{ConversationID: other.ConversationID, Text: "Next?"})
			return err
		},
		func() error { return c.Rename(ctx, other.ConversationID, "Walrus talk") },
		func() error { _, err := c.Open(ctx, busyID); return err },
	}
	errs := make([]error, len(work))
	for i, fn := range work {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn() }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("work %d while streaming: %v", i, err)
		}
	}

	// A second reply is refused with a reason, saving nothing.
	var busy *BusyError
	_, err = c.Send(ctx, other.ConversationID, "Are you there?", greedy(3), nil)
	if !errors.As(err, &busy) || busy.Same || busy.ConversationID != busyID {
		t.Fatalf("second send: %v", err)
	}
	if n := len(thread(t, c, other.ConversationID).Messages); n != 2 {
		t.Fatalf("the refused message was saved: %d messages", n)
	}
	if _, err := c.Send(ctx, busyID, "More?", greedy(3), nil); !errors.As(err, &busy) || !busy.Same {
		t.Fatalf("send in the streaming conversation: %v", err)
	}
	if err := c.Delete(ctx, busyID); !errors.As(err, &busy) {
		t.Fatalf("delete the streaming conversation: %v", err)
	}

	// Queued, it waits its turn and runs once the first is stopped.
	queued := make(chan error, 1)
	go func() {
		opts := greedy(3)
		opts.Queue = true
		_, err := c.Send(ctx, other.ConversationID, "Are you there?", opts, nil)
		queued <- err
	}()
	waitFor(t, "the queued reply", func() bool {
		a, ok := c.Activity(other.ConversationID)
		return ok && a.Live.Phase == PhaseWaiting
	})
	c.Stop(busyID)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-queued; err != nil {
		t.Fatal(err)
	}
	if n := len(thread(t, c, other.ConversationID).Messages); n != 4 {
		t.Fatalf("the queued reply left %d messages", n)
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[EventKind]int{}
	for _, e := range events {
		seen[e.Kind]++
	}
	if seen[EventStarted] != 2 || seen[EventDone] != 2 || seen[EventText] < 3 || seen[EventChanged] == 0 {
		t.Errorf("events seen: %v", seen)
	}
}

func TestChatStopWithin100ms(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 4096)
	ctx := context.Background()

	// While text streams.
	id, done := streaming(t, c, ctx)
	start := time.Now()
	if !c.Stop(id) {
		t.Fatal("Stop found no reply")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("the reply ended %v after Stop", d)
	}
	th := thread(t, c, id)
	last := th.Messages[len(th.Messages)-1]
	if last.Status != history.StatusCancelled || last.Content == "" || !CanContinue(last) {
		t.Errorf("stopped reply saved as %+v", last)
	}
	if _, ok := c.Activity(id); ok {
		t.Error("the stopped reply is still active")
	}

	// While a long prompt is read.
	prompt, err := os.ReadFile(testenv.Path(t, "prompts", "long.txt"))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat(string(prompt), 3)
	started := make(chan string, 1)
	done = make(chan error, 1)
	go func() {
		_, err := c.Send(ctx, id, long, greedy(8), func(e ReplyEvent) {
			if e.Kind == EventStarted {
				started <- e.ConversationID
			}
		})
		done <- err
	}()
	<-started
	start = time.Now()
	c.Stop(id)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("the prompt was read on for %v after Stop", d)
	}
}

func TestSetResponderClosesTheOldOneWhenIdle(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 4096)
	ctx := context.Background()
	old := c.Responder().(*LocalResponder)
	id, done := streaming(t, c, ctx)
	// A new model while a reply runs on the old one: the reply goes on.
	lm, err := LoadModel(testenv.Path(t, "models", "chat-q4_k_m.gguf"), LoadOptions{Backend: "cpu", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewLocalResponder(lm, 512)
	if err != nil {
		t.Fatal(err)
	}
	c.SetResponder(r)
	if act, ok := c.Activity(id); !ok || act.Live.Phase != PhaseWriting {
		t.Fatalf("the running reply stopped when the model changed: %+v", act)
	}
	c.mu.Lock()
	oldSlot := c.slots[old]
	c.mu.Unlock()
	if oldSlot == nil {
		t.Fatal("the old model was closed under its reply")
	}
	// Replies on the new model do not wait for the old one.
	if _, err := c.Start(ctx, history.NewConversation{}, "Hi", greedy(2), nil); err != nil {
		t.Fatalf("a reply on the new model: %v", err)
	}
	c.Stop(id)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the old model to close", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.slots[old] == nil
	})
}
