package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/history"
)

// personasPage lists the personas and edits one: name, system prompt,
// sampling defaults and preferred model; duplicate, delete, import, export.
type personasPage struct {
	w        *Window
	content  fyne.CanvasObject
	list     *widget.List
	personas []history.Persona
	// editing is the name of the persona in the editor ("" for a new one).
	editing string

	name   *widget.Entry
	prompt *widget.Entry
	// model picks the preferred model among the local ones (localFiles,
	// as last listed).
	model      *widget.Select
	localFiles []string
	// edits tracks unsaved changes; selecting tells list selections made by
	// code from the person's.
	edits     *dirtyForm
	selecting bool
	scroll    *container.Scroll
	sampling  *samplingForm
	form      *fyne.Container
	title     *widget.Label
	dupBtn    *widget.Button
	delBtn    *widget.Button
	defBtn    *widget.Button
}

func newPersonasPage(w *Window) *personasPage {
	pp := &personasPage{w: w}
	pp.list = widget.NewList(
		func() int { return len(pp.personas) },
		func() fyne.CanvasObject {
			t := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			t.Truncation = fyne.TextTruncateEllipsis
			d := widget.NewLabel("")
			d.SizeName = theme.SizeNameCaptionText
			d.Truncation = fyne.TextTruncateEllipsis
			return container.New(&tightVBox{}, t, d)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(pp.personas) {
				return
			}
			p := pp.personas[id]
			c := o.(*fyne.Container)
			name := p.Name
			if p.Name == w.settings.DefaultPersona {
				name += "  (default)"
			}
			c.Objects[0].(*widget.Label).SetText(name)
			c.Objects[1].(*widget.Label).SetText(firstWords(p.SystemPrompt, 12))
		})
	pp.list.OnSelected = func(id widget.ListItemID) {
		if pp.selecting || id >= len(pp.personas) || pp.personas[id].Name == pp.editing && pp.editing != "" {
			return
		}
		p := pp.personas[id]
		pp.edits.leave(func() { pp.edit(p) }, func() { pp.selectEditing() })
	}
	newBtn := widget.NewButtonWithIcon("New", theme.ContentAddIcon(), func() {
		pp.edits.leave(func() {
			pp.setSelection(-1)
			pp.edit(history.Persona{})
		}, nil)
	})
	importBtn := widget.NewButtonWithIcon("Import…", theme.FolderOpenIcon(), pp.importFile)
	exportBtn := newTipButton(widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), pp.exportFile), "Export every persona to a file")
	restoreBtn := newTipButton(widget.NewButtonWithIcon("Restore", theme.HistoryIcon(), pp.restore), "Restore the built-in personas as shipped")
	left := container.NewBorder(container.NewGridWithColumns(2, newBtn, importBtn, exportBtn, restoreBtn), nil, nil, nil, pp.list)

	pp.title = widget.NewLabelWithStyle("New persona", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	pp.name = widget.NewEntry()
	pp.name.SetPlaceHolder("A short name, such as “Coding assistant”")
	pp.prompt = widget.NewMultiLineEntry()
	pp.prompt.Wrapping = fyne.TextWrapWord
	pp.prompt.SetMinRowsVisible(8)
	pp.prompt.SetPlaceHolder("The system prompt: who the assistant is and how it answers.")
	pp.model = widget.NewSelect([]string{noModel}, nil)
	pp.sampling = newSamplingForm(history.Sampling{})
	pp.edits = newDirtyForm(w)
	pp.edits.what = func() string {
		if pp.editing == "" {
			return "the new persona"
		}
		return "the persona “" + pp.editing + "”"
	}
	pp.edits.snapshot = pp.snapshot
	pp.edits.save = pp.saveThen
	pp.edits.discard = func() { pp.edit(pp.saved()) }
	pp.edits.watch(append([]*widget.Entry{pp.name, pp.prompt}, pp.sampling.entries()...)...)
	pp.edits.watchSelect(pp.model)
	save := widget.NewButtonWithIcon("Save (Ctrl+S)", theme.DocumentSaveIcon(), pp.save)
	save.Importance = widget.HighImportance
	pp.dupBtn = widget.NewButtonWithIcon("Duplicate", theme.ContentCopyIcon(), pp.duplicate)
	pp.delBtn = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), pp.remove)
	pp.delBtn.Importance = widget.DangerImportance
	pp.defBtn = widget.NewButtonWithIcon("Use for new chats", theme.ConfirmIcon(), pp.makeDefault)
	items := []*widget.FormItem{
		widget.NewFormItem("Name", pp.name),
		widget.NewFormItem("System prompt", pp.prompt),
	}
	items = append(items, pp.sampling.items()...)
	modelItem := widget.NewFormItem("Preferred model", pp.model)
	modelItem.HintText = "New chats with this persona load it (from the models folder)."
	items = append(items, modelItem)
	form := widget.NewForm(wheelFormItems(items, scrollTarget(&pp.scroll))...)
	buttons := container.NewHBox(save, pp.defBtn, pp.dupBtn, pp.delBtn)
	pp.form = container.NewVBox(pp.edits.markTitle(pp.title), form)
	pp.scroll = container.NewVScroll(container.NewPadded(pp.form))
	right := container.NewBorder(nil, container.NewPadded(buttons), nil, nil, pp.scroll)
	split := container.NewHSplit(left, right)
	split.Offset = 0.3
	pp.content = split
	pp.edit(history.Persona{})
	return pp
}

// reload lists the personas again, keeping the one being edited.
func (pp *personasPage) reload() {
	pp.w.loadPersonas(func(list []history.Persona) {
		pp.personas = list
		pp.list.Refresh()
		if pp.selectEditing() {
			return
		}
		if pp.editing == "" && !pp.edits.dirty() && len(list) > 0 {
			pp.setSelection(0)
			pp.edit(list[0])
		}
	})
	pp.loadModels()
}

// noModel is the model picker's choice for no preferred model.
const noModel = "None"

// loadModels fills the preferred-model picker with the local models.
func (pp *personasPage) loadModels() {
	var files []string
	pp.w.background("List the local models", func(ctx context.Context) error {
		local, err := pp.w.modelService().Library.Scan()
		for _, l := range local {
			files = append(files, l.File)
		}
		return err
	}, func(err error) {
		if err == nil {
			pp.setModelOptions(files, pp.model.Selected)
		}
	})
}

// setModelOptions offers files (and keeps current, a model not in the
// folder now, as a choice).
func (pp *personasPage) setModelOptions(files []string, current string) {
	pp.localFiles = files
	opts := append([]string{noModel}, files...)
	if current != "" && current != noModel && !slices.Contains(files, current) {
		opts = append(opts, current)
	}
	pp.model.Options = opts
	pp.model.Refresh()
}

// selectEditing selects the persona being edited in the list, reporting
// whether it is there.
func (pp *personasPage) selectEditing() bool {
	for i, p := range pp.personas {
		if p.Name == pp.editing && pp.editing != "" {
			pp.setSelection(i)
			return true
		}
	}
	pp.setSelection(-1)
	return false
}

// setSelection selects row i (-1: none) without editing it.
func (pp *personasPage) setSelection(i int) {
	pp.selecting = true
	defer func() { pp.selecting = false }()
	if i < 0 {
		pp.list.UnselectAll()
	} else {
		pp.list.Select(i)
	}
}

// snapshot is the editor's fields as one string (see dirtyForm).
func (pp *personasPage) snapshot() string {
	parts := []string{pp.name.Text, pp.prompt.Text, pp.model.Selected}
	for _, e := range pp.sampling.entries() {
		parts = append(parts, e.Text)
	}
	return strings.Join(parts, "\x00")
}

// saved returns the persona being edited as saved.
func (pp *personasPage) saved() history.Persona {
	for _, p := range pp.personas {
		if p.Name == pp.editing && pp.editing != "" {
			return p
		}
	}
	return history.Persona{}
}

// edit puts a persona in the editor (an empty one for a new persona).
func (pp *personasPage) edit(p history.Persona) {
	pp.editing = p.Name
	if p.Name == "" {
		pp.title.SetText("New persona")
	} else {
		pp.title.SetText("Edit “" + p.Name + "”")
	}
	pp.edits.loading = true
	pp.name.SetText(p.Name)
	pp.prompt.SetText(p.SystemPrompt)
	model := p.Model
	if model == "" {
		model = noModel
	}
	pp.setModelOptions(pp.localFiles, model)
	pp.model.SetSelected(model)
	pp.sampling.load(p.Sampling)
	pp.edits.loading = false
	pp.edits.loaded()
	existing := p.Name != ""
	setEnabled(pp.dupBtn, existing)
	setEnabled(pp.delBtn, existing)
	setEnabled(pp.defBtn, existing)
}

// current returns the persona the editor describes, validated.
func (pp *personasPage) current() (history.Persona, error) {
	base := history.Persona{}
	for _, p := range pp.personas {
		if p.Name == pp.editing && pp.editing != "" {
			base = p
		}
	}
	s, err := pp.sampling.sampling(base.Sampling)
	if err != nil {
		return base, err
	}
	model := pp.model.Selected
	if model == noModel {
		model = ""
	}
	p := history.Persona{Name: pp.name.Text, SystemPrompt: pp.prompt.Text, Model: model, Sampling: s}
	return p, p.Validate()
}

// save creates or updates the persona in the editor.
func (pp *personasPage) save() { pp.saveThen(func(bool) {}) }

// saveThen saves, then tells done whether it worked.
func (pp *personasPage) saveThen(done func(ok bool)) {
	p, err := pp.current()
	if err != nil {
		pp.w.showError("Save the persona", err)
		done(false)
		return
	}
	original := pp.editing
	pp.w.background("Save the persona", func(ctx context.Context) error {
		return pp.w.app.Personas().Save(ctx, original, p)
	}, func(err error) {
		if err != nil {
			done(false)
			return
		}
		pp.editing = p.Name
		pp.title.SetText("Edit “" + p.Name + "”")
		pp.edits.loaded()
		pp.changed()
		done(true)
	})
}

// changed reloads the list and the chat's persona picker.
func (pp *personasPage) changed() {
	pp.reload()
	pp.w.chat.reloadPersonas()
}

// duplicate copies the persona being edited under a free name.
func (pp *personasPage) duplicate() {
	name := pp.editing
	var cp history.Persona
	pp.w.background("Duplicate the persona", func(ctx context.Context) error {
		var err error
		cp, err = pp.w.app.Personas().Duplicate(ctx, name)
		return err
	}, func(err error) {
		if err == nil {
			pp.edit(cp)
			pp.changed()
		}
	})
}

// remove deletes the persona being edited, after confirmation.
func (pp *personasPage) remove() {
	name := pp.editing
	pp.w.confirmDelete("Delete persona", "Delete “"+name+"”? Conversations started with it keep its system prompt.", func() {
		pp.w.background("Delete the persona", func(ctx context.Context) error {
			return pp.w.app.Personas().Delete(ctx, name)
		}, func(err error) {
			if err == nil {
				pp.list.UnselectAll()
				pp.edit(history.Persona{})
				pp.changed()
			}
		})
	})
}

// makeDefault makes new chats start with the persona being edited.
func (pp *personasPage) makeDefault() {
	pp.w.settings.DefaultPersona = pp.editing
	s := pp.w.settings
	pp.w.background("Save the default persona", func(ctx context.Context) error {
		return pp.w.app.SaveSettings(ctx, s)
	}, func(err error) {
		pp.list.Refresh()
		if err == nil && pp.w.chat.convID == "" && len(pp.w.chat.views) == 0 {
			pp.w.chat.draftPersona = s.DefaultPersona
			pp.w.chat.showPersona()
		}
	})
}

// restore puts the built-in personas back as they were shipped.
func (pp *personasPage) restore() {
	dialog.ShowConfirm("Restore built-in personas", "Add back the built-in personas, undoing your edits to them? Your own personas are kept.", func(ok bool) {
		if !ok {
			return
		}
		pp.w.background("Restore the built-in personas", func(ctx context.Context) error {
			return pp.w.app.Personas().RestoreBuiltins(ctx)
		}, func(err error) {
			if err == nil {
				pp.changed()
			}
		})
	}, pp.w.win)
}

// importFile adds the personas of a persona file (JSON).
func (pp *personasPage) importFile() {
	pp.w.chooseFile(fileChoice{title: "Import personas", filters: []fileFilter{{"Persona files", []string{".json"}}}}, func(path string) {
		replace := widget.NewCheck("Replace personas that have the same name", nil)
		dialog.ShowCustomConfirm("Import personas from "+filepath.Base(path), "Import", "Cancel", replace, func(ok bool) {
			if !ok {
				return
			}
			var added []history.Persona
			replaceThem := replace.Checked
			pp.w.background("Import personas", func(ctx context.Context) error {
				var err error
				added, err = pp.w.app.Personas().ImportFile(ctx, path, replaceThem)
				return err
			}, func(err error) {
				if err == nil {
					pp.changed()
					dialog.ShowInformation("Personas imported", fmt.Sprintf("%d personas were imported.", len(added)), pp.w.win)
				}
			})
		}, pp.w.win)
	})
}

// exportFile writes every persona to a persona file.
func (pp *personasPage) exportFile() {
	pp.w.chooseFile(fileChoice{title: "Export personas", save: true, name: "llamadesk-personas.json",
		filters: []fileFilter{{"Persona files", []string{".json"}}}}, func(path string) {
		pp.w.background("Export personas", func(ctx context.Context) error {
			return pp.w.app.Personas().ExportFile(ctx, path)
		}, nil)
	})
}
