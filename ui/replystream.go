package ui

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llamadesk/llamadesk/app"
)

// frameInterval is how often a streaming reply is redrawn at most (30 Hz).
const frameInterval = 33 * time.Millisecond

// replyStream is the bridge between a reply being generated (on its own
// goroutine) and the window: the generator appends text; a ticker asks
// the UI goroutine to redraw at most once a frame, and never queues a
// second redraw while one is pending.
type replyStream struct {
	cancel  context.CancelFunc
	draftID int

	mu     sync.Mutex
	convID string
	msgID  int64
	text   strings.Builder
	dirty  bool

	// pending is set while a redraw is queued on the UI goroutine.
	pending atomic.Bool
}

func newReplyStream(cancel context.CancelFunc, convID string, draftID int) *replyStream {
	return &replyStream{cancel: cancel, convID: convID, draftID: draftID}
}

// add takes one event of the reply (generator goroutine).
func (r *replyStream) add(e app.ReplyEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.MessageID != 0 {
		r.msgID = e.MessageID
	}
	if e.Text != "" {
		r.text.WriteString(e.Text)
		r.dirty = true
	}
}

// snapshot returns the text so far.
func (r *replyStream) snapshot() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.text.String()
}

func (r *replyStream) messageID() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgID
}

func (r *replyStream) messageIDIs(id int64) bool { return r.messageID() == id }

func (r *replyStream) conversation() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.convID
}

func (r *replyStream) setConversation(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.convID = id
}

// takeDirty reports whether text came since the last call.
func (r *replyStream) takeDirty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.dirty
	r.dirty = false
	return d
}

// tick calls redraw (which must hand its work to the UI goroutine, and
// clear nothing itself) at most once per frame while new text arrives,
// until the returned stop is called; stop waits for the ticker to end.
func (r *replyStream) tick(redraw func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(frameInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if r.pending.Load() || !r.takeDirty() {
					continue
				}
				r.pending.Store(true)
				redraw()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// drawn marks the queued redraw as done (UI goroutine).
func (r *replyStream) drawn() { r.pending.Store(false) }
