package app_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// TestContinueOnlyWhereTheResponderCan checks that a reply cut short at
// its token limit is continued by a responder that can (the local engine)
// and refused, with nothing saved and no event, by one that cannot (a
// remote model, here our own server on a loopback port): the reply keeps
// its text, status and stats to the last byte.
func TestContinueOnlyWhereTheResponderCan(t *testing.T) {
	_, url := serveModels(t, "")
	ctx := context.Background()
	tests := []struct {
		name      string
		responder func(t *testing.T, a *app.App) app.Responder
		can       bool
	}{
		{"local", func(t *testing.T, a *app.App) app.Responder {
			lm, err := app.LoadModel(testenv.Path(t, "models", "chat-q4_k_m.gguf"), app.LoadOptions{Backend: "cpu", Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			r, err := app.NewLocalResponder(lm, 512)
			if err != nil {
				lm.Close()
				t.Fatal(err)
			}
			return r
		}, true},
		{"remote", func(t *testing.T, a *app.App) app.Responder {
			if _, err := a.Remotes().Add("box", url, "", false); err != nil {
				t.Fatal(err)
			}
			r, err := a.Remotes().Responder("remote:box/chat-q4_k_m.gguf")
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := openTestApp(t)
			r := tt.responder(t, a)
			if got := r.Info().CanContinue; got != tt.can {
				t.Fatalf("Info().CanContinue = %v, want %v", got, tt.can)
			}
			c := a.Chat()
			c.SetResponder(r)
			opts := app.ReplyOptions{Sampling: history.Sampling{Temperature: history.Ptr(0.0), MaxTokens: history.Ptr(4)}}
			part, err := c.Start(ctx, history.NewConversation{}, "Tell me a story.", opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			th, err := c.Open(ctx, part.ConversationID)
			if err != nil {
				t.Fatal(err)
			}
			before := th.Messages[len(th.Messages)-1]
			if before.Status != history.StatusDone || before.Stats.StopReason != string(app.StopMaxTokens) || !app.CanContinue(before) {
				t.Fatalf("the reply cut at its token limit: %+v", before)
			}

			events := 0
			more, err := c.Continue(ctx, before.ID, opts, func(app.ReplyEvent) { events++ })
			th, terr := c.Open(ctx, part.ConversationID)
			if terr != nil {
				t.Fatal(terr)
			}
			after := th.Messages[len(th.Messages)-1]
			if tt.can {
				if err != nil || len(more.Reply) <= len(part.Reply) || after.Content != more.Reply || after.Status != history.StatusDone {
					t.Fatalf("continued: %+v, %v; saved %+v", more, err, after)
				}
				return
			}
			if !errors.Is(err, app.ErrCannotContinue) || more != nil {
				t.Fatalf("Continue: %+v, %v; want ErrCannotContinue", more, err)
			}
			if events != 0 {
				t.Errorf("the refused continuation sent %d events", events)
			}
			if !reflect.DeepEqual(after, before) {
				t.Errorf("the refused continuation changed the reply to\n%+v\nfrom\n%+v", after, before)
			}
			if len(c.Active()) != 0 {
				t.Errorf("active after the refusal: %+v", c.Active())
			}
		})
	}
}
