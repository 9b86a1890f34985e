package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/history"
)

// Draft is a message being typed, to check before it is sent.
type Draft struct {
	// ConversationID is the conversation it goes to; "" for a new chat,
	// which starts with NewConversation's persona or system prompt.
	ConversationID  string
	NewConversation history.NewConversation
	// EditOf, when not 0, is the person's message the draft replaces
	// (editing); the messages after it do not count.
	EditOf int64
	Text   string
	// Options are the reply's options (the overflow policy, a token limit).
	Options ReplyOptions
}

// DraftChoice is a way out for a message that does not fit.
type DraftChoice string

// The choices a refusal offers.
const (
	// ChoiceShorten: the person shortens the message.
	ChoiceShorten DraftChoice = "shorten"
	// ChoiceTruncateMiddle: cut the middle of the message (TruncateDraft).
	ChoiceTruncateMiddle DraftChoice = "truncate-middle"
	// ChoiceLargerContext: a bigger context (DraftCheck.LargerContext
	// tokens; a setting, then the model is loaded again).
	ChoiceLargerContext DraftChoice = "larger-context"
	// ChoiceDropOldest: the stop-at-limit policy drops nothing; the
	// keep-system-drop-oldest policy would make room.
	ChoiceDropOldest DraftChoice = "drop-oldest"
	// ChoiceNewChat: the message fits alone, in a new chat.
	ChoiceNewChat DraftChoice = "new-chat"
)

// DraftCheck is how a draft fits the context of the model that would
// answer it.
type DraftCheck struct {
	// Counted is false when the model cannot count tokens here (a remote
	// model): the draft is sent and the server judges.
	Counted bool
	// Tokens is the message's own size; Room how many it may take (the
	// context, less the room kept for the reply, the system prompt, the
	// format's framing and, under stop-at-limit, the earlier messages).
	Tokens, Room int
	// Context and Reserve are the context's size and the room kept for the reply.
	Context, Reserve int
	// PromptTokens is the size of the prompt that would be sent.
	PromptTokens int
	// DroppedTurns counts the earlier turns the overflow policy would
	// leave out to make room.
	DroppedTurns int
	// Fits is false when the message cannot be sent as it is.
	Fits bool
	// Reason says why not, in words; Choices are the ways out.
	Reason  string
	Choices []DraftChoice
	// LargerContext is the context size ChoiceLargerContext proposes.
	LargerContext int
}

// ErrTooLong is wrapped by *TooLongError.
var ErrTooLong = errors.New("the message does not fit the context")

// TooLongError refuses a message that cannot fit the context; nothing was
// saved. Check holds the numbers and the choices.
type TooLongError struct{ Check DraftCheck }

// Error is the check's reason, in words.
func (e *TooLongError) Error() string { return e.Check.Reason }

// Unwrap lets errors.Is match ErrTooLong and chat.ErrContextFull.
func (e *TooLongError) Unwrap() []error { return []error{ErrTooLong, chat.ErrContextFull} }

// CheckDraft counts a draft's tokens against the room left in the context
// of the model that would answer it, without saving anything; a draft that
// cannot fit gets Fits false, a reason and choices. It does not wait for a
// reply being written.
func (c *Chat) CheckDraft(ctx context.Context, d Draft) (DraftCheck, error) {
	r := c.Responder()
	if r == nil {
		return DraftCheck{}, ErrNoResponder
	}
	store, err := c.store()
	if err != nil {
		return DraftCheck{}, err
	}
	conv, sampling, err := c.draftConversation(ctx, store, d)
	if err != nil {
		return DraftCheck{}, err
	}
	opts, err := draftPolicy(ctx, store, d)
	if err != nil {
		return DraftCheck{}, err
	}
	return checkFit(ctx, r, conv, sampling.Overlay(opts.Sampling), opts.Policy)
}

// draftPolicy returns the draft's options with the overflow policy its
// conversation runs with (see conversationPolicy).
func draftPolicy(ctx context.Context, store *history.Store, d Draft) (ReplyOptions, error) {
	id := d.ConversationID
	if d.EditOf != 0 {
		target, err := findMessage(ctx, store, d.EditOf)
		if err != nil {
			return d.Options, err
		}
		id = target.ConversationID
	}
	if id == "" {
		return d.Options, nil
	}
	conv, err := store.Conversation(ctx, id)
	if err != nil {
		return d.Options, err
	}
	opts, _, err := conversationPolicy(conv, d.Options)
	return opts, err
}

// TruncateDraft returns the draft's text cut in its middle so that it fits
// (the text as it is when it already fits, or when the model cannot count
// tokens). An error says when even that cannot help (the system prompt
// alone fills the context).
func (c *Chat) TruncateDraft(ctx context.Context, d Draft) (string, error) {
	check, err := c.CheckDraft(ctx, d)
	if err != nil || !check.Counted || check.Fits {
		return d.Text, err
	}
	m, ok := c.Responder().(Measurer)
	if !ok || check.Room < 16 {
		return d.Text, fmt.Errorf("%w: only %d tokens are left for the message", ErrTooLong, max(check.Room, 0))
	}
	return m.TruncateMiddle(d.Text, check.Room), nil
}

// draftConversation is the conversation a draft would be sent in, and its
// sampling settings.
func (c *Chat) draftConversation(ctx context.Context, store *history.Store, d Draft) (chat.Conversation, history.Sampling, error) {
	msg := chat.Message{Role: chat.User, Content: d.Text}
	if d.EditOf != 0 {
		target, err := findMessage(ctx, store, d.EditOf)
		if err != nil {
			return chat.Conversation{}, history.Sampling{}, err
		}
		d.ConversationID = target.ConversationID
	}
	if d.ConversationID == "" {
		sys, sampling, err := c.newConversationPrompt(ctx, store, d.NewConversation)
		return chat.Conversation{System: sys, Messages: []chat.Message{msg}}, sampling, err
	}
	th, err := store.Thread(ctx, d.ConversationID)
	if err != nil {
		return chat.Conversation{}, history.Sampling{}, err
	}
	if d.EditOf != 0 {
		for i, m := range th.Messages {
			if m.ID == d.EditOf {
				th.Messages = th.Messages[:i]
				break
			}
		}
	}
	conv := ChatConversation(th)
	conv.Messages = append(conv.Messages, msg)
	return conv, th.Conversation.Sampling, nil
}

// refuseTooLong returns a *TooLongError when conv (ending with the
// person's new message) cannot fit r's context.
func (c *Chat) refuseTooLong(ctx context.Context, r Responder, conv chat.Conversation, sampling history.Sampling, policy chat.Policy) error {
	check, err := checkFit(ctx, r, conv, sampling, policy)
	if err != nil {
		return err
	}
	if !check.Fits {
		return &TooLongError{Check: check}
	}
	return nil
}

// checkFit measures conv on r and explains a misfit.
func checkFit(ctx context.Context, r Responder, conv chat.Conversation, sampling history.Sampling, policy chat.Policy) (DraftCheck, error) {
	m, ok := r.(Measurer)
	if !ok {
		return DraftCheck{Fits: true}, nil
	}
	req := ReplyRequest{Conversation: conv, Sampling: sampling, Policy: policy}
	ms, err := m.Measure(ctx, req)
	if err != nil {
		return DraftCheck{}, err
	}
	d := DraftCheck{
		Counted: true, Tokens: ms.LastTokens, Room: ms.Room(), Context: ms.Context, Reserve: ms.Reserve,
		PromptTokens: ms.PromptTokens, DroppedTurns: ms.DroppedTurns, Fits: ms.Fits,
	}
	if d.Fits {
		return d, nil
	}
	budget := ms.Context - ms.Reserve
	if policy == chat.StopAtLimit && ms.LastTokens+ms.Framing <= budget {
		d.Reason = fmt.Sprintf("With this message the conversation takes %s tokens, %s more than the %s the context leaves "+
			"(%s tokens, %s kept for the reply), and the overflow policy “stop at the limit” drops nothing.",
			GroupDigits(ms.PromptTokens), GroupDigits(ms.PromptTokens-budget), GroupDigits(budget), GroupDigits(ms.Context), GroupDigits(ms.Reserve))
		d.Choices = []DraftChoice{ChoiceDropOldest, ChoiceNewChat, ChoiceShorten}
	} else {
		d.Reason = fmt.Sprintf("The message takes %s tokens, but only %s are left for it: the context holds %s tokens, "+
			"%s are kept for the reply and %s go to the system prompt and the chat format.",
			GroupDigits(ms.LastTokens), GroupDigits(max(d.Room, 0)), GroupDigits(ms.Context), GroupDigits(ms.Reserve), GroupDigits(ms.Framing+ms.Earlier))
		d.Choices = []DraftChoice{ChoiceShorten}
		if d.Room >= 16 {
			d.Choices = append(d.Choices, ChoiceTruncateMiddle)
		}
	}
	if larger := largerContext(ms); larger > 0 {
		d.LargerContext = larger
		d.Choices = append(d.Choices, ChoiceLargerContext)
	}
	return d, nil
}

// largerContext returns the context size, up to the model's trained one,
// that would hold the message (0 when none would).
func largerContext(ms Measure) int {
	if ms.MaxContext <= ms.Context {
		return 0
	}
	need := ms.LastTokens + ms.Framing + ms.Earlier
	reserve := max(ms.Reserve, min(ms.MaxContext/4, 1024))
	if need+reserve > ms.MaxContext {
		return 0
	}
	// The next power of two that holds it (contexts are usually one), at most the trained size.
	size := 512
	for size < need+reserve {
		size *= 2
	}
	return min(size, ms.MaxContext)
}

// GroupDigits writes n with thousands separators (12,345).
func GroupDigits(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
