package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/internal/testenv"
	"github.com/llamadesk/llamadesk/models"
	"github.com/llamadesk/llamadesk/models/download"
)

// fakeHub is a loopback Hugging Face hub: the tree API lists the files of
// one repository, resolve URLs redirect to a CDN path that serves them with
// Range support.
type fakeHub struct {
	*httptest.Server
	repo  string
	files map[string][]byte
	sums  map[string]string // overrides of the listed SHA-256

	mu   sync.Mutex
	auth []string // Authorization headers seen by the API and resolve
	api  int      // API calls
	down bool     // the API answers 503
}

func newFakeHub(t *testing.T, repo string, files map[string][]byte) *fakeHub {
	t.Helper()
	h := &fakeHub{repo: repo, files: files, sums: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/models/"+repo+"/tree/main", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.api++
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		down := h.down
		h.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		type lfs struct {
			OID  string `json:"oid"`
			Size int    `json:"size"`
		}
		type entry struct {
			Type string `json:"type"`
			Path string `json:"path"`
			Size int    `json:"size"`
			LFS  lfs    `json:"lfs"`
		}
		var list []entry
		for name, data := range h.files {
			sum := sha256.Sum256(data)
			oid := hex.EncodeToString(sum[:])
			if s, ok := h.sums[name]; ok {
				oid = s
			}
			list = append(list, entry{"file", name, 134, lfs{oid, len(data)}})
		}
		json.NewEncoder(w).Encode(list)
	})
	mux.HandleFunc("/"+repo+"/resolve/main/", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		h.mu.Unlock()
		http.Redirect(w, r, "/cdn/"+strings.TrimPrefix(r.URL.Path, "/"+repo+"/resolve/main/"), http.StatusFound)
	})
	mux.HandleFunc("/cdn/", func(w http.ResponseWriter, r *http.Request) {
		data, ok := h.files[strings.TrimPrefix(r.URL.Path, "/cdn/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
	h.Server = httptest.NewServer(mux)
	t.Cleanup(h.Close)
	return h
}

// tinyCatalog describes the shared tiny model as a catalog with a whole
// file (Q4_K_M) and a file uploaded in two pieces (Q8_0).
func tinyCatalog(t *testing.T, q4, q8 []byte) *models.Catalog {
	t.Helper()
	doc := fmt.Sprintf(`{"version":1,"about":"test","licences":{"l":{"name":"Test Licence","url":"http://x","summary":"s"}},
	"quants":{"Q4_K_M":"four","Q8_0":"eight"},
	"models":[{"name":"tiny","title":"Tiny","repo":"test/Tiny-GGUF","chat":true,"parameters":2753792,"context_length":4096,
	  "licence":"l","architecture":"llama","arch":{"layers":2,"embedding":256,"heads":8,"kv_heads":8,"head_dim":32,"ffn":1280,"vocab":512},
	  "files":[{"quant":"Q4_K_M","file":"tiny.Q4_K_M.gguf","size":%d,"size_exact":false,"recommended":true},
	           {"quant":"Q8_0","file":"tiny.Q8_0.gguf","parts":["tiny.Q8_0.gguf-split-a","tiny.Q8_0.gguf-split-b"],"size":%d,"size_exact":false}]}]}`,
		len(q4)+1000, len(q8)+1000)
	c, err := models.ParseCatalog([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type tinyFixture struct {
	hub    *fakeHub
	svc    *Models
	home   string
	q4, q8 []byte
}

func newTinyFixture(t *testing.T) *tinyFixture {
	t.Helper()
	q4, err := os.ReadFile(testenv.Path(t, "models", "tiny-q4_k_m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	q8, err := os.ReadFile(testenv.Path(t, "models", "tiny-q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	cut := len(q8) / 3
	hub := newFakeHub(t, "test/Tiny-GGUF", map[string][]byte{
		"tiny.Q4_K_M.gguf":       q4,
		"tiny.Q8_0.gguf-split-a": q8[:cut],
		"tiny.Q8_0.gguf-split-b": q8[cut:],
		"README.md":              []byte("# tiny"),
	})
	home := t.TempDir()
	svc, err := NewModels(home, func(string) string { return "" }, ModelsConfig{
		Endpoint: hub.URL,
		Catalog:  tinyCatalog(t, q4, q8),
		Download: download.Config{MinPartSize: 64 << 10, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &tinyFixture{hub: hub, svc: svc, home: home, q4: q4, q8: q8}
}

func TestPullVerifiesAndLists(t *testing.T) {
	fx := newTinyFixture(t)
	var last download.Progress
	res, err := fx.svc.Pull(context.Background(), "TINY:q4_k_m", func(p download.Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != filepath.Join(fx.home, "models", "tiny.Q4_K_M.gguf") || last.State != download.StateDone {
		t.Fatalf("pulled to %s, last progress %+v", res.Path, last)
	}
	if got, _ := os.ReadFile(res.Path); !bytes.Equal(got, fx.q4) {
		t.Fatal("pulled file differs")
	}
	list, err := fx.svc.List(models.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Local) != 1 || list.Local[0].Ref != "tiny:Q4_K_M" || list.Local[0].Quantization != "Q4_K_M" || list.Local[0].Fit == nil {
		t.Fatalf("local: %+v", list.Local)
	}
	if list.Memory.Total == 0 {
		t.Error("no memory size")
	}
	var q4 CatalogEntry
	for _, e := range list.Catalog {
		if e.Ref == "tiny:Q4_K_M" {
			q4 = e
		}
	}
	// The hub's exact size and checksum (cached by the pull) replace the card's.
	sum := sha256.Sum256(fx.q4)
	if !q4.Downloaded || !q4.SizeExact || q4.Size != int64(len(fx.q4)) || q4.SHA256 != hex.EncodeToString(sum[:]) || q4.FitSummary == "" {
		t.Errorf("catalog entry %+v", q4)
	}
	// Pulling again verifies what is there and fetches nothing.
	if _, err := fx.svc.Pull(context.Background(), "tiny", nil); err != nil {
		t.Fatal(err)
	}
}

func TestPullSplitFileJoinsPieces(t *testing.T) {
	fx := newTinyFixture(t)
	var mu sync.Mutex
	var maxDone, total int64
	res, err := fx.svc.Pull(context.Background(), "tiny:Q8_0", func(p download.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.State == download.StateDownloading {
			maxDone, total = max(maxDone, p.Done), p.Total
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(res.Path); !bytes.Equal(got, fx.q8) {
		t.Fatal("joined file differs from the original")
	}
	for _, p := range []string{"tiny.Q8_0.gguf-split-a", "tiny.Q8_0.gguf-split-b", "tiny.Q8_0.gguf.joining"} {
		if _, err := os.Stat(filepath.Join(fx.home, "models", p)); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
	if total != int64(len(fx.q8)) || maxDone > total || maxDone < int64(len(fx.q8)/3) {
		t.Errorf("progress over the pieces: done up to %d of %d", maxDone, total)
	}
	list, err := fx.svc.List(models.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Catalog {
		if e.Ref == "tiny:Q8_0" && (!e.Downloaded || !e.SizeExact || e.Size != int64(len(fx.q8))) {
			t.Errorf("split entry %+v", e)
		}
	}
}

func TestPullRefusesAWrongChecksum(t *testing.T) {
	fx := newTinyFixture(t)
	fx.hub.sums["tiny.Q4_K_M.gguf"] = strings.Repeat("ab", 32)
	_, err := fx.svc.Pull(context.Background(), "tiny", nil)
	if !errors.Is(err, download.ErrChecksum) || !strings.Contains(err.Error(), "checksum mismatch (SHA-256") {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(fx.home, "models"))
	if len(entries) != 0 {
		t.Errorf("%d files left in the models folder", len(entries))
	}
}

func TestPullUsesTheCachedListWhenTheHubIsDown(t *testing.T) {
	fx := newTinyFixture(t)
	if _, err := fx.svc.Pull(context.Background(), "tiny", nil); err != nil {
		t.Fatal(err)
	}
	fx.hub.mu.Lock()
	fx.hub.down = true
	fx.hub.mu.Unlock()
	if _, err := fx.svc.Pull(context.Background(), "tiny:Q8_0", nil); err != nil {
		t.Fatalf("with the API down and a cached list: %v", err)
	}
	other, _ := NewModels(t.TempDir(), func(string) string { return "" }, ModelsConfig{Endpoint: fx.hub.URL, Catalog: fx.svc.Catalog})
	if _, err := other.Pull(context.Background(), "tiny", nil); err == nil || !strings.Contains(err.Error(), "cannot get the sizes and checksums") {
		t.Errorf("without a cache: %v", err)
	}
}

func TestRemove(t *testing.T) {
	fx := newTinyFixture(t)
	ctx := context.Background()
	if _, err := fx.svc.Pull(ctx, "tiny", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := fx.svc.Remove("tiny:Q4_K_M"); err != nil || got != "tiny.Q4_K_M.gguf" {
		t.Fatalf("remove by reference: %q %v", got, err)
	}
	if _, err := fx.svc.Pull(ctx, "tiny", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.svc.Remove("tiny.Q4_K_M.gguf"); err != nil {
		t.Fatalf("remove by file name: %v", err)
	}
	if _, err := fx.svc.Remove("tiny"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("removing what is not there: %v", err)
	}
	// An unfinished download counts as something to remove.
	dir := filepath.Join(fx.home, "models")
	os.WriteFile(filepath.Join(dir, "tiny.Q8_0.gguf-split-a"), []byte("piece"), 0o644)
	os.WriteFile(download.PartialPath(filepath.Join(dir, "tiny.Q8_0.gguf-split-b")), []byte("part"), 0o644)
	if got, err := fx.svc.Remove("tiny:Q8_0"); err != nil || !strings.Contains(got, "unfinished") {
		t.Fatalf("remove an unfinished split download: %q %v", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d files left", len(entries))
	}
	if _, err := fx.svc.Remove("../outside"); err == nil {
		t.Error("a path outside the folder was accepted")
	}
}

func TestLoginTokenIsSent(t *testing.T) {
	fx := newTinyFixture(t)
	if err := fx.svc.Login(" hf_test_token \n"); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.svc.Pull(context.Background(), "tiny", nil); err != nil {
		t.Fatal(err)
	}
	fx.hub.mu.Lock()
	seen := append([]string(nil), fx.hub.auth...)
	fx.hub.mu.Unlock()
	if len(seen) < 2 {
		t.Fatalf("hub saw %d requests", len(seen))
	}
	for _, a := range seen {
		if a != "Bearer hf_test_token" {
			t.Errorf("Authorization %q", a)
		}
	}
	data, err := os.ReadFile(fx.svc.TokenPath())
	if err != nil || strings.TrimSpace(string(data)) != "hf_test_token" || filepath.Dir(fx.svc.TokenPath()) != fx.home {
		t.Errorf("token file: %q %v", data, err)
	}
	if err := fx.svc.Logout(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fx.svc.TokenPath()); err == nil || fx.svc.Hub.Token != "" {
		t.Error("logout kept the token")
	}
}

func TestAppModelsLiveInHome(t *testing.T) {
	home := t.TempDir()
	a, err := Open(func(k string) string {
		if k == HomeEnv {
			return home
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	m1, err := a.Models()
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := a.Models()
	if m1 != m2 {
		t.Error("Models() made a second service")
	}
	if m1.Library.Dir != filepath.Join(home, "models") || m1.Hub.Endpoint != models.DefaultEndpoint || len(m1.Catalog.Models) != 6 {
		t.Errorf("library %s, endpoint %s, %d catalog models", m1.Library.Dir, m1.Hub.Endpoint, len(m1.Catalog.Models))
	}
}
