package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
)

// remoteListTimeout bounds asking the remote servers for their models.
const remoteListTimeout = 10 * time.Second

// remotesPanel is Settings → Remote servers: OpenAI-compatible servers
// whose models the chat's model picker offers as remote:NAME/MODEL. Adding
// and removing act at once; keys go to files only the user can read.
// Fields are used on the UI goroutine.
type remotesPanel struct {
	w    *Window
	card fyne.CanvasObject

	rows  *fyne.Container
	name  *widget.Entry
	url   *widget.Entry
	key   *widget.Entry
	add   *widget.Button
	state *widget.Label

	// listSeq numbers the listings, so that only the newest is shown.
	listSeq int
	// last is the newest listing.
	last []app.RemoteModels
}

func newRemotesPanel(w *Window) *remotesPanel {
	rp := &remotesPanel{w: w}
	rp.rows = container.NewVBox()
	rp.name = widget.NewEntry()
	rp.name.SetPlaceHolder("box")
	rp.url = widget.NewEntry()
	rp.url.SetPlaceHolder("http://box.lan:8080/v1")
	rp.key = widget.NewPasswordEntry()
	rp.key.SetPlaceHolder("optional")
	rp.add = widget.NewButtonWithIcon("Add", theme.ContentAddIcon(), rp.addRemote)
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), func() { rp.reload(false) })
	rp.state = widget.NewLabel("")
	rp.state.Wrapping = fyne.TextWrapWord
	rp.state.Importance = widget.LowImportance
	form := widget.NewForm(
		widget.NewFormItem("Name", rp.name),
		widget.NewFormItem("URL", rp.url),
		widget.NewFormItem("API key", rp.key),
	)
	about := widget.NewLabel("OpenAI-compatible servers (llama.cpp's llama-server, vLLM, Ollama, another Llamadesk, a hosted API): " +
		"their models appear in the chat's model picker as remote:NAME/MODEL, and chats with them are saved like any other. " +
		"The URL is the server's OpenAI base URL (/v1 is added when it has no path); keys are kept in files readable only by you. Adding and removing act at once.")
	about.Wrapping = fyne.TextWrapWord
	about.Importance = widget.LowImportance
	rp.card = widget.NewCard("Remote servers", "",
		container.NewVBox(about, rp.rows, rp.state, form, container.NewHBox(rp.add, refresh)))
	return rp
}

// reload lists the remote servers and asks each for its models (off the UI
// goroutine), then shows them here and in the chat's model picker. With
// autoload, the chat may then pick the remote model used last.
func (rp *remotesPanel) reload(autoload bool) {
	rp.listSeq++
	seq := rp.listSeq
	remotes := rp.w.app.Remotes()
	var list []app.RemoteModels
	rp.w.background("List the remote servers", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, remoteListTimeout)
		defer cancel()
		var err error
		list, err = remotes.AllModels(ctx)
		return err
	}, func(err error) {
		if err != nil || seq != rp.listSeq {
			return
		}
		rp.last = list
		rp.showList()
		rp.w.chat.setRemoteModels(list, autoload)
	})
}

// showList draws one row per remote server.
func (rp *remotesPanel) showList() {
	rp.rows.RemoveAll()
	if len(rp.last) == 0 {
		rp.state.SetText("No remote servers yet.")
		return
	}
	rp.state.SetText("")
	for _, r := range rp.last {
		name := r.Remote.Name
		about := r.Remote.URL
		if r.Remote.HasKey {
			about += " · with a key"
		}
		switch {
		case r.Err != "":
			about += " · " + r.Err
		case len(r.Models) == 1:
			about += " · 1 model"
		default:
			about += fmt.Sprintf(" · %d models", len(r.Models))
		}
		label := widget.NewLabel(name + " — " + about)
		label.Wrapping = fyne.TextWrapWord
		if r.Err != "" {
			label.Importance = widget.DangerImportance
		}
		remove := iconButton(theme.DeleteIcon(), "Remove "+name+" and its key", func() { rp.removeRemote(name) })
		rp.rows.Add(container.NewBorder(nil, nil, nil, remove, label))
	}
	rp.rows.Refresh()
}

// addRemote saves the server typed in the form, then lists again.
func (rp *remotesPanel) addRemote() {
	name, url, key := strings.TrimSpace(rp.name.Text), strings.TrimSpace(rp.url.Text), strings.TrimSpace(rp.key.Text)
	if name == "" || url == "" {
		rp.w.showError("Add a remote server", fmt.Errorf("give it a name and its URL"))
		return
	}
	remotes := rp.w.app.Remotes()
	rp.w.background("Add a remote server", func(context.Context) error {
		_, err := remotes.Add(name, url, key, false)
		return err
	}, func(err error) {
		if err != nil {
			return
		}
		rp.name.SetText("")
		rp.url.SetText("")
		rp.key.SetText("")
		rp.reload(false)
	})
}

// removeRemote forgets a server and its key, after asking.
func (rp *remotesPanel) removeRemote(name string) {
	rp.w.confirmDelete("Remove "+name+"?", "Its models leave the model picker and its key is deleted. Conversations with them stay.", func() {
		remotes := rp.w.app.Remotes()
		rp.w.background("Remove the remote server", func(context.Context) error {
			return remotes.Remove(name)
		}, func(error) { rp.reload(false) })
	})
}
