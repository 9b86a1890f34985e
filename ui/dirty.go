package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// dirtyForm tracks unsaved edits in a form: it compares a snapshot of the
// fields with the one taken when the form was loaded or saved, shows a
// mark while they differ, and asks Save / Discard / Cancel before the
// person leaves with edits unsaved.
type dirtyForm struct {
	w *Window
	// what names the form in the question ("the persona “Poet”").
	what func() string
	// snapshot returns the fields' values as one string.
	snapshot func() string
	// save saves the form and calls done(true) when it worked.
	save func(done func(ok bool))
	// discard puts the saved values back in the form.
	discard func()

	saved string
	mark  *widget.Label
	// loading suppresses change notices while the form is being filled.
	loading bool
	// asking is the question shown, if any (tests).
	asking *dialog.CustomDialog
}

func newDirtyForm(w *Window) *dirtyForm {
	d := &dirtyForm{w: w}
	d.mark = widget.NewLabelWithStyle("● Unsaved changes", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	d.mark.Importance = widget.WarningImportance
	d.mark.Hide()
	return d
}

// loaded records the fields as saved (after loading or saving the form).
func (d *dirtyForm) loaded() {
	d.saved = d.snapshot()
	d.changed()
}

// dirty reports whether the fields differ from the saved ones.
func (d *dirtyForm) dirty() bool { return !d.loading && d.snapshot() != d.saved }

// changed updates the mark (call it from the fields' OnChanged).
func (d *dirtyForm) changed() {
	if d.loading {
		return
	}
	setVisible(d.mark, d.dirty())
}

// watch calls changed whenever one of the entries changes, keeping any
// OnChanged they had.
func (d *dirtyForm) watch(entries ...*widget.Entry) {
	for _, e := range entries {
		prev := e.OnChanged
		e.OnChanged = func(s string) {
			if prev != nil {
				prev(s)
			}
			d.changed()
		}
	}
}

// watchSelect calls changed whenever a Select changes.
func (d *dirtyForm) watchSelect(sels ...*widget.Select) {
	for _, s := range sels {
		prev := s.OnChanged
		s.OnChanged = func(v string) {
			if prev != nil {
				prev(v)
			}
			d.changed()
		}
	}
}

// leave runs next at once when nothing is unsaved; otherwise it asks
// first: Save (then next, if saving worked), Discard (then next) or Cancel
// (then stay, calling stay when not nil).
func (d *dirtyForm) leave(next, stay func()) {
	if !d.dirty() {
		next()
		return
	}
	msg := widget.NewLabel("Save the changes to " + d.what() + " before leaving it? Discarded changes are lost.")
	msg.Wrapping = fyne.TextWrapWord
	var dlg *dialog.CustomDialog
	save := widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), func() {
		dlg.Hide()
		d.save(func(ok bool) {
			if ok {
				next()
			} else if stay != nil {
				stay()
			}
		})
	})
	save.Importance = widget.HighImportance
	discard := widget.NewButtonWithIcon("Discard", theme.DeleteIcon(), func() {
		dlg.Hide()
		d.discard()
		next()
	})
	discard.Importance = widget.DangerImportance
	cancel := widget.NewButton("Cancel", func() {
		dlg.Hide()
		if stay != nil {
			stay()
		}
	})
	dlg = dialog.NewCustomWithoutButtons("Unsaved changes", fixedWidth(msg, 420), d.w.win)
	dlg.SetButtons([]fyne.CanvasObject{cancel, discard, save})
	dlg.SetOnClosed(func() { d.asking = nil })
	d.asking = dlg
	dlg.Show()
}

// markTitle lays the unsaved-changes mark beside a title.
func (d *dirtyForm) markTitle(title fyne.CanvasObject) fyne.CanvasObject {
	return container.NewHBox(title, d.mark)
}
