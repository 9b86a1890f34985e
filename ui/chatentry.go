package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// chatEntry is the message input: a multi-line Entry where Enter sends and
// Shift+Enter starts a new line (Fyne's multi-line Entry does the
// opposite), and Esc stops a reply.
type chatEntry struct {
	widget.Entry
	// onSend is called on Enter; onEscape on Esc (UI goroutine).
	onSend   func()
	onEscape func()
	shift    bool
}

func newChatEntry() *chatEntry {
	e := &chatEntry{}
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	e.SetMinRowsVisible(3)
	e.ExtendBaseWidget(e)
	return e
}

// KeyDown notes the Shift key, then lets the Entry handle the key.
func (e *chatEntry) KeyDown(k *fyne.KeyEvent) {
	if k.Name == desktop.KeyShiftLeft || k.Name == desktop.KeyShiftRight {
		e.shift = true
	}
	e.Entry.KeyDown(k)
}

// KeyUp notes the Shift key's release, then lets the Entry handle the key.
func (e *chatEntry) KeyUp(k *fyne.KeyEvent) {
	if k.Name == desktop.KeyShiftLeft || k.Name == desktop.KeyShiftRight {
		e.shift = false
	}
	e.Entry.KeyUp(k)
}

// TypedKey sends on Enter, breaks the line on Shift+Enter and stops on Esc.
func (e *chatEntry) TypedKey(k *fyne.KeyEvent) {
	switch k.Name {
	case fyne.KeyReturn, fyne.KeyEnter:
		if e.shift {
			// The Entry inserts a newline on Return when it has no OnSubmitted.
			e.Entry.TypedKey(k)
			return
		}
		if e.onSend != nil {
			e.onSend()
		}
		return
	case fyne.KeyEscape:
		if e.onEscape != nil {
			e.onEscape()
		}
		return
	}
	e.Entry.TypedKey(k)
}
