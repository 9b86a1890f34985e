package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/llamadesk/llamadesk/history"
)

// Replies in progress: one at a time in a conversation and on a model
// (acquire, with BusyError or a queue), their live numbers, Active and Stop.

// ErrBusy is wrapped by *BusyError.
var ErrBusy = errors.New("a reply is being written")

// BusyError refuses a reply (or a change) because a reply is being written
// in the same conversation, or on the same model in another one.
type BusyError struct {
	// ConversationID and Title name the conversation being written in.
	ConversationID, Title string
	// Same is true when it is the conversation asked about.
	Same bool
}

// Error says where the reply is being written and what to do.
func (e *BusyError) Error() string {
	if e.Same {
		return "a reply is being written in this conversation: wait for it to finish, or stop it"
	}
	title := e.Title
	if title == "" {
		title = "another conversation"
	} else {
		title = "“" + title + "”"
	}
	return "the model is writing a reply in " + title + ": wait for it to finish, or stop it, then send again"
}

// Unwrap lets errors.Is(err, ErrBusy) match.
func (e *BusyError) Unwrap() error { return ErrBusy }

// Phase is where a reply stands.
type Phase string

// The phases of a reply.
const (
	// PhaseWaiting: queued behind a reply on the same model.
	PhaseWaiting Phase = "waiting"
	// PhasePrompt: the prompt is being read (no text yet).
	PhasePrompt Phase = "prompt"
	// PhaseWriting: text is coming.
	PhaseWriting Phase = "writing"
)

// LiveStats are a reply's numbers while it is written.
type LiveStats struct {
	Phase Phase
	// Tokens counts the tokens generated so far.
	Tokens int
	// TokensPerSecond is the speed since the first token (0 before the second).
	TokensPerSecond float64
	// Elapsed is the time since the reply started (or began waiting).
	Elapsed time.Duration
}

// Activity is a reply being written, as Active reports it.
type Activity struct {
	ConversationID string
	// MessageID is the reply (0 while waiting).
	MessageID int64
	// Model is the responder's model.
	Model string
	// Text is the reply's text so far.
	Text string
	Live LiveStats
}

// activeReply is a reply in progress: its conversation, responder and
// numbers. Its fields after mu are guarded by mu.
type activeReply struct {
	cancel    context.CancelFunc
	responder Responder
	model     string

	mu      sync.Mutex
	convID  string
	title   string
	msgID   int64
	phase   Phase
	text    strings.Builder
	started time.Time
	firstAt time.Time
	lastAt  time.Time
	tokens  int
}

func (a *activeReply) live() LiveStats {
	s := LiveStats{Phase: a.phase, Tokens: a.tokens, Elapsed: time.Since(a.started)}
	if a.tokens > 1 {
		if d := a.lastAt.Sub(a.firstAt).Seconds(); d > 0 {
			s.TokensPerSecond = float64(a.tokens-1) / d
		}
	}
	return s
}

func (a *activeReply) activity() Activity {
	a.mu.Lock()
	defer a.mu.Unlock()
	return Activity{ConversationID: a.convID, MessageID: a.msgID, Model: a.model, Text: a.text.String(), Live: a.live()}
}

// Active returns the replies being written (or waiting), oldest first.
func (c *Chat) Active() []Activity {
	c.mu.Lock()
	list := make([]*activeReply, 0, len(c.active))
	for _, a := range c.active {
		list = append(list, a)
	}
	c.mu.Unlock()
	out := make([]Activity, 0, len(list))
	for _, a := range list {
		out = append(out, a.activity())
	}
	slices.SortFunc(out, func(x, y Activity) int { return cmp.Compare(y.Live.Elapsed, x.Live.Elapsed) })
	return out
}

// Activity returns the reply being written in a conversation, if any.
func (c *Chat) Activity(conversationID string) (Activity, bool) {
	c.mu.Lock()
	a := c.active[conversationID]
	c.mu.Unlock()
	if a == nil {
		return Activity{}, false
	}
	return a.activity(), true
}

// Stop stops the reply being written (or waiting) in a conversation; the
// text so far is kept. It reports whether there was one.
func (c *Chat) Stop(conversationID string) bool {
	c.mu.Lock()
	a := c.active[conversationID]
	c.mu.Unlock()
	if a != nil {
		a.cancel()
	}
	return a != nil
}

// idle returns a *BusyError when a reply is being written in the conversation.
func (c *Chat) idle(conversationID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.active[conversationID]; a != nil {
		return &BusyError{ConversationID: conversationID, Title: a.title, Same: true}
	}
	return nil
}

// acquire registers a reply in conversationID ("" for one whose
// conversation is created later) and takes its responder's turn, waiting
// for it with queue, and otherwise refusing with a *BusyError. release
// gives everything back (calling it again does nothing). The reply's
// context ends with ctx, with Stop (once it has a conversation) and with
// Close (ErrClosed while it waits).
func (c *Chat) acquire(ctx context.Context, conversationID, title string, queue bool) (*activeReply, context.Context, func(), error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, nil, nil, ErrClosed
	}
	r := c.current
	if r == nil {
		c.mu.Unlock()
		return nil, nil, nil, ErrNoResponder
	}
	if conversationID != "" && c.active[conversationID] != nil {
		c.mu.Unlock()
		return nil, nil, nil, &BusyError{ConversationID: conversationID, Title: title, Same: true}
	}
	s := c.slots[r]
	select {
	case s.turn <- struct{}{}:
	default:
		if !queue {
			busy := &BusyError{}
			for id, a := range c.active {
				if a.responder == r {
					a.mu.Lock()
					busy.ConversationID, busy.Title = id, a.title
					a.mu.Unlock()
				}
			}
			c.mu.Unlock()
			return nil, nil, nil, busy
		}
		s = nil // wait below, outside the lock
	}
	rctx, cancelReply := context.WithCancel(ctx)
	// Close stops every reply, those not registered in c.active too.
	unhook := context.AfterFunc(c.closing, cancelReply)
	cancel := func() {
		unhook()
		cancelReply()
	}
	a := &activeReply{cancel: cancel, responder: r, model: r.Info().Model, convID: conversationID, title: title,
		phase: PhasePrompt, started: time.Now()}
	if s == nil {
		a.phase = PhaseWaiting
	}
	if conversationID != "" {
		c.active[conversationID] = a
	}
	slot := c.slots[r]
	slot.users++
	c.running.Add(1)
	c.mu.Unlock()

	held := s != nil
	var once sync.Once
	release := func() {
		once.Do(func() {
			cancel()
			c.mu.Lock()
			a.mu.Lock()
			if c.active[a.convID] == a {
				delete(c.active, a.convID)
			}
			a.mu.Unlock()
			if held {
				<-slot.turn
			}
			slot.users--
			closeIt := slot.retired && slot.users == 0
			if closeIt {
				delete(c.slots, r)
			}
			c.mu.Unlock()
			if closeIt {
				r.Close()
			}
			c.running.Done()
		})
	}
	if !held {
		select {
		case slot.turn <- struct{}{}:
			held = true
			a.mu.Lock()
			a.phase, a.started = PhasePrompt, time.Now()
			a.mu.Unlock()
		case <-rctx.Done():
			release()
			if c.closing.Err() != nil {
				return nil, nil, nil, fmt.Errorf("waiting for the model: %w", ErrClosed)
			}
			return nil, nil, nil, rctx.Err()
		}
	}
	return a, rctx, release, nil
}

// setConversation records the conversation of a reply that created it,
// so that Stop, Activity and Active find it. After Close it records
// nothing and returns ErrClosed: the reply must not start.
func (c *Chat) setConversation(a *activeReply, conv history.Conversation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.convID, a.title = conv.ID, conv.Title
	c.active[conv.ID] = a
	return nil
}
