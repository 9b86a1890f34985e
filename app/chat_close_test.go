package app

import (
	"context"
	"errors"
	"testing"

	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// Close (chat.go) stops every reply, those that have no conversation yet
// too, and leaves nothing running or loaded after it.

// TestCloseStopsAQueuedStart checks that a Start waiting for the model
// (the command line queues) ends with ErrClosed when the service closes,
// instead of creating its conversation and writing a whole reply while
// Close waits.
func TestCloseStopsAQueuedStart(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 4096)
	ctx := context.Background()
	busyID, done := streaming(t, c, ctx)

	queued := make(chan error, 1)
	started := make(chan string, 1)
	go func() {
		opts := greedy(8)
		opts.Queue = true
		_, err := c.Start(ctx, history.NewConversation{}, "Are you there?", opts, func(e ReplyEvent) {
			if e.Kind == EventStarted {
				started <- e.ConversationID
			}
		})
		queued <- err
	}()
	waitFor(t, "the queued Start", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.slots[c.current].users == 2
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the streaming reply: %v", err)
	}
	if err := <-queued; !errors.Is(err, ErrClosed) {
		t.Fatalf("the queued Start: %v, want ErrClosed", err)
	}
	select {
	case id := <-started:
		t.Errorf("the queued Start started a reply in %s after Close", id)
	default:
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != busyID {
		t.Fatalf("conversations after Close: %+v (%v), want only %s", list, err, busyID)
	}
	if m := thread(t, c, busyID).Messages[1]; m.Status != history.StatusCancelled {
		t.Errorf("the streaming reply saved as %+v", m)
	}
}

// TestCloseStopsAReplyBeforeItsConversation checks, at the seam where
// Start records the conversation it created, that Close cancels a reply
// that has its turn but no conversation yet, and that the conversation is
// then not recorded: nothing could Stop it, and Close would wait for it.
func TestCloseStopsAReplyBeforeItsConversation(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 512)
	ctx := context.Background()
	r, rctx, release, err := c.acquire(ctx, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	waitFor(t, "Close to cancel the reply", func() bool { return rctx.Err() != nil })

	conv, err := c.Create(ctx, history.NewConversation{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.setConversation(r, conv); !errors.Is(err, ErrClosed) {
		t.Errorf("setConversation after Close: %v, want ErrClosed", err)
	}
	if act, ok := c.Activity(conv.ID); ok {
		t.Errorf("recorded after Close: %+v", act)
	}
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

// TestAfterClose checks what the service does once closed: replies are
// refused with ErrClosed, and a responder handed to it is closed at once
// (its model unloaded) rather than kept where nothing would close it.
func TestAfterClose(t *testing.T) {
	a := openApp(t)
	c := loadChat(t, a, 512)
	ctx := context.Background()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func(t *testing.T) error
	}{
		{"Start", func(t *testing.T) error {
			_, err := c.Start(ctx, history.NewConversation{}, "Hello", greedy(2), nil)
			return err
		}},
		{"SetResponder, then Start", func(t *testing.T) error {
			lm, err := LoadModel(testenv.Path(t, "models", "chat-q4_k_m.gguf"), LoadOptions{Backend: "cpu", Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			r, err := NewLocalResponder(lm, 512)
			if err != nil {
				lm.Close()
				t.Fatal(err)
			}
			c.SetResponder(r)
			if lm.backends != nil {
				lm.Close()
				t.Error("the responder given after Close was kept open")
			}
			if c.Responder() != nil {
				t.Error("the responder given after Close is in use")
			}
			_, err = c.Start(ctx, history.NewConversation{}, "Hello", greedy(2), nil)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(t); !errors.Is(err, ErrClosed) {
				t.Errorf("%v, want ErrClosed", err)
			}
		})
	}
	if list, err := c.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("conversations after Close: %+v (%v)", list, err)
	}
}
