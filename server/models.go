package server

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/llamadesk/llamadesk/models"
)

// model is a model the server can run: the name clients use and its file.
type model struct {
	// Name is the name in the API: the catalog reference
	// ("llama-2-7b-chat:Q4_K_M") for a catalog file, otherwise the file's
	// name relative to the models folder.
	Name  string
	Local models.LocalModel
}

// Path returns the model file's absolute path.
func (m model) Path() string { return m.Local.Path }

// registry finds models by name: catalog names and the files of the models
// folder, and the one model given on the command line.
type registry struct {
	catalog *models.Catalog
	library *models.Library
	// fixed is the model named by --model (zero when none): the default for
	// requests that name no model, and listed even when it lives outside the
	// models folder.
	fixed *model
}

// errModelNotFound is wrapped by the errors for names that are no model.
var errModelNotFound = errors.New("model not found")

// nameOf returns the API name of a library file.
func (g *registry) nameOf(l models.LocalModel) string {
	if g.catalog != nil {
		if m, f, ok := g.catalog.FindFile(l.File); ok && f.File == l.File {
			return m.Ref(f)
		}
	}
	return l.File
}

// list returns the models that can be served: every readable GGUF file of
// the models folder, and the fixed model, sorted by name.
func (g *registry) list() ([]model, error) {
	var out []model
	seen := map[string]bool{}
	if g.fixed != nil {
		out = append(out, *g.fixed)
		seen[g.fixed.Path()] = true
	}
	if g.library != nil {
		local, err := g.library.Scan()
		if err != nil {
			return nil, err
		}
		for _, l := range local {
			if l.Err != "" || seen[l.Path] {
				continue
			}
			seen[l.Path] = true
			out = append(out, model{Name: g.nameOf(l), Local: l})
		}
	}
	return out, nil
}

// resolve finds the model a request names: "" means the fixed model; then
// the fixed model's names, catalog references (with or without the
// quantization; Ollama's ":latest" tag is ignored), and file names in the
// models folder (with or without .gguf).
func (g *registry) resolve(name string) (model, *requestError) {
	name = strings.TrimSpace(name)
	if name == "" {
		if g.fixed != nil {
			return *g.fixed, nil
		}
		return model{}, badRequest("model", "the request names no model and the server has no default (start it with --model)")
	}
	name = strings.TrimSuffix(name, ":latest")
	if f := g.fixed; f != nil && (name == f.Name || name == filepath.Base(f.Path()) || name == strings.TrimSuffix(filepath.Base(f.Path()), filepath.Ext(f.Path()))) {
		return *f, nil
	}
	notFound := func(format string, args ...any) *requestError {
		return &requestError{status: http.StatusNotFound, param: "model", code: "model_not_found",
			message: fmt.Sprintf(format, args...)}
	}
	if g.library == nil {
		if g.fixed == nil {
			return model{}, notFound("the model %q does not exist: this server has no models folder", name)
		}
		return model{}, notFound("the model %q does not exist: this server serves only %s", name, g.fixed.Name)
	}
	if g.catalog != nil {
		if m, f, err := g.catalog.Resolve(name); err == nil {
			files := []*models.File{f}
			if !strings.Contains(name, ":") && !strings.EqualFold(name, f.File) {
				// A name without quantization: the usual pick, else any quantization there is.
				for i := range m.Files {
					files = append(files, &m.Files[i])
				}
			}
			for _, f := range files {
				if l, err := g.library.Find(f.File); err == nil && l.Err == "" {
					return model{Name: m.Ref(f), Local: l}, nil
				}
			}
			return model{}, notFound("the model %q is not downloaded: run `llamadesk pull %s` first", name, m.Ref(f))
		}
	}
	l, err := g.library.Find(name)
	switch {
	case err != nil:
		return model{}, notFound("the model %q does not exist: GET /v1/models lists the models this server has", name)
	case !strings.EqualFold(filepath.Ext(l.Path), ".gguf"):
		return model{}, notFound("the model %q does not exist: %s is not a .gguf file", name, l.File)
	case l.Err != "":
		return model{}, &requestError{status: http.StatusInternalServerError, param: "model",
			message: fmt.Sprintf("the model file %s cannot be used: %s", l.File, l.Err)}
	}
	return model{Name: g.nameOf(l), Local: l}, nil
}
