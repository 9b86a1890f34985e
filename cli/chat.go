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
	store, err := a.History()
	if err != nil {
		return err
	}
	if f.conversation != "" {
		if _, err := store.Conversation(ctx, f.conversation); err != nil {
			return fmt.Errorf("conversation %s: %w", f.conversation, err)
		}
	}
	f.modelFlags.context = f.ctxLen
	lm, err := f.load()
	if err != nil {
		return err
	}
	defer lm.Close()
	c, err := a.NewChat(lm, f.ctxLen)
	if err != nil {
		return err
	}
	opts := app.ReplyOptions{Policy: policy}
	if f.maxTokens > 0 {
		opts.Sampling.MaxTokens = history.Ptr(f.maxTokens)
	}
	if f.hasTemp {
		opts.Sampling.Temperature = history.Ptr(float64(f.temp))
	}
	if f.hasSeed {
		opts.Sampling.Seed = history.Ptr(f.seed)
	}
	convID := f.conversation
	if convID == "" {
		var sys *string
		if f.hasSystem {
			sys = &f.system
		}
		conv, err := c.StartConversation(ctx, f.persona, sys)
		if err != nil {
			return err
		}
		convID = conv.ID
	}
	if f.message != "" {
		return chatOnce(ctx, env, c, convID, f.message, opts, f.asJSON)
	}
	return chatInteractive(ctx, env, c, convID, opts)
}

// chatOnce sends one message and prints the reply.
func chatOnce(ctx context.Context, env *Env, c *app.Chat, convID, message string, opts app.ReplyOptions, asJSON bool) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	var onEvent func(app.ReplyEvent)
	if !asJSON {
		onEvent = func(e app.ReplyEvent) { io.WriteString(env.Stdout, e.Text) }
	}
	res, err := c.Send(ctx, convID, message, opts, onEvent)
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
func chatInteractive(ctx context.Context, env *Env, c *app.Chat, convID string, opts app.ReplyOptions) error {
	fmt.Fprintf(env.Stderr, "Chatting with %s (%s; %s). Conversation %s.\n", c.ModelName(), c.Model().BackendNote, c.Format().Describe(), convID)
	if w := c.Format().Warning(); w != "" {
		fmt.Fprintln(env.Stderr, "Warning:", w)
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
		res, err := c.Send(replyCtx, convID, line, opts, func(e app.ReplyEvent) { io.WriteString(env.Stdout, e.Text) })
		close(done)
		cancel()
		fmt.Fprintln(env.Stdout)
		if err != nil {
			if errors.Is(err, chat.ErrContextFull) {
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
