package history

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Environment variables of the child processes the crash and concurrency
// tests start (the test binary re-executed; see TestMain).
const (
	childModeEnv = "LLAMADESK_HISTORY_TEST_CHILD"
	childDBEnv   = "LLAMADESK_HISTORY_TEST_DB"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childModeEnv) {
	case "":
		os.Exit(m.Run())
	case "stream":
		os.Exit(runChild(childStream))
	case "write":
		os.Exit(runChild(childWrite))
	default:
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", os.Getenv(childModeEnv))
		os.Exit(2)
	}
}

// runChild opens the store named by the environment and runs fn on it.
func runChild(fn func(ctx context.Context, s *Store) error) int {
	s, err := Open(os.Getenv(childDBEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer s.Close()
	if err := fn(context.Background(), s); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// openTemp opens a new store in a temporary folder and closes it at the
// end of the test.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "history.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// mustCheck fails the test when the store's integrity checks fail.
func mustCheck(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

// chat creates a conversation with the given alternating user/assistant
// texts (finished replies) and returns its id.
func chat(t testing.TB, s *Store, persona string, texts ...string) string {
	t.Helper()
	ctx := context.Background()
	c, err := s.CreateConversation(ctx, NewConversation{Persona: persona})
	if err != nil {
		t.Fatalf("CreateConversation: %v", err)
	}
	for i, text := range texts {
		if i%2 == 0 {
			if _, err := s.AppendUser(ctx, c.ID, text); err != nil {
				t.Fatalf("AppendUser: %v", err)
			}
			continue
		}
		reply(t, s, c.ID, text)
	}
	return c.ID
}

// reply adds a finished assistant reply to the conversation.
func reply(t testing.TB, s *Store, id, text string) Message {
	t.Helper()
	ctx := context.Background()
	m, err := s.StartAssistant(ctx, id, "")
	if err != nil {
		t.Fatalf("StartAssistant: %v", err)
	}
	err = s.FinishAssistant(ctx, m.ID, Finish{Content: text, Status: StatusDone, TokenCount: len(text),
		Stats: Stats{GeneratedTokens: len(text), TokensPerSecond: 12.5, StopReason: "eos"}})
	if err != nil {
		t.Fatalf("FinishAssistant: %v", err)
	}
	return m
}

// contents returns the texts of messages.
func contents(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Content
	}
	return out
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}
