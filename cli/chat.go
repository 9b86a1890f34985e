package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/history"
)

// chatFlags are the flags of `llamadesk chat`.
type chatFlags struct {
	modelFlags
	persona      string
	system       string
	hasSystem    bool
	conversation string
	message      string
	maxTokens    int
	temp         float32
	hasTemp      bool
	seed         int64
	hasSeed      bool
	ctxLen       int
	policy       string
	asJSON       bool
}

func runChat(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "chat")
	var f chatFlags
	f.register(fs)
	fs.StringVar(&f.persona, "persona", "", "persona `name` for a new conversation")
	fs.Func("system", "system prompt `text` for a new conversation (instead of a persona's)", func(s string) error {
		f.system, f.hasSystem = s, true
		return nil
	})
	fs.StringVar(&f.conversation, "conversation", "", "continue the conversation with this `id`")
	fs.StringVar(&f.message, "message", "", "send this one message, print the reply and exit")
	fs.IntVar(&f.maxTokens, "n", 0, "most tokens in a reply (0: the conversation's setting, else until the model stops)")
	fs.Func("temp", "temperature for this reply (0: greedy)", func(s string) error {
		var v float32
		if err := (float32Flag{&v}).Set(s); err != nil {
			return err
		}
		f.temp, f.hasTemp = v, true
		return nil
	})
	fs.Func("seed", "random seed for this reply", func(s string) error {
		_, err := fmt.Sscan(s, &f.seed)
		f.hasSeed = err == nil
		return err
	})
	fs.IntVar(&f.ctxLen, "ctx", 0, "context size in tokens (0: the model's)")
	fs.StringVar(&f.policy, "overflow", "keep-system-drop-oldest", "what to do when the conversation outgrows the context: keep-system-drop-oldest, truncate-middle or stop-at-limit")
	fs.BoolVar(&f.asJSON, "json", false, "with --message: print {conversation_id, reply, stats} as JSON")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	policy, err := chat.ParsePolicy(f.policy)
	if err != nil {
		return usageError("%v", err)
	}
	if f.conversation != "" && (f.persona != "" || f.hasSystem) {
		return usageError("--conversation continues a conversation with its own persona; drop --persona/--system")
	}
	if f.asJSON && f.message == "" {
		return usageError("--json needs --message")
	}
	a, err := app.Open(env.Getenv)
	if err != nil {
		return err
	}
	defer a.Close()
	c := a.Chat()
	if f.conversation != "" {
		if _, err := c.Conversation(ctx, f.conversation); err != nil {
			return err
		}
	} else if f.persona != "" {
		if _, err := a.Personas().Get(ctx, f.persona); errors.Is(err, history.ErrNotFound) {
			return fmt.Errorf("%w %q", app.ErrNoPersona, f.persona)
		} else if err != nil {
			return err
		}
	}
	f.modelFlags.context = f.ctxLen
	lm, err := f.load()
	if err != nil {
		return err
	}
	r, err := app.NewLocalResponder(lm, f.ctxLen)
	if err != nil {
		lm.Close()
		return err
	}
	c.SetResponder(r) // closed with the App
	// Another process's window may share the database, but not this
	// model: a reply here never has to wait; Queue is for form's sake.
	opts := app.ReplyOptions{Policy: policy, Queue: true}
	if f.maxTokens > 0 {
		opts.Sampling.MaxTokens = history.Ptr(f.maxTokens)
	}
	if f.hasTemp {
		opts.Sampling.Temperature = history.Ptr(float64(f.temp))
	}
	if f.hasSeed {
		opts.Sampling.Seed = history.Ptr(f.seed)
	}
	t := chatTarget{convID: f.conversation, newConv: history.NewConversation{Persona: f.persona}}
	if f.hasSystem {
		t.newConv.SystemPrompt = &f.system
	}
	if f.message != "" {
		return chatOnce(ctx, env, c, &t, f.message, opts, f.asJSON)
	}
	return chatInteractive(ctx, env, c, r, &t, opts)
}

// chatTarget is the conversation the chat writes in: an existing one, or
// one created with the first message.
type chatTarget struct {
	convID  string
	newConv history.NewConversation
}

// send sends a message to the target, creating its conversation first
// when there is none yet.
func (t *chatTarget) send(ctx context.Context, c *app.Chat, text string, opts app.ReplyOptions, onEvent func(app.ReplyEvent)) (*app.ReplyResult, error) {
	if t.convID != "" {
		return c.Send(ctx, t.convID, text, opts, onEvent)
	}
	res, err := c.Start(ctx, t.newConv, text, opts, onEvent)
	if res != nil {
		t.convID = res.ConversationID
	}
	return res, err
}

// printText writes the text of a reply's events.
func printText(w io.Writer) func(app.ReplyEvent) {
	return func(e app.ReplyEvent) {
		if e.Kind == app.EventText {
			io.WriteString(w, e.Text)
		}
	}
}

// chatOnce sends one message and prints the reply.
func chatOnce(ctx context.Context, env *Env, c *app.Chat, t *chatTarget, message string, opts app.ReplyOptions, asJSON bool) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	var onEvent func(app.ReplyEvent)
	if !asJSON {
		onEvent = printText(env.Stdout)
	}
	res, err := t.send(ctx, c, message, opts, onEvent)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(env.Stdout, res)
	}
	fmt.Fprintln(env.Stdout)
	printReplyStats(env.Stderr, res)
	return nil
}

// chatInteractive is the terminal chat: each line is a message; replies
// stream; Ctrl-C stops a reply; Ctrl-D (end of input) leaves.
func chatInteractive(ctx context.Context, env *Env, c *app.Chat, r app.Responder, t *chatTarget, opts app.ReplyOptions) error {
	info := r.Info()
	where := "A new conversation starts with your first message."
	if t.convID != "" {
		where = "Conversation " + t.convID + "."
	}
	fmt.Fprintf(env.Stderr, "Chatting with %s (%s; %s). %s\n", info.Model, info.Backend, info.Format, where)
	if info.Warning != "" {
		fmt.Fprintln(env.Stderr, "Warning:", info.Warning)
	}
	fmt.Fprintln(env.Stderr, "Type a message and press Enter. Ctrl-C stops a reply; Ctrl-D leaves.")
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt)
	defer signal.Stop(interrupts)

	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(env.Stdin)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		readErr <- sc.Err()
		close(lines)
	}()
	for {
		fmt.Fprint(env.Stderr, "\n> ")
		var line string
		select {
		case <-ctx.Done():
			return nil
		case <-interrupts:
			fmt.Fprintln(env.Stderr, "\n(Ctrl-D leaves)")
			continue
		case l, ok := <-lines:
			if !ok {
				fmt.Fprintln(env.Stderr)
				return <-readErr
			}
			line = l
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		replyCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			select {
			case <-interrupts:
				cancel()
			case <-done:
			}
		}()
		wasNew := t.convID == ""
		res, err := t.send(replyCtx, c, line, opts, printText(env.Stdout))
		if wasNew && t.convID != "" {
			defer fmt.Fprintf(env.Stderr, "The conversation was saved as %s.\n", t.convID)
		}
		close(done)
		cancel()
		fmt.Fprintln(env.Stdout)
		if err != nil {
			var tooLong *app.TooLongError
			switch {
			case errors.As(err, &tooLong):
				fmt.Fprintln(env.Stderr, "Not sent (nothing was saved):", err)
				continue
			case errors.Is(err, chat.ErrContextFull):
				fmt.Fprintln(env.Stderr, "The conversation no longer fits the context:", err)
				continue
			}
			return err
		}
		printReplyStats(env.Stderr, res)
	}
}

// printReplyStats prints a reply's numbers on one line.
func printReplyStats(w io.Writer, r *app.ReplyResult) {
	s := r.Stats
	fmt.Fprintf(w, "[%s · %d tokens · %.1f tokens/s · first token %.0f ms · prompt %d new of %d, %.1f tokens/s]\n",
		r.StopReason, s.GeneratedTokens, s.GenTokensPerS, s.TimeToFirstMS, s.PromptEvaluated, s.PromptTokens, s.PromptTokensPerS)
	if r.DroppedNote != "" {
		fmt.Fprintln(w, "Note:", r.DroppedNote)
	}
}
