package session

import (
	"context"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine/chat"
)

func TestContinueGoesOnAsIfNeverStopped(t *testing.T) {
	m, tok := chatModel(t)
	ctx := context.Background()
	for _, format := range []chat.Format{chat.Llama2(), chat.PlainCompletion()} {
		t.Run(format.Style.String(), func(t *testing.T) {
			s, err := New(m, tok, format, 512)
			if err != nil {
				t.Fatal(err)
			}
			conv := conversation("Write about the sea.")
			whole, err := s.Reply(ctx, conv, greedy(12), nil)
			if err != nil {
				t.Fatal(err)
			}
			part, err := s.Reply(ctx, conv, greedy(5), nil)
			if err != nil {
				t.Fatal(err)
			}
			cont := conv
			cont.Messages = append(cont.Messages, chat.Message{Role: chat.Assistant, Content: part.Text})
			var streamed strings.Builder
			more, err := s.Continue(ctx, cont, greedy(7), func(e Event) { streamed.WriteString(e.Text) })
			if err != nil {
				t.Fatal(err)
			}
			if part.Text+more.Text != whole.Text || streamed.String() != more.Text {
				t.Fatalf("%q + %q, want %q", part.Text, more.Text, whole.Text)
			}
			if more.Stats.PromptEvaluated > 2 {
				t.Errorf("continuing evaluated %d prompt tokens: the cache was not reused", more.Stats.PromptEvaluated)
			}

			// From text alone (another session, say after a restart) it
			// still continues the reply rather than starting a new turn.
			fresh, err := New(m, tok, format, 512)
			if err != nil {
				t.Fatal(err)
			}
			again, err := fresh.Continue(ctx, cont, greedy(3), nil)
			if err != nil || again.Stats.PromptTokens <= len(tok.Encode(part.Text, false, false)) {
				t.Fatalf("continue in a fresh session: %+v, %v", again, err)
			}

			// Measure agrees with the prompt Reply builds.
			p, err := s.Measure(conv, greedy(12))
			if err != nil || len(p.Tokens) != whole.Stats.PromptTokens {
				t.Errorf("Measure: %d tokens (%v), Reply's prompt %d", len(p.Tokens), err, whole.Stats.PromptTokens)
			}
		})
	}
}
