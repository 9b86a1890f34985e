package ui

import (
	"context"
	"strings"

	"github.com/llamadesk/llamadesk/app"
)

// Remote models in the chat's model picker: after the local files come the
// models of the remote servers (Settings → Remote servers), labelled by
// their names, remote:NAME/MODEL. Choosing one makes it the chat's model at
// once: nothing is loaded, the first reply goes online.

// setRemoteModels puts the remote servers' models in the picker after the
// local ones (UI goroutine). With autoload and no model chosen yet, the
// remote model used last is chosen again when it is still offered.
func (p *chatPage) setRemoteModels(list []app.RemoteModels, autoload bool) {
	p.remoteRefs = map[string]string{}
	var remote []string
	for _, r := range list {
		for _, ref := range r.Models {
			p.remoteRefs[ref] = ref
			remote = append(remote, ref)
		}
	}
	var options []string
	for _, o := range p.modelSelect.Options {
		if _, local := p.modelPaths[o]; local {
			options = append(options, o)
		}
	}
	p.suppressPick = true
	p.modelSelect.Options = append(options, remote...)
	if ref := p.remoteModel(); ref != "" {
		if _, ok := p.remoteRefs[ref]; ok {
			p.modelSelect.SetSelected(ref)
		}
	}
	p.modelSelect.Refresh()
	p.suppressPick = false
	p.updateEmptyState()
	if last := p.w.settings.LastModel; autoload && p.model == nil && p.loadSeq == 0 && strings.HasPrefix(last, app.RemotePrefix) {
		if _, ok := p.remoteRefs[last]; ok {
			p.suppressPick = true
			p.modelSelect.SetSelected(last)
			p.suppressPick = false
			p.useRemote(last)
		}
	}
}

// remoteModel returns the remote model in use ("" when the model is local
// or there is none).
func (p *chatPage) remoteModel() string {
	if r, ok := p.model.(*app.RemoteResponder); ok {
		return r.Info().Model
	}
	return ""
}

// useRemote makes the remote model ref the chat's model (UI goroutine).
func (p *chatPage) useRemote(ref string) {
	p.loadSeq++ // a local model still loading is not wanted any more
	seq := p.loadSeq
	p.loadBar.Stop()
	p.loadBox.Hide()
	remotes := p.w.app.Remotes()
	var r *app.RemoteResponder
	p.w.background("Use the remote model", func(context.Context) error {
		var err error
		r, err = remotes.Responder(ref)
		return err
	}, func(err error) {
		if err != nil || seq != p.loadSeq {
			return
		}
		p.useResponder(r, ref)
	})
}

// hasModels reports whether the picker offers any model, local or remote.
func (p *chatPage) hasModels() bool { return p.localCount > 0 || len(p.remoteRefs) > 0 }

// withRemoteModels appends the remote models the picker offers to the
// local labels, and returns the label to select: the remote model in use
// when there is one.
func (p *chatPage) withRemoteModels(labels []string, selected string) ([]string, string) {
	for _, o := range p.modelSelect.Options {
		if _, ok := p.remoteRefs[o]; ok {
			labels = append(labels, o)
		}
	}
	if ref := p.remoteModel(); ref != "" {
		if _, ok := p.remoteRefs[ref]; ok {
			selected = ref
		}
	}
	return labels, selected
}
