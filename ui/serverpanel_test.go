package ui

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/testenv"
	"github.com/llamadesk/llamadesk/models"
	"github.com/llamadesk/llamadesk/server"
)

// freePort returns a TCP port free on loopback just now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func httpGet(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServerPanelStartsServesAndStops(t *testing.T) {
	tw := newTestWindow(t, true, app.ModelsConfig{})
	sp := tw.serverPanel
	port := freePort(t)
	tw.ui(func() {
		tw.openSettings()
		if sp.status.Text != "Off" {
			t.Errorf("status %q at start, want Off", sp.status.Text)
		}
		sp.port.SetText(strconv.Itoa(port))
		test.Tap(sp.enabled)
	})
	tw.settle()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	tw.ui(func() {
		if sp.running == nil || sp.running.URL() != base {
			t.Fatalf("running %v, want %s", sp.running, base)
		}
		if !strings.Contains(sp.url.Text, base+"/v1") || !strings.HasPrefix(sp.status.Text, "Serving") || !sp.port.Disabled() {
			t.Errorf("url %q, status %q, port disabled %v", sp.url.Text, sp.status.Text, sp.port.Disabled())
		}
		test.Tap(sp.copyURL)
		if got := tw.fyneApp.Clipboard().Content(); got != base+"/v1" {
			t.Errorf("copied %q", got)
		}
	})
	if code, body := httpGet(t, base+"/v1/models", ""); code != 200 || !strings.Contains(body, "chat-q4_k_m.gguf") {
		t.Fatalf("models: %d %s", code, body)
	}
	resp, err := http.Post(base+"/api/generate", "application/json",
		strings.NewReader(`{"model":"chat-q4_k_m.gguf","prompt":"hi","stream":false,"options":{"num_predict":2}}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("generate: %v %v", resp, err)
	}
	resp.Body.Close()
	tw.ui(func() {
		sp.showState()
		if !strings.Contains(sp.status.Text, "no requests in flight") || !strings.Contains(sp.status.Text, "loaded: chat-q4_k_m.gguf") {
			t.Errorf("status %q", sp.status.Text)
		}
	})
	if s, err := tw.app.LoadServerSettings(context.Background()); err != nil || !s.Enabled || s.Port != port || s.Network {
		t.Fatalf("saved %+v (%v)", s, err)
	}
	// API traffic is not in the history.
	if convs, _ := tw.chatService().List(context.Background()); len(convs) != 0 {
		t.Errorf("%d conversations after serving, want none", len(convs))
	}

	tw.ui(func() { test.Tap(sp.enabled) })
	tw.settle()
	tw.ui(func() {
		if sp.running != nil || sp.status.Text != "Off" || sp.port.Disabled() {
			t.Errorf("after stop: running %v, status %q", sp.running, sp.status.Text)
		}
	})
	if code, _ := httpGet(t, base+"/api/version", ""); code != 0 {
		t.Fatalf("still answering after stop: %d", code)
	}
	if s, _ := tw.app.LoadServerSettings(context.Background()); s.Enabled {
		t.Fatal("still saved as on")
	}

	// Saved as on, the server starts with the window (load is what New calls).
	tw.app.SaveServerSettings(context.Background(), app.ServerSettings{Enabled: true, Port: port})
	tw.ui(func() { sp.load() })
	tw.settle()
	tw.ui(func() {
		if sp.running == nil || !sp.enabled.Checked {
			t.Fatal("not started from the saved settings")
		}
	})
}

func TestServerPanelNetworkNeedsTheKey(t *testing.T) {
	tw := newTestWindow(t, false, app.ModelsConfig{})
	sp := tw.serverPanel
	port := freePort(t)
	tw.ui(func() {
		sp.port.SetText(strconv.Itoa(port))
		sp.network.SetChecked(true)
		test.Tap(sp.enabled)
	})
	tw.settle()
	var key string
	tw.ui(func() {
		if sp.running == nil || !sp.keyRow.Visible() || sp.apiKey == "" {
			t.Fatalf("running %v, key shown %v", sp.running, sp.keyRow.Visible())
		}
		key = sp.apiKey
	})
	fi, err := os.Stat(tw.app.ServerKeyPath())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/api/version"
	if code, _ := httpGet(t, url, ""); code != 401 {
		t.Errorf("without the key: %d, want 401", code)
	}
	if code, _ := httpGet(t, url, key); code != 200 {
		t.Errorf("with the key: %d, want 200", code)
	}
	// A busy port is an error in words, and the switch goes back off.
	tw.ui(func() { test.Tap(sp.enabled) })
	tw.settle()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tw.ui(func() {
		sp.network.SetChecked(false)
		sp.port.SetText(strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
		test.Tap(sp.enabled)
	})
	tw.settle()
	tw.ui(func() {
		if sp.running != nil || sp.enabled.Checked || tw.win.Canvas().Overlays().Top() == nil {
			t.Errorf("busy port: running %v, checked %v", sp.running, sp.enabled.Checked)
		}
	})
}

func TestRemoteServersInTheModelPicker(t *testing.T) {
	// The remote: our own server on another port, serving the chat model.
	dir := t.TempDir()
	if err := os.Symlink(testenv.Path(t, "models", "chat-q4_k_m.gguf"), filepath.Join(dir, "chat-q4_k_m.gguf")); err != nil {
		t.Fatal(err)
	}
	remote, err := server.Start(server.Config{Library: &models.Library{Dir: dir}, Load: app.LoadOptions{Backend: "cpu", Threads: 1}, ContextSize: 512},
		"127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Stop()

	tw := newTestWindow(t, false, app.ModelsConfig{})
	rp, p := tw.remotesPanel, tw.chat
	tw.ui(func() {
		if !p.welcome.Visible() {
			t.Error("no welcome page without any model")
		}
		rp.name.SetText("box")
		rp.url.SetText(remote.URL())
		rp.key.SetText("")
		test.Tap(rp.add)
	})
	tw.settle()
	ref := "remote:box/chat-q4_k_m.gguf"
	tw.ui(func() {
		if len(rp.last) != 1 || rp.last[0].Err != "" || len(rp.last[0].Models) != 1 {
			t.Fatalf("listing %+v", rp.last)
		}
		var row string
		walk(rp.rows, func(o fyne.CanvasObject) bool {
			if l, ok := o.(*widget.Label); ok {
				row += l.Text
			}
			return true
		})
		if !strings.Contains(row, "box — "+remote.URL()) || !strings.Contains(row, "1 model") {
			t.Errorf("row %q", row)
		}
		found := false
		for _, o := range p.modelSelect.Options {
			found = found || o == ref
		}
		if !found {
			t.Fatalf("picker %v lacks %s", p.modelSelect.Options, ref)
		}
		if p.welcome.Visible() {
			t.Error("the welcome page stays although a remote model is offered")
		}
		p.modelSelect.SetSelected(ref)
	})
	tw.settle()
	tw.ui(func() {
		if p.remoteModel() != ref || !strings.Contains(p.status.Text, ref) || !strings.Contains(p.status.Text, "remote server box") {
			t.Fatalf("model %q, status %q", p.remoteModel(), p.status.Text)
		}
		p.draftSampling = history.Sampling{MaxTokens: history.Ptr(6), Temperature: history.Ptr(0.0)}
	})
	sendMessage(tw, "Hello, remote!")
	tw.settle()
	tw.ui(func() {
		if len(p.views) != 2 || p.views[1].status != history.StatusDone || p.views[1].content == "" {
			t.Fatalf("rows %+v", p.views)
		}
	})
	th, err := tw.chatService().Open(context.Background(), p.convID)
	if err != nil || th.Messages[1].Model != ref || th.Messages[1].Stats.GeneratedTokens != 6 {
		t.Fatalf("saved %+v (%v)", th.Messages, err)
	}
	if s, _ := tw.app.LoadSettings(context.Background()); s.LastModel != ref {
		t.Errorf("last model %q, want %s", s.LastModel, ref)
	}

	// Removing the server takes its models out of the picker.
	tw.ui(func() { rp.removeRemote("box") })
	tw.ui(func() {
		if top := tw.win.Canvas().Overlays().Top(); top != nil {
			if b := findButton(top, "Delete"); b != nil {
				test.Tap(b)
			}
		}
	})
	tw.settle()
	tw.ui(func() {
		for _, o := range p.modelSelect.Options {
			if o == ref {
				t.Fatalf("picker still offers %s after removing box", ref)
			}
		}
	})
}
