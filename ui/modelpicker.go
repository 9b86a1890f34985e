package ui

import (
	"context"
	"fmt"
	"path/filepath"

	"fyne.io/fyne/v2"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/models"
)

// refreshModels rescans the local models for the picker and the welcome
// page; with autoload, it then loads the last model used (or the only one).
func (p *chatPage) refreshModels(autoload bool) {
	var list *app.ModelList
	ctxLen := p.w.settings.ContextSize
	p.w.background("List the local models", func(ctx context.Context) error {
		var err error
		list, err = p.w.modelService().List(models.FitOptions{Context: ctxLen})
		return err
	}, func(err error) {
		if err != nil {
			return
		}
		p.setLocalModels(list.Local)
		if autoload && p.model == nil {
			p.autoload(list.Local)
		}
	})
}

// setLocalModels fills the model picker (UI goroutine).
func (p *chatPage) setLocalModels(local []app.LocalEntry) {
	p.localCount = len(local)
	p.modelPaths = map[string]string{}
	var labels []string
	selected := ""
	for _, l := range local {
		label := modelLabel(l)
		p.modelPaths[label] = l.Path
		labels = append(labels, label)
		if p.model != nil && l.Path == p.model.Model().Path {
			selected = label
		}
	}
	p.suppressPick = true
	p.modelSelect.Options = labels
	if selected != "" {
		p.modelSelect.SetSelected(selected)
	} else if p.model == nil && p.loadSeq == 0 {
		p.modelSelect.ClearSelected()
	}
	p.modelSelect.Refresh()
	p.suppressPick = false
	p.updateEmptyState()
}

// modelLabel is how the picker shows a local model: its file and fit.
func modelLabel(l app.LocalEntry) string {
	label := l.File
	switch {
	case l.Err != "":
		label += " · unreadable"
	case l.FitSummary != "":
		label += " · " + l.FitSummary
	}
	return label
}

// autoload loads the last model used, or the only local one.
func (p *chatPage) autoload(local []app.LocalEntry) {
	last := p.w.settings.LastModel
	for _, l := range local {
		if last != "" && l.Path == last && l.Err == "" {
			p.selectAndLoad(l)
			return
		}
	}
	if len(local) == 1 && local[0].Err == "" {
		p.selectAndLoad(local[0])
	}
}

func (p *chatPage) selectAndLoad(l app.LocalEntry) {
	p.suppressPick = true
	p.modelSelect.SetSelected(modelLabel(l))
	p.suppressPick = false
	p.loadModel(l.Path)
}

// loadModel loads a model off the UI goroutine, with a progress bar, and
// makes it the chat's model when it is ready. A reply being written on
// the previous model goes on; the service closes that model after it.
func (p *chatPage) loadModel(path string) {
	p.loadSeq++
	seq := p.loadSeq
	p.loadLabel.SetText("Loading " + filepath.Base(path) + "…")
	p.loadBox.Show()
	p.loadBar.Start()
	p.status.SetText("Loading " + filepath.Base(path) + "…")
	settings := p.w.settings
	var r *app.LocalResponder
	p.w.background("Load the model", func(ctx context.Context) error {
		opts := settings.LoadOptions()
		opts.MainThread = fyne.DoAndWait // see app.LoadOptions.MainThread
		lm, err := app.LoadModel(path, opts)
		if err != nil {
			return err
		}
		r, err = app.NewLocalResponder(lm, settings.ContextSize)
		if err != nil {
			lm.Close()
			return fmt.Errorf("prepare %s: %w", filepath.Base(path), err)
		}
		return nil
	}, func(err error) {
		if seq != p.loadSeq {
			// A later choice replaced this one.
			if r != nil {
				p.w.background("Close the model", func(context.Context) error { return r.Close() }, nil)
			}
			return
		}
		p.loadBar.Stop()
		p.loadBox.Hide()
		if err != nil {
			p.status.SetText("The model could not be loaded: choose another one")
			return
		}
		p.model = r
		p.w.chatService().SetResponder(r)
		p.updateStatus()
		p.updateEmptyState()
		p.rememberModel(path)
		p.focusInput()
	})
}

// modelPath is the file of the model in use ("" for none).
func (p *chatPage) modelPath() string {
	if p.model == nil {
		return ""
	}
	return p.model.Model().Path
}

// updateStatus shows the model in use under the input.
func (p *chatPage) updateStatus() {
	if p.model == nil {
		p.status.SetText("No model loaded")
		return
	}
	info := p.model.Info()
	text := info.Model + " · " + info.Backend + " · " + info.Format
	if info.Warning != "" {
		text += " · " + info.Warning
	}
	p.status.SetText(text)
}

// rememberModel saves the model as the one to load next time.
func (p *chatPage) rememberModel(path string) {
	p.w.settings.LastModel = path
	s := p.w.settings
	p.w.background("Remember the model", func(ctx context.Context) error {
		return p.w.app.SaveSettings(ctx, s)
	}, nil)
}
