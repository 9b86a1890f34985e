package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
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
	hasMessage   bool
	maxTokens    *int
	temp         *float64
	seed         *int64
	ctxLen       *int
	policy       string
	asJSON       bool
}

// unlimited is the token limit -n -1 asks for: none but the end of text
// and the context.
const unlimited = app.NoTokenLimit

// parseChatFlags parses and checks the flags of `llamadesk chat` (all that
// can be checked without the model), before anything is opened or saved.
func parseChatFlags(env *Env, args []string) (*chatFlags, app.ReplyOptions, error) {
	fs := newFlagSet(env, "chat")
	f := &chatFlags{modelFlags: modelFlags{env: env}}
	f.register(fs)
	fs.Lookup("model").Usage = "the model: a GGUF `file`, a catalog name, a file of the models folder, or a remote server's model as remote:NAME/MODEL (required unless the persona or the conversation names one)"
	fs.StringVar(&f.persona, "persona", "", "persona `name` for a new conversation (its preferred model is used when --model is absent)")
	fs.Func("system", "system prompt `text` for a new conversation (instead of a persona's)", func(s string) error {
		f.system, f.hasSystem = s, true
		return nil
	})
	fs.StringVar(&f.conversation, "conversation", "", "continue the conversation with this `id` (its model is used when --model is absent)")
	fs.Func("message", "send this one `message`, print the reply and exit", func(s string) error {
		f.message, f.hasMessage = s, true
		return nil
	})
	fs.Var(optionalInt{&f.maxTokens}, "n", "the most tokens in a reply, `N` ≥ 1; -1: until the model stops or the context is full (default: the conversation's setting)")
	fs.Var(optionalFloat{&f.temp}, "temp", "temperature `T` for this reply, 0 to 10 (0: greedy)")
	fs.Var(optionalInt64{&f.seed}, "seed", "random `seed` for this reply (default: a fresh one, shown with the reply)")
	fs.Var(optionalInt{&f.ctxLen}, "ctx", "context size in `tokens`, at most the model's training context (default: that)")
	fs.StringVar(&f.policy, "overflow", "", "what to drop when the conversation outgrows the context, saved with it: keep-system-drop-oldest (the default), truncate-middle or stop-at-limit")
	fs.BoolVar(&f.asJSON, "json", false, "with --message: print {conversation_id, reply, stats, seed} as JSON")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return nil, app.ReplyOptions{}, err
	}
	opts, err := f.replyOptions()
	if err != nil {
		return nil, app.ReplyOptions{}, err
	}
	return f, opts, nil
}

func runChat(ctx context.Context, env *Env, args []string) error {
	f, opts, err := parseChatFlags(env, args)
	if err != nil {
		return err
	}
	a, err := app.Open(env.Getenv)
	if err != nil {
		return err
	}
	defer a.Close()
	c := a.Chat()
	var conv history.Conversation
	preferred := ""
	if f.conversation != "" {
		if conv, err = c.Conversation(ctx, f.conversation); err != nil {
			return err
		}
		preferred = conv.Model
	} else if f.persona != "" {
		p, err := a.Personas().Get(ctx, f.persona)
		if errors.Is(err, history.ErrNotFound) {
			return fmt.Errorf("%w %q", app.ErrNoPersona, f.persona)
		} else if err != nil {
			return err
		}
		preferred = p.Model
	}
	if f.model == "" {
		if preferred == "" {
			return usageError("--model is required (a file, a catalog name such as llama-2-7b-chat:Q4_K_M, or a file of the models folder), unless the persona or the conversation names one")
		}
		f.model = preferred
	}
	if !strings.HasPrefix(f.model, app.RemotePrefix) { // a remote server has its own context
		if err := f.checkContext(); err != nil {
			return err
		}
	}
	ctxLen := 0
	if f.ctxLen != nil {
		ctxLen = *f.ctxLen
	}
	r, err := chatResponder(a, f, ctxLen) // a local model, or remote:NAME/MODEL
	if err != nil {
		return err
	}
	c.SetResponder(r) // closed with the App
	t := chatTarget{convID: f.conversation, newConv: history.NewConversation{Persona: f.persona}}
	if f.hasSystem {
		t.newConv.SystemPrompt = &f.system
	}
	if f.hasMessage {
		return chatOnce(ctx, env, c, &t, f.message, opts, f.asJSON)
	}
	return chatInteractive(ctx, env, a, c, r, &t, opts)
}

// replyOptions checks the flags that need no model and returns the reply
// options they ask for: every wrong argument is refused here, before
// anything is opened, loaded or saved (exit status 2).
func (f *chatFlags) replyOptions() (app.ReplyOptions, error) {
	// Another process's window may share the database, but not this
	// model: a reply here never has to wait; Queue is for form's sake.
	opts := app.ReplyOptions{Queue: true}
	if f.policy != "" {
		p, err := chat.ParsePolicy(f.policy)
		if err != nil {
			return opts, usageError("--overflow: %v", err)
		}
		opts.Policy, opts.StorePolicy = p, true
	}
	switch {
	case f.conversation != "" && (f.persona != "" || f.hasSystem):
		return opts, usageError("--conversation continues a conversation with its own persona; drop --persona/--system")
	case f.asJSON && !f.hasMessage:
		return opts, usageError("--json needs --message")
	case f.hasMessage && strings.TrimSpace(f.message) == "":
		return opts, usageError("--message is empty: nothing to send")
	case f.ctxLen != nil && *f.ctxLen <= 0:
		return opts, usageError("--ctx %d: want a context size of 1 token or more", *f.ctxLen)
	}
	if f.maxTokens != nil {
		if err := checkMaxTokens(*f.maxTokens); err != nil {
			return opts, err
		}
		n := *f.maxTokens
		if n == -1 {
			n = unlimited
		}
		opts.Sampling.MaxTokens = history.Ptr(n)
	}
	opts.Sampling.Temperature = f.temp
	opts.Sampling.Seed = f.seed
	if err := opts.Sampling.Validate(); err != nil {
		return opts, usageError("%v", strings.TrimPrefix(err.Error(), history.ErrInvalid.Error()+": "))
	}
	model := f.model
	if model == "" {
		f.model = "-" // the persona's or the conversation's, chosen later; check the rest now
	}
	_, err := f.loadOptions()
	f.model = model
	return opts, err
}

// checkContext refuses a --ctx above the context the model was trained on:
// Llamadesk has no context scaling option, and past it a model only
// produces noise. It reads the model's metadata, not its weights.
func (f *chatFlags) checkContext() error {
	if f.ctxLen == nil {
		return nil
	}
	path, err := modelPath(f.env, f.model)
	if err != nil {
		return err
	}
	info, err := app.DescribeModel(path)
	if err != nil {
		return err
	}
	if *f.ctxLen > info.ContextLength {
		return usageError("--ctx %d is above the %d tokens %s was trained on (a larger context needs RoPE scaling, which Llamadesk does not offer)",
			*f.ctxLen, info.ContextLength, terminalSafe(filepath.Base(path)))
	}
	f.modelFlags.context = *f.ctxLen
	return nil
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

// chatSession is the state of the interactive chat.
type chatSession struct {
	env  *Env
	app  *app.App
	chat *app.Chat
	t    *chatTarget
	opts app.ReplyOptions
}

// chatInteractive is the terminal chat: each line (or """ block) is a
// message, lines starting with / are commands (/help lists them); replies
// stream; Ctrl-C stops a reply; Ctrl-D (end of input) or /bye leaves.
func chatInteractive(ctx context.Context, env *Env, a *app.App, c *app.Chat, r app.Responder, t *chatTarget, opts app.ReplyOptions) error {
	info := r.Info()
	where := "A new conversation starts with your first message."
	if t.convID != "" {
		where = "Conversation " + t.convID + "."
	}
	about := terminalSafe(info.Backend)
	if info.Format != "" {
		about += "; " + terminalSafe(info.Format)
	}
	fmt.Fprintf(env.Stderr, "Chatting with %s (%s). %s\n", terminalSafe(info.Model), about, where)
	if info.Warning != "" {
		fmt.Fprintln(env.Stderr, "Warning:", terminalSafe(info.Warning))
	}
	fmt.Fprintln(env.Stderr, `Type a message and press Enter ("""  for several lines; /help for commands). Ctrl-C stops a reply; Ctrl-D or /bye leaves.`)
	s := &chatSession{env: env, app: a, chat: c, t: t, opts: opts}
	defer func() {
		if t.convID != "" {
			fmt.Fprintf(env.Stderr, "The conversation is saved as %s (continue it with --conversation %s).\n", t.convID, t.convID)
		}
	}()
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
	var in inputAssembler
	for {
		fmt.Fprint(env.Stderr, "\n"+in.prompt())
		var text string
		var block bool
		for done := false; !done; {
			select {
			case <-ctx.Done():
				return nil
			case <-interrupts:
				fmt.Fprintln(env.Stderr, "\n(Ctrl-D or /bye leaves)")
				fmt.Fprint(env.Stderr, in.prompt())
			case l, ok := <-lines:
				if !ok {
					if in.pending() {
						fmt.Fprintln(env.Stderr, "\n(the input ended inside a \"\"\" block: that message was not sent)")
					}
					fmt.Fprintln(env.Stderr)
					return <-readErr
				}
				if text, block, done = in.add(l); !done {
					fmt.Fprint(env.Stderr, in.prompt())
				}
			}
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		if name, arg, ok := parseCommand(text); ok && !block {
			leave, err := s.command(ctx, name, arg)
			if err != nil {
				fmt.Fprintln(env.Stderr, terminalSafeLines(err.Error()))
			}
			if leave {
				return nil
			}
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
		res, err := t.send(replyCtx, c, text, s.opts, printText(env.Stdout))
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
			case ctx.Err() == nil:
				// A remote server down, a model that failed: the chat goes on
				// (the failed reply is saved as such; send again to retry).
				fmt.Fprintln(env.Stderr, "The reply failed:", terminalSafeLines(err.Error()))
				continue
			}
			return err
		}
		printReplyStats(env.Stderr, res)
	}
}

// command runs one of the interactive chat's slash commands; leave is set
// by /bye.
func (s *chatSession) command(ctx context.Context, name, arg string) (leave bool, err error) {
	w := s.env.Stderr
	switch name {
	case "/help", "/?":
		fmt.Fprint(w, chatHelp())
	case "/bye", "/exit", "/quit":
		return true, nil
	case "/clear":
		if s.t.convID != "" {
			fmt.Fprintf(w, "Conversation %s is saved; the next message starts a new one.\n", s.t.convID)
		}
		s.t.convID = ""
	case "/system":
		if arg == "" {
			return false, errors.New("/system needs the system prompt: /system TEXT")
		}
		if s.t.convID == "" {
			s.t.newConv.Persona, s.t.newConv.SystemPrompt = "", &arg
			fmt.Fprintln(w, "The next conversation starts with this system prompt.")
			return false, nil
		}
		store, err := s.app.History()
		if err != nil {
			return false, err
		}
		conv, err := store.Conversation(ctx, s.t.convID)
		if err != nil {
			return false, err
		}
		if err := store.UpdateSettings(ctx, conv.ID, history.ConversationSettings{SystemPrompt: arg, Model: conv.Model, Sampling: conv.Sampling}); err != nil {
			return false, err
		}
		fmt.Fprintln(w, "The system prompt is set for the next replies.")
	case "/persona":
		if arg == "" {
			return false, errors.New("/persona needs a persona's name: /persona NAME (see `llamadesk persona list`)")
		}
		p, err := s.app.Personas().Get(ctx, arg)
		if errors.Is(err, history.ErrNotFound) {
			return false, fmt.Errorf("%w %q (see `llamadesk persona list`)", app.ErrNoPersona, arg)
		}
		if err != nil {
			return false, err
		}
		if s.t.convID != "" {
			fmt.Fprintf(w, "Conversation %s is saved. ", s.t.convID)
		}
		s.t.convID = ""
		s.t.newConv = history.NewConversation{Persona: p.Name}
		fmt.Fprintf(w, "The next message starts a conversation with %s.\n", terminalSafe(p.Name))
	case "/save":
		if s.t.convID == "" {
			return false, errors.New("nothing to save yet: the conversation starts with your first message")
		}
		if arg == "" {
			fmt.Fprintf(w, "Every message is saved as it is written: this is conversation %s (continue it later with `llamadesk chat --conversation %s`; export it with /save FILE).\n", s.t.convID, s.t.convID)
			return false, nil
		}
		format := history.FormatMarkdown
		if ext := filepath.Ext(arg); ext != "" {
			if format, err = history.ParseFormat(ext); err != nil {
				return false, err
			}
		}
		if err := s.chat.ExportFile(ctx, arg, s.t.convID, format); err != nil {
			return false, err
		}
		fmt.Fprintf(w, "Wrote %s.\n", terminalSafe(arg))
	default:
		return false, fmt.Errorf("unknown command %s (/help lists them; to send a message starting with /, put it in a \"\"\" block)", terminalSafe(name))
	}
	return false, nil
}

// printReplyStats prints a reply's numbers on one line, then which turns
// were left out to fit the context, if any.
func printReplyStats(w io.Writer, r *app.ReplyResult) {
	s := r.Stats
	seed := ""
	if r.Seed != nil {
		seed = fmt.Sprintf(" · seed %d", *r.Seed)
	}
	fmt.Fprintf(w, "[%s · %d tokens · %.1f tokens/s · first token %.0f ms · prompt %d new of %d, %.1f tokens/s%s]\n",
		r.StopReason, s.GeneratedTokens, s.GenTokensPerS, s.TimeToFirstMS, s.PromptEvaluated, s.PromptTokens, s.PromptTokensPerS, seed)
	if r.DroppedNote != "" {
		which := describeDropped(r.Dropped)
		if which != "" {
			verb := " was"
			if strings.HasPrefix(which, "turns") {
				verb = " were"
			}
			which = which + verb + " left out of the prompt. "
		}
		fmt.Fprintln(w, "Note: "+which+r.DroppedNote)
	}
}
