package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/internal/testenv"
	"github.com/llamadesk/llamadesk/models"
	"github.com/llamadesk/llamadesk/models/download"
)

// loopbackHub is a Hugging Face hub on 127.0.0.1 holding one repository
// with one file: the tree API lists it with its SHA-256, and resolve URLs
// serve it with Range support.
func loopbackHub(t *testing.T, repo, name string, data []byte) *httptest.Server {
	t.Helper()
	sum := sha256.Sum256(data)
	mux := http.NewServeMux()
	mux.HandleFunc("/api/models/"+repo+"/tree/main", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode([]map[string]any{{
			"type": "file", "path": name, "size": 134,
			"lfs": map[string]any{"oid": hex.EncodeToString(sum[:]), "size": len(data)},
		}})
	})
	mux.HandleFunc("/"+repo+"/resolve/main/"+name, func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// oneFileCatalog describes the shared tiny model as a one-file catalog.
func oneFileCatalog(t *testing.T, size int) *models.Catalog {
	t.Helper()
	doc := fmt.Sprintf(`{"version":1,"about":"test","licences":{"l":{"name":"Test Licence","url":"http://x","summary":"Use it for tests."}},
	"quants":{"Q4_K_M":"four bits"},
	"models":[{"name":"tiny","title":"Tiny","repo":"test/Tiny-GGUF","chat":true,"parameters":2753792,"context_length":4096,
	  "licence":"l","architecture":"llama","arch":{"layers":2,"embedding":256,"heads":8,"kv_heads":8,"head_dim":32,"ffn":1280,"vocab":512},
	  "files":[{"quant":"Q4_K_M","file":"tiny.Q4_K_M.gguf","size":%d,"size_exact":false,"recommended":true}]}]}`, size)
	c, err := models.ParseCatalog([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDownloadProgressMoves(t *testing.T) {
	data, err := os.ReadFile(testenv.Path(t, "models", "tiny-q4_k_m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	hub := loopbackHub(t, "test/Tiny-GGUF", "tiny.Q4_K_M.gguf", data)
	tw := newTestWindow(t, false, app.ModelsConfig{
		Endpoint: hub.URL,
		Catalog:  oneFileCatalog(t, len(data)),
		// About two seconds for the file, reported every 20 ms.
		BytesPerSecond: int64(len(data) / 2),
		Parts:          1,
		Download:       download.Config{ProgressInterval: 20 * time.Millisecond},
	})
	m := tw.modelsPage
	tw.ui(func() {
		if !tw.chat.welcome.Visible() {
			t.Error("no welcome page on a first start without models")
		}
		tw.showPage(PageCatalog)
	})
	tw.settle()
	tw.ui(func() {
		if len(m.catEntries) != 1 || m.catEntries[0].FitSummary == "" {
			t.Fatalf("catalog rows: %+v", m.catEntries)
		}
	})

	var mu sync.Mutex
	var fractions []float64
	var paused, resumed bool
	tw.uiMu.Lock()
	redraw := tw.downloads.onChange
	tw.downloads.onChange = func() {
		redraw()
		e := tw.downloads.entries[0]
		mu.Lock()
		defer mu.Unlock()
		if e.progress.State == download.StateDownloading {
			fractions = append(fractions, e.progress.Fraction())
		}
		// Pause once a third is in, check it holds, resume.
		if !paused && e.progress.Fraction() > 0.3 && e.progress.State == download.StateDownloading {
			paused = true
			go tw.do(func() { tw.downloads.pause(e) })
		}
		if paused && !resumed && e.progress.State == download.StatePaused {
			resumed = true
			if d := e.describe(); !strings.HasPrefix(d, "Paused") {
				t.Errorf("paused download described as %q", d)
			}
			go func() {
				time.Sleep(100 * time.Millisecond)
				tw.do(func() { tw.downloads.resume(e) })
			}()
		}
	}
	row := newCatalogRow(m)
	row.set(m.catEntries[0])
	if row.action.Text != "Download" || row.action.Disabled() {
		tw.uiMu.Unlock()
		t.Fatalf("catalog row offers %q (disabled %v)", row.action.Text, row.action.Disabled())
	}
	row.action.OnTapped()
	if m.tabs.Selected() != m.dlTab {
		t.Error("starting a download did not show the downloads")
	}
	tw.uiMu.Unlock()
	tw.settle()

	mu.Lock()
	got := append([]float64(nil), fractions...)
	mu.Unlock()
	var moving int
	for i, f := range got {
		if f > 0 && f < 1 && (i == 0 || f > got[i-1]) {
			moving++
		}
	}
	if moving < 3 {
		t.Fatalf("progress went %v: want it to move in several steps", got)
	}
	if !paused || !resumed {
		t.Errorf("pause/resume not exercised (paused %v, resumed %v)", paused, resumed)
	}
	tw.ui(func() {
		e := tw.downloads.entries[0]
		if !e.finished || e.err != nil {
			t.Fatalf("download finished %v with %v", e.finished, e.err)
		}
		if d := e.describe(); d != "Downloaded and verified" {
			t.Errorf("finished download described as %q", d)
		}
	})
	got2, err := os.ReadFile(filepath.Join(tw.home, "models", "tiny.Q4_K_M.gguf"))
	if err != nil || !bytes.Equal(got2, data) {
		t.Fatalf("downloaded file: %v (equal %v)", err, bytes.Equal(got2, data))
	}
	tw.settle()
	tw.ui(func() {
		if len(m.catEntries) != 1 || !m.catEntries[0].Downloaded {
			t.Errorf("the catalog does not show the file as downloaded: %+v", m.catEntries)
		}
		if tw.chat.localCount != 1 || tw.chat.welcome.Visible() {
			t.Errorf("after the download the chat sees %d models (welcome shown %v)", tw.chat.localCount, tw.chat.welcome.Visible())
		}
	})
}

func TestDownloadCancelRemovesPartial(t *testing.T) {
	data, err := os.ReadFile(testenv.Path(t, "models", "tiny-q4_k_m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	hub := loopbackHub(t, "test/Tiny-GGUF", "tiny.Q4_K_M.gguf", data)
	tw := newTestWindow(t, false, app.ModelsConfig{
		Endpoint: hub.URL, Catalog: oneFileCatalog(t, len(data)),
		BytesPerSecond: int64(len(data) / 4), Parts: 1,
		Download: download.Config{ProgressInterval: 20 * time.Millisecond, CheckpointInterval: 50 * time.Millisecond},
	})
	var once sync.Once
	tw.ui(func() {
		redraw := tw.downloads.onChange
		tw.downloads.onChange = func() {
			redraw()
			e := tw.downloads.entries[0]
			if e.progress.Fraction() > 0.1 {
				once.Do(func() { go tw.do(func() { tw.downloads.cancel(e) }) })
			}
		}
		tw.downloads.start("tiny:Q4_K_M", "Tiny Q4_K_M")
	})
	tw.settle()
	tw.ui(func() {
		e := tw.downloads.entries[0]
		if !e.finished || e.describe() != "Canceled" {
			t.Fatalf("canceled download: finished %v, %q", e.finished, e.describe())
		}
	})
	dest := filepath.Join(tw.home, "models", "tiny.Q4_K_M.gguf")
	for _, p := range []string{dest, download.PartialPath(dest), download.StatePath(dest)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is left after cancelling", p)
		}
	}
}
