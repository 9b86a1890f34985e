package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/history"
)

// Only requests that were granted the engine are saved: one refused by a
// full queue (503), or whose client left while it waited, never ran.
func TestSaveHistorySkipsRequestsThatNeverRan(t *testing.T) {
	for _, c := range []struct {
		name string
		// notRun sends a chat saying text that never gets the engine while
		// another request holds it and one waits (the queue holds one).
		notRun func(t *testing.T, s *testServer, text string)
	}{
		{"refused: the queue is full", func(t *testing.T, s *testServer, text string) {
			waiting, cancel := waitInQueue(t, s, "a waiting request")
			defer func() { cancel(); <-waiting }()
			resp, body := do(t, "POST", s.URL+"/v1/chat/completions", chatSaying(text))
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("over the queue limit: %d %s", resp.StatusCode, body)
			}
		}},
		{"the client left while queued", func(t *testing.T, s *testServer, text string) {
			waiting, cancel := waitInQueue(t, s, text)
			cancel()
			<-waiting
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.MaxQueue = 1
			store := saveHistory(t, &cfg)
			s := start(t, cfg)
			hangUp := streamUntilFirstChunk(t, s.URL, 450, "")
			c.notRun(t, s, "This request never ran")
			if !waitFor(5*time.Second, func() bool { return s.Status().Queued == 0 }) {
				t.Fatalf("still queued: %d", s.Status().Queued)
			}
			hangUp()
			if !waitFor(5*time.Second, func() bool { return s.Status().InFlight == 0 }) {
				t.Fatal("still in flight after the client hung up")
			}
			ctx := context.Background()
			convs, err := store.Conversations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var saved []string
			for _, conv := range convs {
				msgs, err := store.ActivePath(ctx, conv.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range msgs {
					saved = append(saved, string(m.Role)+":"+string(m.Status)+":"+m.Content)
				}
			}
			// The request that ran (and was stopped) is saved, and only it.
			if len(convs) != 1 || len(saved) != 2 || saved[0] != "user:done:Write a long story about the wind." ||
				!strings.HasPrefix(saved[1], "assistant:"+string(history.StatusCancelled)+":") {
				t.Fatalf("saved %d conversations: %q; want only the one that ran", len(convs), saved)
			}
		})
	}
}

// chatSaying is a chat request of one user message.
func chatSaying(text string) map[string]any {
	return map[string]any{"model": chatRef, "max_tokens": 1,
		"messages": []map[string]any{{"role": "user", "content": text}}}
}

// waitInQueue sends a chat saying text and returns once it waits for the
// engine, with a channel closed when its request ended and the function
// that makes its client leave.
func waitInQueue(t *testing.T, s *testServer, text string) (ended chan struct{}, leave func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ended = make(chan struct{})
	req, err := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/chat/completions", strings.NewReader(mustJSON(t, chatSaying(text))))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(ended)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	if !waitFor(5*time.Second, func() bool { return s.Status().Queued == 1 }) {
		cancel()
		t.Fatalf("%d requests queued, want 1", s.Status().Queued)
	}
	return ended, cancel
}
