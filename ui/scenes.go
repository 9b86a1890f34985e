package ui

import (
	"strings"
	"time"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
)

// SceneEnv names a development environment variable that sets the window
// up, a moment after it opens, to show one thing for `make screenshots`:
//
//	search          the sidebar searching "Lisbon"
//	rename          the rename dialog
//	delete          a delete confirmation
//	toolong         a draft too long for the context, refused with its choices
//	sampling        the sampling dialog
//	tooltip         a tooltip on an icon-only button
//	generating      a reply streaming in one conversation while another is open
//	persona-dirty   leaving a persona with unsaved edits
//	settings-dirty  the settings with unsaved edits
//	download-failed a failed download (start the app with an unreachable HF_ENDPOINT)
//	error-details   the Details of that failure
//	show-path       "show in folder" without a file manager (start without xdg-open)
//
// Scenes do what a person would, through the same code paths.
const SceneEnv = "LLAMADESK_UI_SCENE"

// sceneDelay lets the window open, load its model and show its first
// conversation before a scene starts.
const sceneDelay = 1500 * time.Millisecond

// runScene plays a scene (see SceneEnv) once the window has settled.
func (w *Window) runScene(name string) {
	if name == "" {
		return
	}
	var try func(n int)
	try = func(n int) {
		time.AfterFunc(sceneDelay, func() {
			w.do(func() {
				// Most scenes need the model loaded and the conversations listed.
				busy := w.chat.model == nil || len(w.chat.sidebar.entries) == 0 || w.page == PageChat && w.chat.convID == ""
				if busy && n < 20 {
					try(n + 1)
					return
				}
				w.scene(name)
			})
		})
	}
	try(0)
}

// scene sets up one scene (UI goroutine).
func (w *Window) scene(name string) {
	p := w.chat
	newest := func() (history.Conversation, bool) {
		for _, e := range p.sidebar.entries {
			if e.header == "" && e.hit == nil {
				return e.conv, true
			}
		}
		return history.Conversation{}, false
	}
	switch name {
	case "search":
		if !p.sideLayout.shown {
			p.toggleSidebar()
		}
		p.sidebar.search.SetText("Lisbon")
	case "rename":
		if c, ok := newest(); ok {
			p.rename(c)
		}
	case "delete":
		if c, ok := newest(); ok {
			w.confirmDelete("Delete conversation", "Delete “"+displayTitle(c)+"” and all its messages?", func() {})
		}
	case "toolong":
		// A context of 256 tokens, so that a paragraph overflows it.
		w.settings.ContextSize = 256
		p.loadModel(p.modelPath())
		p.newDraft(p.draftPersona)
		p.entry.SetText(strings.Repeat("Tell me everything about the history of tea, in detail. ", 30))
		time.AfterFunc(2*time.Second, func() { w.do(p.send) })
	case "sampling":
		p.editSampling()
	case "tooltip":
		w.tips.show(p.exportBtn, p.exportBtn.tip)
	case "generating":
		w.sceneGenerating()
	case "persona-dirty":
		w.tabs.Select(w.personasTab)
		time.AfterFunc(time.Second, func() {
			w.do(func() {
				pp := w.personasPage
				pp.prompt.SetText(pp.prompt.Text + " Keep every answer under fifty words.")
				if len(pp.personas) > 1 {
					pp.list.Select(1)
				}
			})
		})
	case "settings-dirty":
		w.tabs.Select(w.settingsTab)
		w.settingsPage.threads.SetText("3")
		w.settingsPage.contextSize.SetText("2048")
	case "download-failed", "error-details":
		w.showPage(PageCatalog)
		if m := w.modelsPage.catalogFirst(); m != nil {
			w.modelsPage.download(*m)
		}
		w.showPage(PageDownloads)
		if name == "error-details" {
			time.AfterFunc(3*time.Second, func() {
				w.do(func() {
					for _, e := range w.downloads.entries {
						if e.err != nil {
							w.showError("Downloading "+e.name+" failed", e.err)
							return
						}
					}
				})
			})
		}
	case "show-path":
		w.showPage(PageModels)
		w.showInFolder(w.modelService().Library.Dir)
	}
}

// sceneGenerating starts a long reply in the second conversation of the
// list and then shows the first: the sidebar marks the one being written
// in, with its speed, and the one shown stays usable.
func (w *Window) sceneGenerating() {
	p := w.chat
	var convs []history.Conversation
	for _, e := range p.sidebar.entries {
		if e.header == "" && e.hit == nil {
			convs = append(convs, e.conv)
		}
	}
	if len(convs) < 2 {
		return
	}
	busy, shown := convs[1], convs[0]
	svc := w.chatService()
	opts := app.ReplyOptions{Sampling: history.Sampling{Temperature: history.Ptr(1.0), MaxTokens: history.Ptr(100000)}}
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		_, _ = svc.Send(w.ctx, busy.ID, "Tell me a very long story about the sea.", opts, nil)
	}()
	p.openConversation(shown.ID)
	p.entry.SetText("Meanwhile, a question here…")
	if !p.sideLayout.shown {
		// Opening a conversation closed the drawer: show the mark.
		time.AfterFunc(time.Second, func() { w.do(p.toggleSidebar) })
	}
}
