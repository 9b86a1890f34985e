package session

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/llamadesk/llamadesk/engine/chat"
)

// Measure builds the prompt of conv as Reply would (with the same room kept
// for the reply) without evaluating anything, to tell before sending whether
// a message fits. It only reads the tokenizer and the context size, so it may
// run while another goroutine uses the session.
func (s *Session) Measure(conv chat.Conversation, opts Options) (chat.Prompt, error) {
	return chat.Build(s.tok, s.format, conv, s.state.Capacity(), opts.reserve(s.state.Capacity()), opts.Policy)
}

// Reserve returns the room Reply keeps for the reply when fitting the
// prompt into the session's context.
func (s *Session) Reserve(opts Options) int { return opts.reserve(s.state.Capacity()) }

// generated returns the tokens of the last reply when it followed prompt
// and its text is partial: continuing with the tokens the model chose
// (rather than the text encoded again, which may split it differently)
// goes on exactly as the reply would have. Otherwise nil.
func (s *Session) generated(prompt []int32, partial string) []int32 {
	last := s.lastSeq
	if len(last) <= len(prompt) || commonPrefix(last, prompt) != len(prompt) {
		return nil
	}
	if strings.TrimSpace(s.tok.Decode(last[len(prompt):])) != partial {
		return nil
	}
	return last
}

// Continue writes more of a reply that was cut short (stopped, interrupted,
// at its token limit): conv ends with that assistant message, whose text is
// kept as the start of the reply. The events and the returned Reply hold
// only the new text, which follows the old text directly (its leading space
// kept). The prompt ends with the old text instead of the end of turn, so the
// model goes on where it stopped; in the chat format the turns before it are
// fitted to the context as Reply does, with the old text counted as part of
// the reply. Right after the reply was written by this session, it goes
// on from the very tokens generated, as if it had never stopped.
func (s *Session) Continue(ctx context.Context, conv chat.Conversation, opts Options, onEvent func(Event)) (*Reply, error) {
	n := len(conv.Messages)
	if n == 0 || conv.Messages[n-1].Role != chat.Assistant {
		return nil, errors.New("continue: the conversation does not end with a reply")
	}
	partial := strings.TrimSpace(conv.Messages[n-1].Content)
	if partial == "" {
		head := conv
		head.Messages = conv.Messages[:n-1]
		return s.Reply(ctx, head, opts, onEvent)
	}
	capacity := s.state.Capacity()
	if !s.format.IsChat() {
		// Plain completion: the prompt is the text so far; the model continues it.
		prompt, err := chat.Build(s.tok, s.format, conv, capacity, opts.reserve(capacity), opts.Policy)
		if err != nil {
			return nil, err
		}
		r, err := s.generate(ctx, prompt.Tokens, opts, onEvent, true)
		if r != nil {
			r.Prompt = prompt
		}
		return r, err
	}
	old := s.tok.Encode(partial, false, false)
	reserve := opts.reserve(capacity) + len(old)
	if reserve >= capacity {
		return nil, fmt.Errorf("%w: the reply so far takes %d tokens of a context of %d", chat.ErrContextFull, len(old), capacity)
	}
	head := conv
	head.Messages = conv.Messages[:n-1]
	prompt, err := chat.Build(s.tok, s.format, head, capacity, reserve, opts.Policy)
	if err != nil {
		return nil, err
	}
	tokens := s.generated(prompt.Tokens, partial)
	if tokens == nil {
		tokens = append(append(make([]int32, 0, len(prompt.Tokens)+len(old)), prompt.Tokens...), old...)
	}
	r, err := s.generate(ctx, tokens, opts, onEvent, true)
	if r != nil {
		prompt.Tokens = tokens
		r.Prompt = prompt
	}
	return r, err
}
