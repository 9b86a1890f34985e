package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/inputfile"
)

// Chat is the conversation service that the window and the command line
// share: it creates, lists, renames, pins, deletes, searches, exports and
// imports conversations, and runs the reply lifecycle (send, regenerate,
// edit and branch, continue, stop) on a Responder. Get it from App.Chat.
//
// Replies: one reply is generated at a time per Responder (per loaded
// model); while it streams, every other conversation can be read, opened,
// searched and changed. A second reply asked for while one is being
// written is refused with a *BusyError (saving nothing), unless its
// ReplyOptions.Queue says to wait its turn. One lock covers a whole reply:
// the person's message is saved only once the reply can start, and the
// next reply on the model starts only after this one is finished and saved.
//
// Events: every step of every reply, and every change to the list of
// conversations, is told to the functions given to Subscribe; the reply
// calls also take their own callback. Both are called on the goroutine
// doing the work and must return quickly (a window hands them to its UI
// goroutine, at most once a frame).
//
// Methods are safe for concurrent use.
type Chat struct {
	app *App

	mu sync.Mutex
	// current is the responder new replies use (nil before SetResponder).
	current Responder
	// slots holds each responder in use: its turn and who holds it.
	slots map[Responder]*slot
	// active holds the replies being written (or waiting), by conversation.
	active map[string]*activeReply
	subs   map[int]func(ReplyEvent)
	nextID int
	closed bool
	// closing is the parent of every reply's context, whether or not its
	// conversation exists yet (a queued Start has none): shut, called by
	// Close, stops them all.
	closing context.Context
	shut    context.CancelFunc
	// running counts reply calls in progress, so that Close can wait.
	running sync.WaitGroup
}

// ErrClosed refuses a reply asked for after Close, and ends one that
// was waiting for its turn when Close came.
var ErrClosed = errors.New("the chat service is closed")

// slot is a responder's turn: its channel (capacity 1) is held by the
// reply being generated on it.
type slot struct {
	turn chan struct{}
	// users counts the replies holding or waiting for the turn.
	users int
	// retired is set when the responder was replaced: it is closed when
	// its last user is done.
	retired bool
}

// Chat returns the conversation service, created on first use.
func (a *App) Chat() *Chat {
	a.chatOnce.Do(func() {
		closing, shut := context.WithCancel(context.Background())
		a.chat = &Chat{app: a, slots: map[Responder]*slot{}, active: map[string]*activeReply{}, subs: map[int]func(ReplyEvent){},
			closing: closing, shut: shut}
	})
	return a.chat
}

// EventKind says what a ReplyEvent reports.
type EventKind int

// The kinds of events.
const (
	// EventStarted: a reply began; ConversationID (created now for Start)
	// and MessageID name it.
	EventStarted EventKind = iota + 1
	// EventText: Text is the reply's new text; Live has its numbers.
	EventText
	// EventDone: the reply ended, with Result (saved) or Err.
	EventDone
	// EventChanged: conversations were created, renamed, pinned, deleted
	// or imported (ConversationID names the one, "" for several).
	EventChanged
)

// ReplyEvent is one step of a reply, or a change to the conversations.
type ReplyEvent struct {
	Kind           EventKind
	ConversationID string
	// MessageID is the reply being written (0 before it exists).
	MessageID int64
	// Text is the new text of an EventText (whole UTF-8 characters).
	Text string
	// Live are the reply's numbers so far.
	Live LiveStats
	// Result (on success) or Err ends an EventDone.
	Result *ReplyResult
	Err    error
}

// Subscribe calls fn with every event of the service until the returned
// function is called. fn runs on the goroutine doing the work and must not
// block or call back into a reply method.
func (c *Chat) Subscribe(fn func(ReplyEvent)) (unsubscribe func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	c.subs[id] = fn
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.subs, id)
	}
}

// publish tells the subscribers about e.
func (c *Chat) publish(e ReplyEvent) {
	c.mu.Lock()
	subs := make([]func(ReplyEvent), 0, len(c.subs))
	for _, fn := range c.subs {
		subs = append(subs, fn)
	}
	c.mu.Unlock()
	for _, fn := range subs {
		fn(e)
	}
}

func (c *Chat) changed(id string) { c.publish(ReplyEvent{Kind: EventChanged, ConversationID: id}) }

// SetResponder makes r the responder of the replies started from now on
// and hands it to the service, which closes it when it is replaced (once
// the replies using it are done) or at Close. A reply already running
// keeps its responder. nil leaves no responder. After Close, r is
// closed at once (nothing could ever use it).
func (c *Chat) SetResponder(r Responder) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		if r != nil {
			r.Close()
		}
		return
	}
	old := c.current
	c.current = r
	if r != nil && c.slots[r] == nil {
		c.slots[r] = &slot{turn: make(chan struct{}, 1)}
	}
	closeOld := false
	if old != nil && old != r {
		s := c.slots[old]
		s.retired = true
		if s.users == 0 {
			delete(c.slots, old)
			closeOld = true
		}
	}
	c.mu.Unlock()
	if closeOld {
		old.Close()
	}
}

// Responder returns the responder new replies use (nil when none).
func (c *Chat) Responder() Responder {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// Close stops every reply (those waiting for their turn, and those whose
// conversation is not created yet, too), waits for them to be saved, and
// closes the responders. A reply or a responder asked for later is refused
// (ErrClosed; SetResponder closes the responder). App.Close calls it.
func (c *Chat) Close() error {
	c.mu.Lock()
	c.closed = true
	c.shut() // every reply's context is a child of c.closing
	c.mu.Unlock()
	c.running.Wait()
	c.mu.Lock()
	var rs []Responder
	for r := range c.slots {
		rs = append(rs, r)
	}
	c.slots = map[Responder]*slot{}
	c.current = nil
	c.mu.Unlock()
	var errs []error
	for _, r := range rs {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// store returns the history database.
func (c *Chat) store() (*history.Store, error) { return c.app.History() }

// ErrNoPersona is returned when a named persona does not exist.
var ErrNoPersona = errors.New("no such persona")

// Create starts a conversation (with nc's persona, system prompt, model and
// sampling; see history.NewConversation). An unknown persona is ErrNoPersona.
// Most conversations are better started by Start, which saves nothing when
// the first message cannot be sent.
func (c *Chat) Create(ctx context.Context, nc history.NewConversation) (history.Conversation, error) {
	store, err := c.store()
	if err != nil {
		return history.Conversation{}, err
	}
	conv, err := createConversation(ctx, store, nc)
	if err == nil {
		c.changed(conv.ID)
	}
	return conv, err
}

func createConversation(ctx context.Context, store *history.Store, nc history.NewConversation) (history.Conversation, error) {
	if nc.Persona != "" {
		if _, err := store.Persona(ctx, nc.Persona); err != nil {
			if errors.Is(err, history.ErrNotFound) {
				return history.Conversation{}, fmt.Errorf("%w %q", ErrNoPersona, nc.Persona)
			}
			return history.Conversation{}, err
		}
	}
	conv, err := store.CreateConversation(ctx, nc)
	if err != nil {
		return history.Conversation{}, fmt.Errorf("start the conversation: %w", err)
	}
	return conv, nil
}

// List returns every conversation, pinned ones first, then the most
// recently used.
func (c *Chat) List(ctx context.Context) ([]history.Conversation, error) {
	store, err := c.store()
	if err != nil {
		return nil, err
	}
	return store.Conversations(ctx)
}

// Conversation returns one conversation.
func (c *Chat) Conversation(ctx context.Context, id string) (history.Conversation, error) {
	store, err := c.store()
	if err != nil {
		return history.Conversation{}, err
	}
	conv, err := store.Conversation(ctx, id)
	if err != nil {
		return history.Conversation{}, fmt.Errorf("conversation %s: %w", id, err)
	}
	return conv, nil
}

// Open returns a conversation with its active path. A reply being written
// in it is the last message, with status streaming and the text saved so
// far (Activity has the text as it is now).
func (c *Chat) Open(ctx context.Context, id string) (history.Thread, error) {
	store, err := c.store()
	if err != nil {
		return history.Thread{}, err
	}
	return store.Thread(ctx, id)
}

// OpenAt reads a conversation to show it at message messageID (a search
// hit; 0 for none). When that message is in a version that is not the one
// shown (an alternative kept by regenerate or edit), the conversation
// switches to it, with what followed it, as the version arrows would;
// while a reply is being written in the conversation, the version shown
// stays.
func (c *Chat) OpenAt(ctx context.Context, id string, messageID int64) (history.Thread, error) {
	th, err := c.Open(ctx, id)
	if err != nil || messageID == 0 || slices.ContainsFunc(th.Messages, func(m history.Message) bool { return m.ID == messageID }) {
		return th, err
	}
	if c.idle(id) != nil {
		return th, nil
	}
	store, err := c.store()
	if err != nil {
		return th, err
	}
	alts, err := store.Alternatives(ctx, messageID)
	if errors.Is(err, history.ErrNotFound) {
		return th, nil // deleted since it was found
	} else if err != nil {
		return th, fmt.Errorf("show message %d: %w", messageID, err)
	}
	if !slices.ContainsFunc(alts, func(m history.Message) bool { return m.ID == messageID && m.ConversationID == id }) {
		return th, nil // not a message of this conversation
	}
	if err := store.SwitchTo(ctx, messageID); err != nil {
		return th, err
	}
	return c.Open(ctx, id)
}

// Rename sets a conversation's title ("" goes back to the automatic one).
func (c *Chat) Rename(ctx context.Context, id, title string) error {
	store, err := c.store()
	if err != nil {
		return err
	}
	if err := store.RenameConversation(ctx, id, title); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	c.changed(id)
	return nil
}

// SetPinned pins or unpins a conversation.
func (c *Chat) SetPinned(ctx context.Context, id string, pinned bool) error {
	store, err := c.store()
	if err != nil {
		return err
	}
	if err := store.SetPinned(ctx, id, pinned); err != nil {
		return err
	}
	c.changed(id)
	return nil
}

// SetSampling replaces a conversation's sampling settings.
func (c *Chat) SetSampling(ctx context.Context, id string, s history.Sampling) error {
	if err := s.Validate(); err != nil {
		return err
	}
	store, err := c.store()
	if err != nil {
		return err
	}
	conv, err := store.Conversation(ctx, id)
	if err != nil {
		return err
	}
	return store.UpdateSettings(ctx, id, history.ConversationSettings{SystemPrompt: conv.SystemPrompt, Model: conv.Model, Sampling: s})
}

// Delete deletes a conversation and its messages; refused (*BusyError)
// while a reply is being written in it.
func (c *Chat) Delete(ctx context.Context, id string) error {
	if err := c.idle(id); err != nil {
		return err
	}
	store, err := c.store()
	if err != nil {
		return err
	}
	if err := store.DeleteConversation(ctx, id); err != nil {
		return err
	}
	c.changed(id)
	return nil
}

// Alternatives returns the versions of a message, oldest first.
func (c *Chat) Alternatives(ctx context.Context, messageID int64) ([]history.Message, error) {
	store, err := c.store()
	if err != nil {
		return nil, err
	}
	return store.Alternatives(ctx, messageID)
}

// SwitchVersion shows the version delta steps from messageID among its
// alternatives (-1 the one before, +1 the one after), with what followed
// it. It returns false when there is no such version. Refused
// (*BusyError) while a reply is being written in the conversation.
func (c *Chat) SwitchVersion(ctx context.Context, messageID int64, delta int) (bool, error) {
	store, err := c.store()
	if err != nil {
		return false, err
	}
	alts, err := store.Alternatives(ctx, messageID)
	if err != nil {
		return false, err
	}
	k := -1
	for i, m := range alts {
		if m.ID == messageID {
			k = i + delta
		}
	}
	if k < 0 || k >= len(alts) {
		return false, nil
	}
	if err := c.idle(alts[k].ConversationID); err != nil {
		return false, err
	}
	return true, store.SwitchTo(ctx, alts[k].ID)
}

// MarkInterrupted marks replies left "streaming" by a process that died as
// interrupted, so that they can be continued or regenerated, and returns
// how many (see history.Store.MarkInterrupted: opening the history does it
// too; idle applies to replies saved by release 1 only). Replies a live
// process is writing, this one or another, are never touched.
func (c *Chat) MarkInterrupted(ctx context.Context, idle time.Duration) (int, error) {
	store, err := c.store()
	if err != nil {
		return 0, err
	}
	return store.MarkInterrupted(ctx, idle)
}

// Export writes a conversation to w in format f.
func (c *Chat) Export(ctx context.Context, w io.Writer, id string, f history.Format) error {
	store, err := c.store()
	if err != nil {
		return err
	}
	return store.Export(ctx, w, id, f)
}

// ExportFile writes a conversation to the file path in format f (complete or not at all).
func (c *Chat) ExportFile(ctx context.Context, path, id string, f history.Format) error {
	store, err := c.store()
	if err != nil {
		return err
	}
	return store.ExportFile(ctx, path, id, f)
}

// ExportAll writes every conversation into dir, one file each, and returns the paths.
func (c *Chat) ExportAll(ctx context.Context, dir string, f history.Format) ([]string, error) {
	store, err := c.store()
	if err != nil {
		return nil, err
	}
	return store.ExportAll(ctx, dir, f)
}

// Import adds a conversation from its JSON export, all or nothing, and
// returns its id.
func (c *Chat) Import(ctx context.Context, r io.Reader) (string, error) {
	store, err := c.store()
	if err != nil {
		return "", err
	}
	id, err := store.Import(ctx, r)
	if err != nil {
		return "", err
	}
	c.changed(id)
	return id, nil
}

// ImportFile imports the conversation exported (as JSON) to path. Only a
// regular file of at most history.MaxImportBytes is read: a named pipe or
// a device is refused at once, without waiting for a writer
// (inputfile.ErrNotRegular), and a larger file without reading it
// (inputfile.ErrTooLarge).
func (c *Chat) ImportFile(ctx context.Context, path string) (string, error) {
	data, err := inputfile.ReadFile(path, history.MaxImportBytes)
	if err != nil {
		return "", fmt.Errorf("import a conversation: %w", err)
	}
	return c.Import(ctx, bytes.NewReader(data))
}
