package ui

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/server"
)

// serverPanel is Settings → Server: the window's own server (package
// server) for editors, scripts and other interfaces — on and off, its port,
// whether other machines may connect (then with an API key), the URL to
// copy, and the requests in flight. It acts at once; its settings are
// saved when it starts or stops. Fields are used on the UI goroutine.
type serverPanel struct {
	w    *Window
	card fyne.CanvasObject

	enabled *widget.Check
	port    *widget.Entry
	network *widget.Check
	url     *widget.Label
	copyURL *widget.Button
	key     *widget.Label
	keyRow  *fyne.Container
	status  *widget.Label

	// running is the server while it runs (nil when off); stopTicker ends
	// the refresh of its status line.
	running    *server.Running
	stopTicker func()
	// busy says "Starting…" or "Stopping…" while the server does ("" when
	// neither); suppress is set while the widgets are set from code.
	busy     string
	suppress bool
	apiKey   string

	// live holds every server started and not yet stopped, whatever the
	// UI goroutine knows yet, so that closing the window stops them all.
	liveMu sync.Mutex
	live   map[*server.Running]bool
}

// serverStatusEvery is how often the requests in flight are shown.
const serverStatusEvery = time.Second

func newServerPanel(w *Window) *serverPanel {
	sp := &serverPanel{w: w, live: map[*server.Running]bool{}}
	sp.enabled = widget.NewCheck("Serve the models to other programs", func(on bool) {
		if sp.suppress {
			return
		}
		if on {
			sp.start()
		} else {
			sp.stop()
		}
	})
	sp.port = widget.NewEntry()
	sp.port.SetText(strconv.Itoa(app.DefaultServerPort))
	sp.network = widget.NewCheck("Let other machines connect (they need the API key)", nil)
	sp.url = widget.NewLabel("")
	sp.url.Wrapping = fyne.TextWrapBreak
	sp.copyURL = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		w.fyneApp.Clipboard().SetContent(sp.baseURL() + "/v1")
	})
	sp.key = widget.NewLabel("")
	copyKey := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() { w.fyneApp.Clipboard().SetContent(sp.apiKey) })
	sp.keyRow = container.NewBorder(nil, nil, nil, copyKey, sp.key)
	sp.keyRow.Hide()
	sp.status = widget.NewLabel("Off")
	sp.status.Wrapping = fyne.TextWrapWord
	item := func(label string, o fyne.CanvasObject, hint string) *widget.FormItem {
		it := widget.NewFormItem(label, o)
		it.HintText = hint
		return it
	}
	form := widget.NewForm(
		item("", sp.enabled, ""),
		item("Port", sp.port, "11435 by default (Ollama uses 11434)."),
		item("", sp.network, "Off: only this computer can connect."),
		item("URL", container.NewBorder(nil, nil, nil, sp.copyURL, sp.url), "Tools made for Ollama take it without /v1."),
		item("API key", sp.keyRow, "Send it as Authorization: Bearer <key>."),
		item("Status", sp.status, ""),
	)
	about := widget.NewLabel("Editors, scripts and other interfaces (Open WebUI, the OpenAI client libraries) can use your models " +
		"through an OpenAI-compatible API under /v1 and an Ollama-compatible one under /api. The server loads its own copy of a " +
		"model when asked (the weights' file pages are shared), with the engine settings above as they were when it started. " +
		"Its replies are not saved in the history. The API key is kept in the data folder, readable only by you. " +
		"This card acts at once, without Save.")
	about.Wrapping = fyne.TextWrapWord
	about.Importance = widget.LowImportance
	sp.card = widget.NewCard("Server", "", container.NewVBox(about, form))
	sp.showState()
	return sp
}

// load reads the saved settings into the panel and starts the server when
// it was on (once, as the window opens).
func (sp *serverPanel) load() {
	var s app.ServerSettings
	sp.w.background("Read the server settings", func(ctx context.Context) error {
		var err error
		s, err = sp.w.app.LoadServerSettings(ctx)
		return err
	}, func(err error) {
		if err != nil {
			return
		}
		sp.port.SetText(strconv.Itoa(s.Port))
		sp.network.SetChecked(s.Network)
		if s.Enabled && sp.running == nil && sp.busy == "" {
			sp.suppress = true
			sp.enabled.SetChecked(true)
			sp.suppress = false
			sp.start()
		}
	})
}

// settingsNow reads the panel's fields.
func (sp *serverPanel) settingsNow() (app.ServerSettings, error) {
	s := app.ServerSettings{Enabled: sp.enabled.Checked, Network: sp.network.Checked}
	p, err := strconv.Atoi(strings.TrimSpace(sp.port.Text))
	if err != nil {
		return s, fmt.Errorf("port %q is not a number", sp.port.Text)
	}
	s.Port = p
	return s, s.Validate()
}

// start starts the server with the window's engine settings and saves that
// it is on.
func (sp *serverPanel) start() {
	s, err := sp.settingsNow()
	if err != nil {
		sp.w.showError("Start the server", err)
		sp.setEnabled(false)
		return
	}
	sp.busy = "Starting…"
	sp.showState()
	models, settings := sp.w.modelService(), sp.w.settings
	var r *server.Running
	var key string
	sp.w.background("Start the server", func(ctx context.Context) error {
		cfg := server.Config{
			Catalog: models.Catalog, Library: models.Library,
			Load: settings.LoadOptions(), ContextSize: settings.ContextSize,
		}
		cfg.Load.MainThread = fyne.DoAndWait // see app.LoadOptions.MainThread
		host := server.DefaultHost
		if s.Network {
			host = "0.0.0.0"
			k, err := sp.w.app.ServerKey()
			if err != nil {
				return err
			}
			cfg.APIKey, key = k, k
		}
		var err error
		if r, err = server.Start(cfg, host, s.Port); err != nil {
			return err
		}
		sp.liveMu.Lock()
		sp.live[r] = true
		sp.liveMu.Unlock()
		return sp.w.app.SaveServerSettings(ctx, s)
	}, func(err error) {
		sp.busy = ""
		if err != nil {
			if r != nil {
				sp.w.background("Stop the server", func(context.Context) error { return sp.stopLive(r) }, nil)
			}
			sp.setEnabled(false)
			sp.showState()
			return
		}
		sp.running, sp.apiKey = r, key
		sp.watch(r)
		sp.showState()
	})
}

// stop stops the server (the generations in flight end) and saves that it
// is off.
func (sp *serverPanel) stop() {
	r := sp.running
	if r == nil {
		return
	}
	sp.running = nil
	sp.busy = "Stopping…"
	if sp.stopTicker != nil {
		sp.stopTicker()
	}
	sp.showState()
	s, _ := sp.settingsNow()
	s.Enabled = false
	sp.w.background("Stop the server", func(ctx context.Context) error {
		err := sp.stopLive(r)
		if s.Validate() == nil {
			err = errors.Join(err, sp.w.app.SaveServerSettings(ctx, s))
		}
		return err
	}, func(error) {
		sp.busy = ""
		sp.showState()
	})
}

// stopLive stops a server started by the panel.
func (sp *serverPanel) stopLive(r *server.Running) error {
	sp.liveMu.Lock()
	delete(sp.live, r)
	sp.liveMu.Unlock()
	return r.Stop()
}

// close stops the servers as the window closes (after its background work
// ended), without saving that they are off: the server starts again with
// the window.
func (sp *serverPanel) close() {
	sp.liveMu.Lock()
	var all []*server.Running
	for r := range sp.live {
		all = append(all, r)
	}
	clear(sp.live)
	sp.liveMu.Unlock()
	for _, r := range all {
		r.Stop()
	}
}

func (sp *serverPanel) setEnabled(on bool) {
	sp.suppress = true
	sp.enabled.SetChecked(on)
	sp.suppress = false
}

// watch refreshes the status line every second while r runs.
func (sp *serverPanel) watch(r *server.Running) {
	ctx, cancel := context.WithCancel(sp.w.ctx)
	sp.stopTicker = cancel
	go func() {
		t := time.NewTicker(serverStatusEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				st := r.Status()
				sp.w.do(func() {
					if sp.running == r {
						sp.showStatus(st)
					}
				})
			}
		}
	}()
}

// baseURL is the address to give programs on this machine (loopback,
// whatever address the server listens on).
func (sp *serverPanel) baseURL() string {
	port := strings.TrimSpace(sp.port.Text)
	if sp.running != nil {
		if _, p, err := net.SplitHostPort(strings.TrimPrefix(sp.running.URL(), "http://")); err == nil {
			port = p
		}
	}
	if port == "" {
		port = strconv.Itoa(app.DefaultServerPort)
	}
	return "http://" + net.JoinHostPort(server.DefaultHost, port)
}

// showState shows whether the server runs and what can be changed.
func (sp *serverPanel) showState() {
	on := sp.running != nil
	if sp.busy != "" {
		sp.enabled.Disable()
	} else {
		sp.enabled.Enable()
	}
	for _, e := range []fyne.Disableable{sp.port, sp.network} {
		if on || sp.busy != "" {
			e.Disable()
		} else {
			e.Enable()
		}
	}
	url := sp.baseURL() + "/v1"
	if on && sp.network.Checked {
		if ip := lanAddress(); ip != "" {
			_, port, _ := net.SplitHostPort(strings.TrimPrefix(sp.running.URL(), "http://"))
			url += "\nOther machines: http://" + net.JoinHostPort(ip, port) + "/v1"
		}
	}
	sp.url.SetText(url)
	if on && sp.apiKey != "" {
		sp.key.SetText(sp.apiKey)
		sp.keyRow.Show()
	} else {
		sp.keyRow.Hide()
	}
	switch {
	case sp.busy != "":
		sp.status.SetText(sp.busy)
	case on:
		sp.showStatus(sp.running.Status())
	default:
		sp.status.SetText("Off")
	}
}

// showStatus shows the requests in flight and the loaded models.
func (sp *serverPanel) showStatus(st server.Status) {
	text := "Serving · "
	switch st.InFlight {
	case 0:
		text += "no requests in flight"
	case 1:
		text += "1 request in flight"
	default:
		text += fmt.Sprintf("%d requests in flight", st.InFlight)
	}
	if st.Queued > 0 {
		text += fmt.Sprintf(" (%d waiting)", st.Queued)
	}
	if len(st.Loaded) > 0 {
		text += " · loaded: " + strings.Join(st.Loaded, ", ")
	}
	sp.status.SetText(text)
}

// lanAddress returns an address other machines may reach this one at (the
// first non-loopback IPv4 address), or "".
func lanAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
