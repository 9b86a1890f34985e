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
	// held is set while events wait for delivery: the window's count of
	// background work (w.bg) holds one for them, so that waiting for the
	// background work waits for their effects too.
	held bool
}

// newBridge subscribes to the chat service until ctx ends, handing the
// events to deliver on the UI goroutine.
func newBridge(ctx context.Context, w *Window, svc *app.Chat, deliver func([]app.ReplyEvent)) *bridge {
	b := &bridge{w: w, deliver: deliver, wake: make(chan struct{}, 1)}
	unsubscribe := svc.Subscribe(b.add)
	// Not counted in w.bg: it lives as long as the window, and ends with ctx.
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
	if !b.held {
		b.held = true
		b.w.bg.Add(1)
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// run delivers queued events at most once a frame until ctx ends.
func (b *bridge) run(ctx context.Context) {
	defer b.release(true)
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

// release gives back the hold on w.bg once no event waits (or, with
// always, at the end).
func (b *bridge) release(always bool) {
	b.mu.Lock()
	done := b.held && (always || len(b.queued) == 0)
	if done {
		b.held = false
	}
	b.mu.Unlock()
	if done {
		b.w.bg.Done()
	}
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
	b.release(false)
}
