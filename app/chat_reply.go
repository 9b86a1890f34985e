package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/sample"
	"github.com/llamadesk/llamadesk/history"
)

// saveEvery is how often a growing reply is written to the history, so that
// a crash loses at most this much of it.
const saveEvery = 250 * time.Millisecond

// ReplyOptions adjust one reply beyond the conversation's settings.
type ReplyOptions struct {
	// Sampling overrides the conversation's sampling settings where set.
	Sampling history.Sampling
	// Policy decides what is dropped when the conversation does not fit,
	// for a conversation that has no policy of its own
	// (history.Conversation.OverflowPolicy).
	Policy chat.Policy
	// StorePolicy makes Policy the conversation's own: saved with it (with
	// a new conversation too) and used by every later reply, in any
	// process, whatever the caller's default then.
	StorePolicy bool
	// Queue makes a reply wait for the one being written on the same
	// model instead of being refused with a *BusyError. (The command line
	// waits; the window refuses, keeping the draft, and says why.)
	Queue bool
}

// ReplyResult is a finished reply and how it went. It is saved before it
// is returned.
type ReplyResult struct {
	ConversationID string `json:"conversation_id"`
	MessageID      int64  `json:"message_id"`
	// Reply is the reply's whole text (with Continue, the old text and the new).
	Reply      string     `json:"reply"`
	StopReason StopReason `json:"stop_reason"`
	Stats      ReplyStats `json:"stats"`
	// Model is the responder's model name.
	Model   string `json:"model"`
	Backend string `json:"backend"`
	Format  string `json:"format"`
	// Dropped lists the indices of messages left out to fit the context, and
	// DroppedNote says so in words ("" when nothing was dropped).
	Dropped     []int  `json:"dropped,omitempty"`
	DroppedNote string `json:"dropped_note,omitempty"`
	// Seed is the random seed the reply was sampled with (saved with it):
	// the one the caller or the persona fixed, or a fresh one drawn for
	// this reply; nil for a greedy reply (temperature 0).
	Seed *int64 `json:"seed,omitempty"`
}

// ErrEmptyMessage refuses a message with no text.
var ErrEmptyMessage = errors.New("the message is empty")

// ErrCannotContinue refuses Continue on a responder that cannot continue a
// reply (see ResponderInfo.CanContinue).
var ErrCannotContinue = errors.New("this model cannot continue a reply that was cut short; regenerate it instead")

// Send adds text as the person's next message in the conversation and
// writes the reply, calling onEvent (which may be nil) on the calling
// goroutine as it grows, and telling the subscribers. Cancelling ctx (or
// Stop) ends the reply and keeps its text. Nothing is saved when the reply
// cannot start: an empty message (ErrEmptyMessage), another reply being
// written (*BusyError), a message that cannot fit the context
// (*TooLongError).
func (c *Chat) Send(ctx context.Context, conversationID, text string, opts ReplyOptions, onEvent func(ReplyEvent)) (*ReplyResult, error) {
	return c.run(ctx, replyJob{kind: jobSend, convID: conversationID, text: text}, opts, onEvent)
}

// Start creates a conversation as nc describes with text as its first
// message, and writes the reply, as Send does. The conversation is created
// only when the reply can start (the EventStarted event and the result
// carry its id).
func (c *Chat) Start(ctx context.Context, nc history.NewConversation, text string, opts ReplyOptions, onEvent func(ReplyEvent)) (*ReplyResult, error) {
	return c.run(ctx, replyJob{kind: jobStart, newConv: nc, text: text}, opts, onEvent)
}

// Regenerate keeps the reply messageID and writes a new version of it.
func (c *Chat) Regenerate(ctx context.Context, messageID int64, opts ReplyOptions, onEvent func(ReplyEvent)) (*ReplyResult, error) {
	return c.run(ctx, replyJob{kind: jobRegenerate, messageID: messageID}, opts, onEvent)
}

// Edit keeps the person's message messageID, adds text as its new version
// (a branch) and writes a reply to it. Nothing is saved when the edited
// message cannot fit (*TooLongError).
func (c *Chat) Edit(ctx context.Context, messageID int64, text string, opts ReplyOptions, onEvent func(ReplyEvent)) (*ReplyResult, error) {
	return c.run(ctx, replyJob{kind: jobEdit, messageID: messageID, text: text}, opts, onEvent)
}

// Continue writes more of the reply messageID, which was cut short
// (stopped, interrupted by a crash, or at its token limit) and ends its
// conversation's active path. The events carry the new text; the result
// the whole reply. A responder that cannot continue replies
// (ResponderInfo.CanContinue false: a remote model) is refused with
// ErrCannotContinue before anything is saved. When the continuation fails
// (the reply so far fills the context, the server refuses), the reply is
// saved back as it was, its text, status and stats intact, and the error
// is returned (and told in the EventDone event).
func (c *Chat) Continue(ctx context.Context, messageID int64, opts ReplyOptions, onEvent func(ReplyEvent)) (*ReplyResult, error) {
	return c.run(ctx, replyJob{kind: jobContinue, messageID: messageID}, opts, onEvent)
}

// CanContinue reports whether Continue applies to a message: a reply that
// ended before its end (stopped, interrupted, at its token limit or a full
// context) and has text.
func CanContinue(m history.Message) bool {
	if m.Role != history.RoleAssistant || strings.TrimSpace(m.Content) == "" {
		return false
	}
	switch m.Status {
	case history.StatusCancelled, history.StatusInterrupted:
		return true
	case history.StatusDone:
		return m.Stats.StopReason == string(StopMaxTokens) || m.Stats.StopReason == string(StopContextFull)
	}
	return false
}

type jobKind int

const (
	jobSend jobKind = iota
	jobStart
	jobRegenerate
	jobEdit
	jobContinue
)

// replyJob is what a reply call asks for.
type replyJob struct {
	kind      jobKind
	convID    string
	newConv   history.NewConversation
	messageID int64
	text      string
}

// run carries a reply from the checks through saving the result.
func (c *Chat) run(ctx context.Context, j replyJob, opts ReplyOptions, onEvent func(ReplyEvent)) (res *ReplyResult, err error) {
	if onEvent == nil {
		onEvent = func(ReplyEvent) {}
	}
	if (j.kind == jobSend || j.kind == jobStart || j.kind == jobEdit) && strings.TrimSpace(j.text) == "" {
		return nil, ErrEmptyMessage
	}
	if err := opts.Sampling.Validate(); err != nil {
		return nil, err
	}
	store, err := c.store()
	if err != nil {
		return nil, err
	}
	var target history.Message // the message Regenerate, Edit and Continue act on
	if j.messageID != 0 {
		if target, err = findMessage(ctx, store, j.messageID); err != nil {
			return nil, err
		}
		j.convID = target.ConversationID
	}
	title := ""
	storePolicy := false // a policy to save with an existing conversation
	if j.convID != "" {
		conv, err := store.Conversation(ctx, j.convID)
		if err != nil {
			return nil, fmt.Errorf("conversation %s: %w", j.convID, err)
		}
		title = conv.Title
		if opts, storePolicy, err = conversationPolicy(conv, opts); err != nil {
			return nil, err
		}
	} else if opts.StorePolicy {
		j.newConv.OverflowPolicy = opts.Policy.String()
	}

	a, rctx, release, err := c.acquire(ctx, j.convID, title, opts.Queue)
	if err != nil {
		return nil, err
	}
	defer release()

	msg, prev, err := c.prepare(rctx, store, a, j, target, opts)
	if err != nil {
		return nil, err
	}
	if storePolicy {
		if err := store.SetOverflowPolicy(context.WithoutCancel(rctx), msg.ConversationID, opts.Policy.String()); err != nil {
			return nil, fmt.Errorf("save the overflow policy: %w", err)
		}
	}
	started := ReplyEvent{Kind: EventStarted, ConversationID: msg.ConversationID, MessageID: msg.ID}
	onEvent(started)
	c.publish(started)
	res, err = c.generate(rctx, store, a, msg, prev, opts, onEvent)
	done := ReplyEvent{Kind: EventDone, ConversationID: msg.ConversationID, MessageID: msg.ID, Result: res, Err: err}
	a.mu.Lock()
	done.Live = a.live()
	a.mu.Unlock()
	// Whoever hears of the end finds the conversation idle and the model free.
	release()
	onEvent(done)
	c.publish(done)
	return res, err
}

// conversationPolicy returns opts with the overflow policy conv runs with:
// its own, unless opts.StorePolicy asks to replace it with opts.Policy
// (then store reports that it must be saved).
func conversationPolicy(conv history.Conversation, opts ReplyOptions) (_ ReplyOptions, store bool, err error) {
	if opts.StorePolicy {
		return opts, opts.Policy.String() != conv.OverflowPolicy, nil
	}
	if conv.OverflowPolicy != "" {
		if opts.Policy, err = chat.ParsePolicy(conv.OverflowPolicy); err != nil {
			return opts, false, fmt.Errorf("conversation %s: %w", conv.ID, err)
		}
	}
	return opts, false, nil
}

// replySeed fixes the seed of a sampled reply in s: the one set (by the
// caller, the conversation or its persona), or else a fresh one, so that
// regenerating gives a new reply and the one saved can be reproduced. It
// returns nil for a greedy reply (temperature 0), which needs none.
func replySeed(s *history.Sampling) *int64 {
	temp := float64(sample.DefaultParams().Temperature)
	if s.Temperature != nil {
		temp = *s.Temperature
	}
	if temp == 0 {
		return nil
	}
	if s.Seed == nil {
		s.Seed = history.Ptr(rand.Int64N(1 << 53)) // exact in JSON numbers, too
	}
	return s.Seed
}

// findMessage returns one message by id.
func findMessage(ctx context.Context, store *history.Store, id int64) (history.Message, error) {
	alts, err := store.Alternatives(ctx, id)
	if err != nil {
		return history.Message{}, fmt.Errorf("message %d: %w", id, err)
	}
	for _, m := range alts {
		if m.ID == id {
			return m, nil
		}
	}
	return history.Message{}, fmt.Errorf("message %d: %w", id, history.ErrNotFound)
}

// stopped returns why the reply whose context is ctx must not start: the
// service closed (ErrClosed), or ctx ended; nil when it may.
func (c *Chat) stopped(ctx context.Context) error {
	if c.closing.Err() != nil {
		return ErrClosed
	}
	return ctx.Err()
}

// prepare checks that the reply can be written and saves what comes before
// it: the person's message (Send, Start, Edit) and the empty reply. For
// Continue the reply is reopened, and prev is the reply as it was before
// (nil for the other kinds): its text is where the reply goes on, and it
// is what a failed continuation leaves saved.
func (c *Chat) prepare(ctx context.Context, store *history.Store, a *activeReply, j replyJob, target history.Message, opts ReplyOptions) (msg history.Message, prev *history.Message, err error) {
	// Saving uses its own context: a reply stopped now must still be saved whole.
	saveCtx := context.WithoutCancel(ctx)
	if err := c.stopped(ctx); err != nil {
		return msg, nil, err // stopped or closed before it started: nothing is saved
	}
	model := a.model
	switch j.kind {
	case jobStart:
		sys, sampling, err := c.newConversationPrompt(ctx, store, j.newConv)
		if err != nil {
			return msg, nil, err
		}
		conv := chat.Conversation{System: sys, Messages: []chat.Message{{Role: chat.User, Content: j.text}}}
		if err := c.refuseTooLong(ctx, a.responder, conv, sampling.Overlay(opts.Sampling), opts.Policy); err != nil {
			return msg, nil, err
		}
		if j.newConv.Model == "" {
			j.newConv.Model = model
		}
		if err := c.stopped(ctx); err != nil {
			return msg, nil, err // stopped or closed while the prompt was measured
		}
		created, err := createConversation(saveCtx, store, j.newConv)
		if err != nil {
			return msg, nil, err
		}
		if err := c.setConversation(a, created); err != nil {
			// Closed meanwhile: the reply does not start, and its conversation goes.
			if derr := store.DeleteConversation(saveCtx, created.ID); derr != nil {
				err = errors.Join(err, fmt.Errorf("remove the new conversation: %w", derr))
			}
			return msg, nil, err
		}
		c.changed(created.ID)
		if _, err := store.AppendUser(saveCtx, created.ID, j.text); err != nil {
			return msg, nil, fmt.Errorf("save the message: %w", err)
		}
		j.convID = created.ID
	case jobSend:
		th, err := store.Thread(ctx, j.convID)
		if err != nil {
			return msg, nil, err
		}
		conv := ChatConversation(th)
		conv.Messages = append(conv.Messages, chat.Message{Role: chat.User, Content: j.text})
		if err := c.refuseTooLong(ctx, a.responder, conv, th.Conversation.Sampling.Overlay(opts.Sampling), opts.Policy); err != nil {
			return msg, nil, err
		}
		if _, err := store.AppendUser(saveCtx, j.convID, j.text); err != nil {
			return msg, nil, fmt.Errorf("save the message: %w", err)
		}
	case jobEdit:
		if target.Role != history.RoleUser {
			return msg, nil, fmt.Errorf("message %d is not one of the person's messages", target.ID)
		}
		th, err := store.Thread(ctx, j.convID)
		if err != nil {
			return msg, nil, err
		}
		before := th
		before.Messages = nil
		for _, m := range th.Messages {
			if m.ID == target.ID || m.ParentID == target.ParentID && m.Role == history.RoleUser {
				break
			}
			before.Messages = append(before.Messages, m)
		}
		conv := ChatConversation(before)
		conv.Messages = append(conv.Messages, chat.Message{Role: chat.User, Content: j.text})
		if err := c.refuseTooLong(ctx, a.responder, conv, th.Conversation.Sampling.Overlay(opts.Sampling), opts.Policy); err != nil {
			return msg, nil, err
		}
		if _, err := store.EditUser(saveCtx, target.ID, j.text); err != nil {
			return msg, nil, fmt.Errorf("edit the message: %w", err)
		}
	case jobRegenerate:
		if target.Role != history.RoleAssistant {
			return msg, nil, fmt.Errorf("message %d is not a reply", target.ID)
		}
		msg, err = store.Regenerate(saveCtx, target.ID, model)
		if err != nil {
			return msg, nil, fmt.Errorf("regenerate: %w", err)
		}
		return msg, nil, nil
	case jobContinue:
		if !CanContinue(target) {
			return msg, nil, fmt.Errorf("this reply cannot be continued: it is %s", target.Status)
		}
		if info := a.responder.Info(); !info.CanContinue {
			return msg, nil, fmt.Errorf("continue the reply with %s: %w", info.Model, ErrCannotContinue)
		}
		conv, err := store.Conversation(ctx, j.convID)
		if err != nil {
			return msg, nil, fmt.Errorf("conversation %s: %w", j.convID, err)
		}
		if conv.LeafID != target.ID {
			return msg, nil, errors.New("only the last reply of the conversation can be continued")
		}
		prev := target
		// Reopen the reply: "interrupted" until it streams again, as after a crash.
		if err := store.FinishAssistant(saveCtx, target.ID, history.Finish{Content: target.Content,
			Status: history.StatusInterrupted, TokenCount: target.TokenCount, Stats: target.Stats, Seed: target.Seed}); err != nil {
			return msg, nil, fmt.Errorf("continue the reply: %w", err)
		}
		if err := store.UpdateContent(saveCtx, target.ID, target.Content); err != nil {
			err = fmt.Errorf("continue the reply: %w", err)
			if rerr := restoreReply(saveCtx, store, prev); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return msg, nil, err
		}
		target.Status = history.StatusStreaming
		return target, &prev, nil
	}
	msg, err = store.StartAssistant(saveCtx, j.convID, model)
	if err != nil {
		return msg, nil, fmt.Errorf("start the reply: %w", err)
	}
	return msg, nil, nil
}

// restoreReply saves a reply back as prev was before it was reopened to
// be continued: its text, status, token count, stats, error and seed.
func restoreReply(ctx context.Context, store *history.Store, prev history.Message) error {
	if err := store.FinishAssistant(ctx, prev.ID, history.Finish{Content: prev.Content, Status: prev.Status,
		TokenCount: prev.TokenCount, Stats: prev.Stats, Error: prev.Error, Seed: prev.Seed}); err != nil {
		return fmt.Errorf("restore reply %d: %w", prev.ID, err)
	}
	return nil
}

// newConversationPrompt returns the system prompt and sampling a new
// conversation will start with.
func (c *Chat) newConversationPrompt(ctx context.Context, store *history.Store, nc history.NewConversation) (string, history.Sampling, error) {
	sys, sampling := "", nc.Sampling
	if nc.Persona != "" {
		p, err := store.Persona(ctx, nc.Persona)
		if errors.Is(err, history.ErrNotFound) {
			return "", sampling, fmt.Errorf("%w %q", ErrNoPersona, nc.Persona)
		}
		if err != nil {
			return "", sampling, err
		}
		sys, sampling = p.SystemPrompt, p.Sampling.Overlay(nc.Sampling)
	}
	if nc.SystemPrompt != nil {
		sys = *nc.SystemPrompt
	}
	return sys, sampling, nil
}

// generate writes the reply msg (streaming) and saves how it ended. For
// Continue, prev is the reply before it was reopened: the new text follows
// its text, and when the continuation fails the reply is saved back as
// prev (a good reply must not become an error); other replies that fail
// are saved with StatusError.
func (c *Chat) generate(ctx context.Context, store *history.Store, a *activeReply, msg history.Message, prev *history.Message, opts ReplyOptions, onEvent func(ReplyEvent)) (res *ReplyResult, err error) {
	saveCtx := context.WithoutCancel(ctx)
	cont, base := prev != nil, ""
	if cont {
		base = prev.Content
	}
	a.mu.Lock()
	a.msgID = msg.ID
	a.text.WriteString(base)
	a.mu.Unlock()
	text := func() string {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.text.String()
	}
	fail := func(err error) error {
		if cont {
			err = fmt.Errorf("continue the reply: %w", err)
			if rerr := restoreReply(saveCtx, store, *prev); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return err
		}
		if ferr := store.FinishAssistant(saveCtx, msg.ID, history.Finish{Content: text(), Status: history.StatusError,
			Error: err.Error()}); ferr != nil {
			err = errors.Join(err, fmt.Errorf("save the reply: %w", ferr))
		}
		return err
	}
	defer func() {
		// A panic in a responder is a bug; the window must stay up and the reply be saved.
		if p := recover(); p != nil {
			err = fail(fmt.Errorf("internal error while writing the reply: %v", p))
			res = nil
		}
	}()

	th, err := store.Thread(saveCtx, msg.ConversationID)
	if err != nil {
		return nil, fail(err)
	}
	req := ReplyRequest{
		Conversation: ChatConversation(th),
		Sampling:     th.Conversation.Sampling.Overlay(opts.Sampling),
		Policy:       opts.Policy,
		Continue:     cont,
	}
	seed := replySeed(&req.Sampling)
	lastSave := time.Now()
	resp, err := a.responder.Respond(ctx, req, func(d Delta) {
		now := time.Now()
		a.mu.Lock()
		a.text.WriteString(d.Text)
		if d.Tokens > 0 {
			if a.tokens == 0 {
				a.firstAt = now
			}
			a.tokens += d.Tokens
			a.lastAt = now
		}
		if a.tokens > 0 || d.Text != "" {
			a.phase = PhaseWriting
		}
		live := a.live()
		a.mu.Unlock()
		if now.Sub(lastSave) >= saveEvery {
			// A failed intermediate save is retried at the next one and at the end.
			_ = store.UpdateContent(saveCtx, msg.ID, text())
			lastSave = now
		}
		e := ReplyEvent{Kind: EventText, ConversationID: msg.ConversationID, MessageID: msg.ID, Text: d.Text, Live: live}
		onEvent(e)
		c.publish(e)
	})
	if err != nil {
		return nil, fail(err)
	}
	full := base + resp.Text
	info := a.responder.Info()
	res = &ReplyResult{
		ConversationID: msg.ConversationID, MessageID: msg.ID, Reply: full, StopReason: resp.StopReason,
		Stats: resp.Stats, Model: info.Model, Backend: resp.Backend, Format: resp.Format,
		Dropped: resp.Dropped, DroppedNote: resp.DroppedNote, Seed: seed,
	}
	status := history.StatusDone
	if resp.StopReason == StopCancelled {
		status = history.StatusCancelled
	}
	tokens := resp.Tokens
	if cont {
		tokens += msg.TokenCount
	}
	s := resp.Stats
	if err := store.FinishAssistant(saveCtx, msg.ID, history.Finish{
		Content: full, Status: status, TokenCount: tokens, Seed: seed,
		Stats: history.Stats{
			PromptTokens: s.PromptEvaluated, PromptTokensPerSecond: s.PromptTokensPerS,
			GeneratedTokens: s.GeneratedTokens, TokensPerSecond: s.GenTokensPerS,
			TimeToFirstTokenMs: s.TimeToFirstMS, DurationMs: s.TotalMS,
			StopReason: string(resp.StopReason), Backend: resp.Backend, DroppedTurns: resp.DroppedTurns,
		},
	}); err != nil {
		return nil, fmt.Errorf("save the reply: %w", err)
	}
	return res, nil
}
