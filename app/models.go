package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/llamadesk/llamadesk/assets"
	"github.com/llamadesk/llamadesk/models"
	"github.com/llamadesk/llamadesk/models/download"
)

// ModelsConfig tunes the model manager. Zero fields take their defaults.
type ModelsConfig struct {
	// Dir is the models folder (default <data>/models).
	Dir string
	// Endpoint is the Hugging Face hub (default $HF_ENDPOINT, else https://huggingface.co).
	Endpoint string
	// Concurrent downloads at once (default 2) and parallel parts per file (default 4).
	Concurrent int
	Parts      int
	// BytesPerSecond limits the total download speed (0: no limit).
	BytesPerSecond int64
	// Client makes all HTTP requests (http.DefaultClient by default).
	Client *http.Client
	// Catalog replaces the built-in catalog (tests use a small one).
	Catalog *models.Catalog
	// Download overrides the downloader's other settings (timeouts, retries);
	// the fields above take precedence.
	Download download.Config
}

// Models is the model manager service shared by the window and the command
// line: the catalog, the local library, the hub and the downloads.
type Models struct {
	Catalog   *models.Catalog
	Library   *models.Library
	Hub       *models.Hub
	Downloads *download.Manager
	// GPU reports the GPU memory for fit estimates; nil (or returning nil)
	// when no GPU backend is available.
	GPU func() *models.GPU

	home   string
	getenv func(string) string
}

// Models returns the App's model manager, configured by the saved settings
// (models folder, hub endpoint), creating it on first use.
func (a *App) Models() (*Models, error) {
	a.modelsOnce.Do(func() {
		cfg := ModelsConfig{}
		if s, err := a.LoadSettings(context.Background()); err == nil {
			cfg = s.ModelsConfig()
		}
		a.models, a.modelsErr = a.newModels(cfg)
	})
	return a.models, a.modelsErr
}

// ModelsFor returns a model manager for settings s (after the person changed
// the models folder or the hub endpoint).
func (a *App) ModelsFor(s Settings) (*Models, error) { return a.newModels(s.ModelsConfig()) }

func (a *App) newModels(cfg ModelsConfig) (*Models, error) {
	m, err := NewModels(a.Home, a.getenv, cfg)
	if err != nil {
		return nil, err
	}
	m.GPU = a.gpu
	return m, nil
}

// NewModels returns a model manager for the data folder home.
func NewModels(home string, getenv func(string) string, cfg ModelsConfig) (*Models, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	cat := cfg.Catalog
	if cat == nil {
		var err error
		if cat, err = models.ParseCatalog(assets.CatalogJSON()); err != nil {
			return nil, err
		}
	}
	dir := cfg.Dir
	if dir == "" {
		dir = filepath.Join(home, "models")
	}
	token, err := models.LoadToken(home, getenv)
	if err != nil {
		return nil, err
	}
	dl := cfg.Download
	dl.Client = cfg.Client
	if cfg.Concurrent > 0 {
		dl.Concurrent = cfg.Concurrent
	}
	if cfg.Parts > 0 {
		dl.Parts = cfg.Parts
	}
	if cfg.BytesPerSecond > 0 {
		dl.BytesPerSecond = cfg.BytesPerSecond
	}
	return &Models{
		Catalog: cat,
		Library: &models.Library{Dir: dir},
		Hub: &models.Hub{
			Endpoint: models.Endpoint(cfg.Endpoint, getenv),
			Token:    token,
			Client:   cfg.Client,
			CacheDir: filepath.Join(home, "cache", "hub"),
		},
		Downloads: download.NewManager(dl),
		home:      home,
		getenv:    getenv,
	}, nil
}

// CatalogEntry is one downloadable file with its fit on this machine.
type CatalogEntry struct {
	Ref         string `json:"ref"`
	Title       string `json:"title"`
	Repo        string `json:"repo"`
	File        string `json:"file"`
	Quant       string `json:"quant"`
	Size        int64  `json:"size"`
	SizeExact   bool   `json:"size_exact"`
	SHA256      string `json:"sha256,omitempty"`
	Recommended bool   `json:"recommended"`
	Chat        bool   `json:"chat"`
	Licence     string `json:"licence"`
	// Downloaded is true when the file is in the models folder; Partial
	// when an unfinished download of it is.
	Downloaded bool       `json:"downloaded"`
	Partial    bool       `json:"partial"`
	Fit        models.Fit `json:"fit"`
	FitSummary string     `json:"fit_summary"`
}

// LocalEntry is one file of the library with its fit on this machine.
type LocalEntry struct {
	models.LocalModel
	// Ref is the catalog reference when the file is from the catalog.
	Ref        string      `json:"ref,omitempty"`
	Fit        *models.Fit `json:"fit,omitempty"`
	FitSummary string      `json:"fit_summary,omitempty"`
}

// ModelList is what `llamadesk models` shows: the machine, the catalog and
// the library.
type ModelList struct {
	Memory    models.Memory  `json:"memory"`
	GPU       *models.GPU    `json:"gpu,omitempty"`
	ModelsDir string         `json:"models_dir"`
	Catalog   []CatalogEntry `json:"catalog"`
	Local     []LocalEntry   `json:"local"`
}

// List returns the catalog and the library with fit verdicts for this
// machine. Exact sizes and checksums come from the hub lists cached by
// earlier pulls; List itself never goes online.
func (s *Models) List(opt models.FitOptions) (*ModelList, error) {
	mem, err := models.SystemMemory()
	if err != nil {
		return nil, err
	}
	var gpu *models.GPU
	if s.GPU != nil {
		gpu = s.GPU()
	}
	local, err := s.Library.Scan()
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, l := range local {
		have[l.File] = true
	}
	out := &ModelList{Memory: mem, GPU: gpu, ModelsDir: s.Library.Dir, Catalog: []CatalogEntry{}, Local: []LocalEntry{}}
	for i := range s.Catalog.Models {
		m := &s.Catalog.Models[i]
		cached, _, _ := s.Hub.CachedFiles(m.Repo)
		for k := range m.Files {
			f := m.Files[k] // a copy: exact numbers from the hub may replace the card's
			e := CatalogEntry{
				Ref: m.Ref(&f), Title: m.Title, Repo: m.Repo, File: f.File, Quant: f.Quant,
				Recommended: f.Recommended, Chat: m.Chat, Licence: s.Catalog.Licences[m.Licence].Name,
			}
			exactSize(&f, &e, cached)
			e.Size, e.SizeExact = f.Size, f.SizeExact
			path := filepath.Join(s.Library.Dir, f.File)
			e.Downloaded = have[f.File]
			e.Partial = !e.Downloaded && s.hasPartial(path, f.Parts)
			e.Fit = models.EstimateFit(models.ShapeOf(m, &f), mem, gpu, opt)
			e.FitSummary = e.Fit.String()
			out.Catalog = append(out.Catalog, e)
		}
	}
	for _, l := range local {
		e := LocalEntry{LocalModel: l}
		if m, f, ok := s.Catalog.FindFile(l.File); ok && f.File == l.File {
			e.Ref = m.Ref(f)
		}
		if l.Err == "" && l.Shape.Layers > 0 {
			fit := models.EstimateFit(l.Shape, mem, gpu, opt)
			e.Fit, e.FitSummary = &fit, fit.String()
		}
		out.Local = append(out.Local, e)
	}
	return out, nil
}

// exactSize replaces a catalog file's size with the hub's exact one (the
// sum of its pieces for a split file), and takes its checksum.
func exactSize(f *models.File, e *CatalogEntry, cached []models.RepoFile) {
	if len(cached) == 0 {
		return
	}
	if len(f.Parts) == 0 {
		if rf, ok := models.FindRepoFile(cached, f.File); ok {
			f.Size, f.SizeExact, e.SHA256 = rf.Size, true, rf.SHA256
		}
		return
	}
	var total int64
	for _, p := range f.Parts {
		rf, ok := models.FindRepoFile(cached, p)
		if !ok {
			return
		}
		total += rf.Size
	}
	f.Size, f.SizeExact = total, true
}

// hasPartial reports whether an unfinished download of path (or of its
// pieces) is in the models folder.
func (s *Models) hasPartial(path string, parts []string) bool {
	if download.HasPartial(path) {
		return true
	}
	if _, err := os.Stat(path + ".joining"); err == nil {
		return true
	}
	for _, p := range parts {
		pp := filepath.Join(s.Library.Dir, p)
		if download.HasPartial(pp) {
			return true
		}
		if _, err := os.Stat(pp); err == nil {
			return true
		}
	}
	return false
}

// Remove deletes a local model, named by catalog reference or by file
// name, together with any unfinished download of it. It returns what was
// removed.
func (s *Models) Remove(name string) (string, error) {
	file := name
	var parts []string
	if _, f, err := s.Catalog.Resolve(name); err == nil {
		file, parts = f.File, f.Parts
	}
	err := s.Library.Delete(file)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return "", err
	}
	if filepath.Base(file) != file || strings.ContainsAny(file, `/\`) {
		return file, err // a path in a sub-folder: no download leftovers to look for
	}
	path := filepath.Join(s.Library.Dir, file)
	if err != nil && !s.hasPartial(path, parts) {
		return "", err
	}
	if perr := s.removePartials(path, parts); perr != nil {
		return "", perr
	}
	if err != nil {
		return file + " (unfinished download)", nil
	}
	return file, nil
}

// removePartials removes the unfinished download of path: its partial
// file, an interrupted join and the pieces of a split file.
func (s *Models) removePartials(path string, parts []string) error {
	errs := []error{download.RemovePartial(path), removeIfThere(path + ".joining")}
	for _, p := range parts {
		pp := filepath.Join(s.Library.Dir, p)
		errs = append(errs, download.RemovePartial(pp), removeIfThere(pp))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove the unfinished download of %s: %w", filepath.Base(path), err)
	}
	return nil
}

func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Import brings a GGUF file from anywhere into the models folder (see
// models.Library.Import).
func (s *Models) Import(ctx context.Context, src string, mode models.ImportMode, progress func(done, total int64)) (models.LocalModel, error) {
	return s.Library.Import(ctx, src, mode, progress)
}

// ErrNotDownloaded is wrapped by ModelPath's error for a catalog model that
// is not in the models folder yet.
var ErrNotDownloaded = errors.New("not downloaded")

// ModelPath finds the model file ref names, as Ollama users expect: a path
// to a file; a catalog name such as "llama-2-7b-chat:Q4_K_M" (or
// "llama-2-7b-chat" for the usual pick), once downloaded; or the name of a
// file in the models folder, with or without ".gguf". A catalog model that
// is not downloaded yet is an ErrNotDownloaded error that says how to get it.
func (s *Models) ModelPath(ref string) (string, error) {
	if ref == "" {
		return "", errors.New("no model named")
	}
	fi, statErr := os.Stat(ref)
	if statErr == nil && !fi.IsDir() {
		return ref, nil
	}
	if m, f, err := s.Catalog.Resolve(ref); err == nil {
		path := filepath.Join(s.Library.Dir, f.File)
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
		return "", fmt.Errorf("model %s (%s): %w yet; run `llamadesk pull %s` (or `llamadesk run %s`)", m.Ref(f), f.File, ErrNotDownloaded, m.Ref(f), m.Ref(f))
	}
	if filepath.Base(ref) == ref || !filepath.IsAbs(ref) {
		if lm, err := s.Library.Find(ref); err == nil {
			return lm.Path, nil
		}
	}
	if statErr == nil {
		return "", fmt.Errorf("model %s is a folder: name a GGUF file in it", ref)
	}
	return "", fmt.Errorf("model %q: no such file, no catalog model of that name (see `llamadesk models --all`), and no such file in the models folder %s", ref, s.Library.Dir)
}
