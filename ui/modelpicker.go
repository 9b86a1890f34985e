package ui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

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
	p.w.remotesPanel.reload(autoload)
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
		if l.Path == p.modelPath() {
			selected = label
		}
	}
	labels, selected = p.withRemoteModels(labels, selected) // see remotemodels.go
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
	if strings.HasPrefix(last, app.RemotePrefix) {
		return // a remote model: chosen again once the remote servers answer (setRemoteModels)
	}
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
	p.selectModelLabel(modelLabel(l))
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
		p.useResponder(r, path)
	})
}

// useResponder makes r (a model loaded from, or a remote model named by,
// ref) the chat's model and remembers it for the next start (UI goroutine).
func (p *chatPage) useResponder(r app.Responder, ref string) {
	p.model = r
	p.w.chatService().SetResponder(r)
	p.updateStatus()
	p.updateEmptyState()
	if p.list != nil {
		p.list.Refresh() // Continue is offered or not by the model (rowActions.canContinue)
	}
	p.rememberModel(ref)
	p.focusInput()
}

// modelPath is the file of the model in use ("" for none).
func (p *chatPage) modelPath() string {
	if lr, ok := p.model.(*app.LocalResponder); ok {
		return lr.Model().Path
	}
	return "" // none, or a remote model
}

// updateStatus shows the model in use under the input.
func (p *chatPage) updateStatus() {
	if p.model == nil {
		p.status.SetText("No model loaded")
		return
	}
	info := p.model.Info()
	parts := []string{info.Model}
	for _, s := range []string{info.Backend, info.Format, info.Warning} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	p.status.SetText(strings.Join(parts, " · "))
}

// rememberModel saves the model as the one to load next time.
func (p *chatPage) rememberModel(path string) {
	p.w.settings.LastModel = path
	s := p.w.settings
	p.w.background("Remember the model", func(ctx context.Context) error {
		return p.w.app.SaveSettings(ctx, s)
	}, nil)
}

// usePreferredModel makes the preferred model of the persona just picked
// the chat's model, unless it is the one in use: a local model is loaded
// (as if chosen in the model picker), a remote one chosen. A preferred
// model that is not here is said in the banner, and the model in use
// stays. A model the user chooses meanwhile wins.
func (p *chatPage) usePreferredModel(persona string) {
	if p.bannerC.Visible() && p.banner.Text == p.preferredNotice {
		p.bannerC.Hide() // about the persona picked before
	}
	want := p.personas[persona].Model
	if want == "" {
		return
	}
	if strings.HasPrefix(want, app.RemotePrefix) {
		if p.remoteModel() == want {
			return
		}
		if _, ok := p.remoteRefs[want]; !ok {
			p.showPreferredNotice(fmt.Sprintf("“%s” prefers the remote model %s, which no remote server offers now. The model in use stays.", persona, want))
			return
		}
		p.selectModelLabel(want)
		p.useRemote(want)
		return
	}
	seq := p.loadSeq
	svc := p.w.modelService()
	var path string
	var findErr error
	p.w.background("Find the persona's model", func(context.Context) error {
		path, findErr = svc.ModelPath(want)
		return nil // said in the banner, not in an error dialog
	}, func(error) {
		if seq != p.loadSeq || p.draftPersona != persona || p.convID != "" {
			return // another model or persona was picked meanwhile
		}
		switch {
		case errors.Is(findErr, app.ErrNotDownloaded):
			p.showPreferredNotice(fmt.Sprintf("“%s” prefers %s, which is not downloaded yet: get it in the Catalog. The model in use stays.", persona, want))
		case findErr != nil:
			p.showPreferredNotice(fmt.Sprintf("“%s” prefers %s, which is not in the models folder. The model in use stays.", persona, want))
		case path != p.modelPath():
			for label, labelPath := range p.modelPaths {
				if labelPath == path {
					p.selectModelLabel(label)
				}
			}
			p.loadModel(path)
		}
	})
}

// showPreferredNotice says in the banner why a persona's preferred model
// was not loaded (hidden again when another persona is picked).
func (p *chatPage) showPreferredNotice(text string) {
	p.preferredNotice = text
	p.showBanner(text)
}

// selectModelLabel shows label as the model picker's choice without
// acting on it.
func (p *chatPage) selectModelLabel(label string) {
	p.suppressPick = true
	p.modelSelect.SetSelected(label)
	p.suppressPick = false
}
