package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/sample"
	"github.com/llamadesk/llamadesk/engine/session"
	"github.com/llamadesk/llamadesk/history"
)

// saveEvery is how often a growing reply is written to the history, so that
// a crash loses at most this much of it.
const saveEvery = 250 * time.Millisecond

// ReplyEvent is one step of a reply being generated for a conversation.
type ReplyEvent struct {
	ConversationID string
	// MessageID is the assistant message being written.
	MessageID int64
	// Text is the new text (whole UTF-8 characters; may be empty).
	Text string
	// Done is set on the last event, with Result or Err.
	Done   bool
	Result *ReplyResult
	Err    error
}

// ReplyResult is a finished reply and how it went.
type ReplyResult struct {
	ConversationID string        `json:"conversation_id"`
	MessageID      int64         `json:"message_id"`
	Reply          string        `json:"reply"`
	StopReason     string        `json:"stop_reason"`
	Stats          session.Stats `json:"stats"`
	Backend        string        `json:"backend"`
	// Dropped lists the indices of messages left out to fit the context, and
	// DroppedNote says so in words ("" when nothing was dropped).
	Dropped     []int  `json:"dropped,omitempty"`
	DroppedNote string `json:"dropped_note,omitempty"`
	Format      string `json:"format"`
}

// ReplyOptions adjust one reply beyond the conversation's settings.
type ReplyOptions struct {
	// Sampling overrides the conversation's sampling settings where set.
	Sampling history.Sampling
	// Policy decides what is dropped when the conversation does not fit.
	Policy chat.Policy
}

// Chat runs the conversations of the history on one loaded model. One reply
// is generated at a time; the model's cache is reused between turns of the
// same conversation (and any common prefix of others).
type Chat struct {
	app   *App
	model *LoadedModel
	mu    sync.Mutex
	sess  *session.Session
}

// NewChat prepares a chat on a loaded model with a context of ctxLen tokens
// (0: the model's training context). The chat format follows the file (see
// engine/chat.DetectNamed).
func (a *App) NewChat(m *LoadedModel, ctxLen int) (*Chat, error) {
	f := chat.DetectNamed(m.File, m.Path)
	s, err := session.NewWith(m.Model, m.Tokenizer, f, m.StateOptions(ctxLen))
	if err != nil {
		return nil, err
	}
	return &Chat{app: a, model: m, sess: s}, nil
}

// Model returns the chat's loaded model.
func (c *Chat) Model() *LoadedModel { return c.model }

// Format returns the chat format in use, for display ("file's chat_template (Llama 2)").
func (c *Chat) Format() chat.Format { return c.sess.Format() }

// ModelName is the name conversations record for the chat's model: the file name.
func (c *Chat) ModelName() string { return filepath.Base(c.model.Path) }

// Send adds text as the person's next message in the conversation and
// generates the reply, calling onEvent (which may be nil) from the calling
// goroutine as it grows. Cancelling ctx stops the reply and keeps its text.
func (c *Chat) Send(ctx context.Context, conversationID, text string, opts ReplyOptions, onEvent func(ReplyEvent)) (*ReplyResult, error) {
	store, err := c.app.History()
	if err != nil {
		return nil, err
	}
	if _, err := store.AppendUser(ctx, conversationID, text); err != nil {
		return nil, fmt.Errorf("save message: %w", err)
	}
	msg, err := store.StartAssistant(ctx, conversationID, c.ModelName())
	if err != nil {
		return nil, fmt.Errorf("start reply: %w", err)
	}
	return c.generate(ctx, store, msg, opts, onEvent)
}

// Regenerate keeps the reply messageID and writes a new version of it.
func (c *Chat) Regenerate(ctx context.Context, messageID int64, opts ReplyOptions, onEvent func(ReplyEvent)) (*ReplyResult, error) {
	store, err := c.app.History()
	if err != nil {
		return nil, err
	}
	msg, err := store.Regenerate(ctx, messageID, c.ModelName())
	if err != nil {
		return nil, fmt.Errorf("regenerate: %w", err)
	}
	return c.generate(ctx, store, msg, opts, onEvent)
}

// Edit keeps the person's message messageID, adds text as its new version
// and generates a reply to it.
func (c *Chat) Edit(ctx context.Context, messageID int64, text string, opts ReplyOptions, onEvent func(ReplyEvent)) (*ReplyResult, error) {
	store, err := c.app.History()
	if err != nil {
		return nil, err
	}
	edited, err := store.EditUser(ctx, messageID, text)
	if err != nil {
		return nil, fmt.Errorf("edit message: %w", err)
	}
	msg, err := store.StartAssistant(ctx, edited.ConversationID, c.ModelName())
	if err != nil {
		return nil, fmt.Errorf("start reply: %w", err)
	}
	return c.generate(ctx, store, msg, opts, onEvent)
}

// generate writes the reply msg (empty, streaming) of its conversation.
func (c *Chat) generate(ctx context.Context, store *history.Store, msg history.Message, opts ReplyOptions, onEvent func(ReplyEvent)) (res *ReplyResult, err error) {
	if onEvent == nil {
		onEvent = func(ReplyEvent) {}
	}
	// The history writes use their own context: a cancelled reply must still be saved.
	saveCtx := context.WithoutCancel(ctx)
	finish := func(f history.Finish) {
		if ferr := store.FinishAssistant(saveCtx, msg.ID, f); ferr != nil && err == nil {
			err = fmt.Errorf("save reply: %w", ferr)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("generation failed: %v", p)
		}
		if err != nil {
			onEvent(ReplyEvent{ConversationID: msg.ConversationID, MessageID: msg.ID, Done: true, Err: err})
		}
	}()

	th, err := store.Thread(saveCtx, msg.ConversationID)
	if err != nil {
		finish(history.Finish{Status: history.StatusError, Error: err.Error()})
		return nil, err
	}
	conv := ChatConversation(th)
	sampling := th.Conversation.Sampling.Overlay(opts.Sampling)
	sopts := session.Options{
		Sampling: SamplingParams(sample.DefaultParams(), sampling),
		Stop:     sampling.Stop,
		Policy:   opts.Policy,
	}
	if sampling.MaxTokens != nil {
		sopts.MaxTokens = *sampling.MaxTokens
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	var text strings.Builder
	lastSave := time.Now()
	reply, err := c.sess.Reply(ctx, conv, sopts, func(e session.Event) {
		text.WriteString(e.Text)
		if time.Since(lastSave) >= saveEvery {
			// A failed intermediate save is retried at the next one and at the end.
			_ = store.UpdateContent(saveCtx, msg.ID, text.String())
			lastSave = time.Now()
		}
		onEvent(ReplyEvent{ConversationID: msg.ConversationID, MessageID: msg.ID, Text: e.Text})
	})
	if err != nil {
		finish(history.Finish{Content: text.String(), Status: history.StatusError, Error: err.Error()})
		return nil, err
	}
	res = &ReplyResult{
		ConversationID: msg.ConversationID, MessageID: msg.ID, Reply: reply.Text,
		StopReason: string(reply.Reason), Stats: reply.Stats, Backend: c.model.Model.Backends()[0].Name(),
		Dropped: reply.Prompt.Dropped, Format: c.sess.Format().Describe(),
	}
	if len(reply.Prompt.Dropped) > 0 {
		res.DroppedNote = reply.Prompt.Describe()
	}
	status := history.StatusDone
	if reply.Reason == session.StopCancelled {
		status = history.StatusCancelled
	}
	finish(history.Finish{
		Content: reply.Text, Status: status, TokenCount: len(reply.Tokens),
		Stats: history.Stats{
			PromptTokens: reply.Stats.PromptEvaluated, PromptTokensPerSecond: reply.Stats.PromptTokensPerS,
			GeneratedTokens: reply.Stats.GeneratedTokens, TokensPerSecond: reply.Stats.GenTokensPerS,
			TimeToFirstTokenMs: reply.Stats.TimeToFirstMS, DurationMs: reply.Stats.TotalMS,
			StopReason: string(reply.Reason), Backend: res.Backend, DroppedTurns: reply.Prompt.DroppedTurns,
		},
	})
	if err != nil {
		return nil, err
	}
	onEvent(ReplyEvent{ConversationID: msg.ConversationID, MessageID: msg.ID, Done: true, Result: res})
	return res, nil
}

// ErrNoPersona is returned when a named persona does not exist.
var ErrNoPersona = errors.New("no such persona")

// StartConversation creates a conversation with a persona (by name; "" for
// none) or an explicit system prompt (when systemPrompt is not nil), for the
// chat's model.
func (c *Chat) StartConversation(ctx context.Context, persona string, systemPrompt *string) (history.Conversation, error) {
	store, err := c.app.History()
	if err != nil {
		return history.Conversation{}, err
	}
	if persona != "" {
		if _, err := store.Persona(ctx, persona); err != nil {
			if errors.Is(err, history.ErrNotFound) {
				return history.Conversation{}, fmt.Errorf("%w %q", ErrNoPersona, persona)
			}
			return history.Conversation{}, err
		}
	}
	return store.CreateConversation(ctx, history.NewConversation{Persona: persona, SystemPrompt: systemPrompt, Model: c.ModelName()})
}
