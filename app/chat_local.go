package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/sample"
	"github.com/llamadesk/llamadesk/engine/session"
	"github.com/llamadesk/llamadesk/history"
)

// LocalResponder is the Responder of a model loaded on this machine: the
// engine's session (engine/session) with its KV cache, reused between
// turns of the same conversation and for any common prefix of others.
type LocalResponder struct {
	model *LoadedModel
	// mu is held while a reply is generated: a session is used by one
	// goroutine at a time.
	mu   sync.Mutex
	sess *session.Session
	// trained is the model's training context.
	trained int
}

// NewLocalResponder prepares replies on a loaded model with a context of
// ctxLen tokens (0: the model's training context). The chat format follows
// the file (see engine/chat.DetectNamed). The responder owns m from now
// on: its Close closes m.
func NewLocalResponder(m *LoadedModel, ctxLen int) (*LocalResponder, error) {
	f := chat.DetectNamed(m.File, m.Path)
	s, err := m.NewSession(f, ctxLen)
	if err != nil {
		return nil, err
	}
	return &LocalResponder{model: m, sess: s, trained: m.Model.Config.ContextLen}, nil
}

// Model returns the loaded model.
func (r *LocalResponder) Model() *LoadedModel { return r.model }

// Format returns the chat format in use.
func (r *LocalResponder) Format() chat.Format { return r.sess.Format() }

// Info describes the model, its backend and its chat format.
func (r *LocalResponder) Info() ResponderInfo {
	return ResponderInfo{
		Model:       filepath.Base(r.model.Path),
		Backend:     r.model.BackendNote,
		Format:      r.sess.Format().Describe(),
		Warning:     r.sess.Format().Warning(),
		Context:     r.sess.ContextSize(),
		CanContinue: true,
	}
}

// options turns a request's settings into the session's.
func localOptions(req ReplyRequest) session.Options {
	o := session.Options{
		Sampling: SamplingParams(sample.DefaultParams(), req.Sampling),
		Stop:     req.Sampling.Stop,
		Policy:   req.Policy,
	}
	if req.Sampling.MaxTokens != nil {
		o.MaxTokens = *req.Sampling.MaxTokens
	}
	return o
}

// Respond generates the reply on the engine (see Responder).
func (r *LocalResponder) Respond(ctx context.Context, req ReplyRequest, onDelta func(Delta)) (*Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	opts := localOptions(req)
	onEvent := func(e session.Event) {
		n := 1
		if e.Token < 0 {
			n = 0 // text held back until the end, not a token
		}
		onDelta(Delta{Text: e.Text, Tokens: n})
	}
	var reply *session.Reply
	var err error
	if req.Continue {
		reply, err = r.sess.Continue(ctx, req.Conversation, opts, onEvent)
	} else {
		reply, err = r.sess.Reply(ctx, req.Conversation, opts, onEvent)
	}
	if err != nil {
		return nil, err
	}
	s := reply.Stats
	res := &Response{
		Text: reply.Text, StopReason: StopReason(reply.Reason), Tokens: len(reply.Tokens),
		Stats: ReplyStats{
			PromptTokens: s.PromptTokens, PromptEvaluated: s.PromptEvaluated, PromptTokensPerS: s.PromptTokensPerS,
			GeneratedTokens: s.GeneratedTokens, GenTokensPerS: s.GenTokensPerS,
			TimeToFirstMS: s.TimeToFirstMS, TotalMS: s.TotalMS,
		},
		Backend: r.model.Model.Backends()[0].Name(),
		Format:  r.sess.Format().Describe(),
	}
	if p := reply.Prompt; p.DroppedTurns > 0 {
		res.Dropped, res.DroppedTurns, res.DroppedNote = p.Dropped, p.DroppedTurns, p.Describe()
	}
	return res, nil
}

// Measure reports how req's prompt fits the context (see Measurer). It
// does not wait for a reply being generated.
func (r *LocalResponder) Measure(ctx context.Context, req ReplyRequest) (Measure, error) {
	conv := req.Conversation
	n := len(conv.Messages)
	if n == 0 {
		return Measure{}, errors.New("measure: no messages")
	}
	opts := localOptions(req)
	m := Measure{Context: r.sess.ContextSize(), Reserve: r.sess.Reserve(opts), MaxContext: r.trained}
	tok := r.model.Tokenizer
	m.LastTokens = len(tok.Encode(strings.TrimSpace(conv.Messages[n-1].Content), false, false))

	// The smallest prompt: the system prompt and the last message alone.
	if conv.Messages[n-1].Role != chat.User {
		return Measure{}, errors.New("measure: the conversation does not end with the person's message")
	}
	alone := chat.Conversation{System: conv.System, Messages: conv.Messages[n-1:]}
	var minimal int
	var over *chat.OverflowError
	p, err := r.sess.Measure(alone, session.Options{Reserve: 1, Policy: chat.KeepSystemDropOldest})
	switch {
	case err == nil:
		minimal = len(p.Tokens)
	case errors.As(err, &over):
		minimal = over.Tokens
	default:
		return Measure{}, fmt.Errorf("measure: %w", err)
	}
	m.Framing = minimal - m.LastTokens

	prompt, err := r.sess.Measure(conv, opts)
	switch {
	case err == nil:
		m.Fits, m.PromptTokens, m.DroppedTurns = true, len(prompt.Tokens), prompt.DroppedTurns
		if req.Policy == chat.StopAtLimit {
			m.Earlier = prompt.FullTokens - minimal
		}
	case errors.As(err, &over):
		m.PromptTokens = over.Tokens
		if req.Policy == chat.StopAtLimit {
			m.Earlier = over.Tokens - minimal
		}
	default:
		return Measure{}, fmt.Errorf("measure: %w", err)
	}
	return m, ctx.Err()
}

// TruncateMiddle cuts text in its middle to at most maxTokens tokens (see
// Measurer).
func (r *LocalResponder) TruncateMiddle(text string, maxTokens int) string {
	tok := r.model.Tokenizer
	ids := tok.Encode(text, false, false)
	if len(ids) <= maxTokens {
		return text
	}
	const mark = "\n…\n"
	keep := maxTokens - len(tok.Encode(mark, false, false)) - 2 // the joins may tokenize differently
	if keep <= 0 {
		return ""
	}
	head := tok.Decode(ids[:keep-keep/2])
	tail := tok.Decode(ids[len(ids)-keep/2:])
	// Cut at whitespace when one is near, so that no word is split.
	if i := strings.LastIndexAny(head, " \n\t"); i > len(head)*3/4 {
		head = head[:i]
	}
	if i := strings.IndexAny(tail, " \n\t"); i >= 0 && i < len(tail)/4 {
		tail = tail[i:]
	}
	out := strings.TrimSpace(head) + mark + strings.TrimSpace(tail)
	for len(tok.Encode(out, false, false)) > maxTokens && keep > 2 {
		keep -= 2
		out = strings.TrimSpace(tok.Decode(ids[:keep-keep/2])) + mark + strings.TrimSpace(tok.Decode(ids[len(ids)-keep/2:]))
	}
	return out
}

// Close releases the model.
func (r *LocalResponder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.model.Close()
}

// ChatConversation turns a thread (a conversation's active path) into the
// engine's conversation: the system prompt snapshot and the messages.
// Replies that failed (history.StatusError) are left out, so their
// question counts as unanswered; cancelled and interrupted partial replies
// stay, and so does a streaming reply that has text (one being continued).
func ChatConversation(th history.Thread) chat.Conversation {
	conv := chat.Conversation{System: th.Conversation.SystemPrompt}
	for _, m := range th.Messages {
		switch {
		case m.Role == history.RoleUser:
			conv.Messages = append(conv.Messages, chat.Message{Role: chat.User, Content: m.Content})
		case m.Status == history.StatusError, m.Status == history.StatusStreaming && m.Content == "":
			// Nothing usable was said.
		case len(conv.Messages) > 0 && conv.Messages[len(conv.Messages)-1].Role == chat.User:
			conv.Messages = append(conv.Messages, chat.Message{Role: chat.Assistant, Content: m.Content})
		}
	}
	return conv
}
