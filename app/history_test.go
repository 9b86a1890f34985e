package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/sample"
	"github.com/llamadesk/llamadesk/history"
)

// openApp opens an App whose data folder is a temporary folder.
func openApp(t *testing.T) *App {
	t.Helper()
	home := t.TempDir()
	a, err := Open(func(k string) string {
		if k == HomeEnv {
			return home
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestHistoryOpensOnceInTheDataFolder(t *testing.T) {
	a := openApp(t)
	s1, err := a.History()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := a.History()
	if err != nil || s1 != s2 {
		t.Fatalf("second History() = %p, %v; want the same store %p", s2, err, s1)
	}
	if want := filepath.Join(a.Home, "llamadesk.db"); s1.Path() != want || a.HistoryPath() != want {
		t.Errorf("database at %s, want %s", s1.Path(), want)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// After Close, History opens it again.
	s3, err := a.History()
	if err != nil || s3 == s1 {
		t.Fatalf("History after Close = %p, %v", s3, err)
	}
	if _, err := s3.Personas(context.Background()); err != nil {
		t.Errorf("reopened store: %v", err)
	}
}

func TestHistoryCorruptThenStartFresh(t *testing.T) {
	a := openApp(t)
	if err := os.WriteFile(a.HistoryPath(), []byte("definitely not SQLite, just some bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := a.History()
	var ce *history.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("History on a damaged file = %v, want a *history.CorruptError", err)
	}
	moved, err := a.StartFreshHistory()
	if err != nil || moved == "" {
		t.Fatalf("StartFreshHistory = %q, %v", moved, err)
	}
	s, err := a.History()
	if err != nil {
		t.Fatal(err)
	}
	if ps, err := s.Personas(context.Background()); err != nil || len(ps) == 0 {
		t.Errorf("fresh store personas = %d, %v", len(ps), err)
	}
}

func TestChatConversation(t *testing.T) {
	msg := func(r history.Role, st history.Status, text string) history.Message {
		return history.Message{Role: r, Status: st, Content: text}
	}
	th := history.Thread{
		Conversation: history.Conversation{SystemPrompt: "Be brief."},
		Messages: []history.Message{
			msg(history.RoleUser, history.StatusDone, "q1"),
			msg(history.RoleAssistant, history.StatusDone, "a1"),
			msg(history.RoleUser, history.StatusDone, "q2"),
			msg(history.RoleAssistant, history.StatusError, ""),
			msg(history.RoleUser, history.StatusDone, "q3"),
			msg(history.RoleAssistant, history.StatusCancelled, "partial"),
			msg(history.RoleUser, history.StatusDone, "q4"),
		},
	}
	got := ChatConversation(th)
	want := chat.Conversation{System: "Be brief.", Messages: []chat.Message{
		{Role: chat.User, Content: "q1"}, {Role: chat.Assistant, Content: "a1"},
		{Role: chat.User, Content: "q2"},
		{Role: chat.User, Content: "q3"}, {Role: chat.Assistant, Content: "partial"},
		{Role: chat.User, Content: "q4"},
	}}
	if got.System != want.System || len(got.Messages) != len(want.Messages) {
		t.Fatalf("ChatConversation = %+v", got)
	}
	for i := range want.Messages {
		if got.Messages[i] != want.Messages[i] {
			t.Errorf("message %d = %+v, want %+v", i, got.Messages[i], want.Messages[i])
		}
	}
	if err := got.Validate(); err != nil {
		t.Errorf("engine rejects the conversation: %v", err)
	}
}

func TestSamplingParams(t *testing.T) {
	base := sample.DefaultParams()
	if got := SamplingParams(base, history.Sampling{}); got != base {
		t.Errorf("empty sampling changed the params: %+v", got)
	}
	s := history.Sampling{Temperature: history.Ptr(0.0), TopK: history.Ptr(5), TopP: history.Ptr(0.5), MinP: history.Ptr(0.1),
		RepeatPenalty: history.Ptr(1.3), RepeatLastN: history.Ptr(-1), PresencePenalty: history.Ptr(0.25),
		FrequencyPenalty: history.Ptr(-0.5), Seed: history.Ptr(int64(99))}
	got := SamplingParams(base, s)
	want := sample.Params{Temperature: 0, TopK: 5, TopP: 0.5, MinP: 0.1, RepeatPenalty: 1.3, RepeatLastN: -1,
		PresencePenalty: 0.25, FrequencyPenalty: -0.5, Seed: 99}
	if got != want {
		t.Errorf("SamplingParams = %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
}
