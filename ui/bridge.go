package ui

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llamadesk/llamadesk/app"
)

// frameInterval is how often the window takes the chat service's events
// at most (30 Hz).
const frameInterval = 33 * time.Millisecond

// bridge is the one way the chat service's events reach the widgets: the
// service calls add on the goroutine writing a reply; the bridge queues
// the events and hands them to the UI goroutine in one fyne.Do at most
// once a frame, never queueing a second while one is pending. Text
// events carry only deltas, so the UI reads the reply's text as it is
// then (app.Chat.Activity): a slow frame loses nothing.
type bridge struct {
	w       *Window
	deliver func([]app.ReplyEvent)

	mu     sync.Mutex
	queued []app.ReplyEvent
	// wake has room for one signal: events are waiting.
	wake chan struct{}
	// pending is set while a delivery is queued on the UI goroutine.
	pending atomic.Bool
}

// newBridge subscribes to the chat service until ctx ends, handing the
// events to deliver on the UI goroutine.
func newBridge(ctx context.Context, w *Window, svc *app.Chat, deliver func([]app.ReplyEvent)) *bridge {
	// Not counted in w.bg (events come from any goroutine, counted or not):
	// it lives as long as the window and ends with ctx.
	b := &bridge{w: w, deliver: deliver, wake: make(chan struct{}, 1)}
	unsubscribe := svc.Subscribe(b.add)
	go func() {
		defer unsubscribe()
		b.run(ctx)
	}()
	return b
}

// add queues an event (any goroutine; never blocks).
func (b *bridge) add(e app.ReplyEvent) {
	b.mu.Lock()
	// Consecutive text of one reply needs no second entry: the text is
	// read at delivery.
	if n := len(b.queued); e.Kind != app.EventText || n == 0 || b.queued[n-1].Kind != app.EventText ||
		b.queued[n-1].ConversationID != e.ConversationID {
		b.queued = append(b.queued, e)
	} else {
		b.queued[n-1].Live = e.Live
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// run delivers queued events at most once a frame until ctx ends.
func (b *bridge) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		}
		if !b.pending.Swap(true) {
			b.w.do(b.flush)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(frameInterval):
		}
	}
}

// quiet reports whether no event waits for delivery (tests wait for it:
// events may come from goroutines the window does not count, such as a
// reply started by another part of the program).
func (b *bridge) quiet() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queued) == 0 && !b.pending.Load()
}

// flush hands the queued events to the page (UI goroutine).
func (b *bridge) flush() {
	b.pending.Store(false)
	b.mu.Lock()
	events := b.queued
	b.queued = nil
	b.mu.Unlock()
	if len(events) > 0 {
		b.deliver(events)
	}
}
