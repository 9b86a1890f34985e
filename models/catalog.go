// Package models is Llamadesk's model manager: the Llama 2 catalog (what can
// be downloaded, from where, how big), the Hugging Face hub (exact sizes and
// checksums, access tokens), the local library (the GGUF files in the models
// folder and what they are), and the fit estimate (whether a model fits this
// machine's memory). Downloads themselves are in the download sub-package.
package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Catalog lists the models that can be downloaded.
type Catalog struct {
	Version int `json:"version"`
	// About explains where the catalog's numbers come from.
	About string `json:"about"`
	// Licences by id; each model names one.
	Licences map[string]Licence `json:"licences"`
	// Quants describes each quantization in a few words.
	Quants map[string]string `json:"quants"`
	Models []Model           `json:"models"`
}

// Licence is a model licence and a plain summary of what it asks.
type Licence struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Summary string `json:"summary"`
}

// Model is one model of the catalog, such as Llama 2 7B Chat, with the
// files it is published in.
type Model struct {
	// Name is the short name used on the command line, such as "llama-2-7b-chat".
	Name string `json:"name"`
	// Title is the name shown to people, such as "Llama 2 7B Chat".
	Title string `json:"title"`
	// Repo is the Hugging Face repository, such as "TheBloke/Llama-2-7B-Chat-GGUF".
	Repo          string `json:"repo"`
	Chat          bool   `json:"chat"`
	Parameters    uint64 `json:"parameters"`
	ContextLength int    `json:"context_length"`
	// Licence is a key of Catalog.Licences.
	Licence      string `json:"licence"`
	Architecture string `json:"architecture"`
	Arch         Arch   `json:"arch"`
	Files        []File `json:"files"`
}

// Arch holds the architecture numbers the fit estimate needs.
type Arch struct {
	Layers    int `json:"layers"`
	Embedding int `json:"embedding"`
	Heads     int `json:"heads"`
	KVHeads   int `json:"kv_heads"`
	HeadDim   int `json:"head_dim"`
	FFN       int `json:"ffn"`
	Vocab     int `json:"vocab"`
}

// File is one downloadable quantization of a model.
type File struct {
	// Quant is the quantization's name, such as "Q4_K_M".
	Quant string `json:"quant"`
	// File is the name of the GGUF file, in the repository and in the models folder.
	File string `json:"file"`
	// Parts, when set, are the pieces the file was uploaded in (the hub
	// limits file sizes); joined in order they make File.
	Parts []string `json:"parts,omitempty"`
	// Size is the file's size in bytes; exact when SizeExact is true,
	// otherwise the rounded size from the model card.
	Size      int64 `json:"size"`
	SizeExact bool  `json:"size_exact"`
	// Recommended marks the usual pick.
	Recommended bool `json:"recommended,omitempty"`
}

// Ref names one file of one model, such as "llama-2-7b-chat:Q4_K_M".
func (m *Model) Ref(f *File) string { return m.Name + ":" + f.Quant }

// Recommended returns the model's usual pick.
func (m *Model) Recommended() *File {
	for i := range m.Files {
		if m.Files[i].Recommended {
			return &m.Files[i]
		}
	}
	return &m.Files[0]
}

// Quant returns the file of the named quantization (case-insensitive).
func (m *Model) Quant(q string) (*File, bool) {
	for i := range m.Files {
		if strings.EqualFold(m.Files[i].Quant, q) {
			return &m.Files[i], true
		}
	}
	return nil, false
}

// ParseCatalog decodes and checks a catalog.
func ParseCatalog(data []byte) (*Catalog, error) {
	var c Catalog
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return &c, nil
}

// check validates what the rest of the program relies on.
func (c *Catalog) check() error {
	if c.Version != 1 {
		return fmt.Errorf("version %d, want 1", c.Version)
	}
	if len(c.Models) == 0 {
		return errors.New("no models")
	}
	names := map[string]bool{}
	files := map[string]bool{}
	for i := range c.Models {
		m := &c.Models[i]
		switch {
		case !validFileName(m.Name) || strings.ContainsFunc(m.Name, unicode.IsSpace) || m.Name != strings.ToLower(m.Name):
			return fmt.Errorf("model %d: bad name %q (lower case, no ':', '/' or spaces)", i, m.Name)
		case names[m.Name]:
			return fmt.Errorf("model %q listed twice", m.Name)
		case m.Title == "":
			return fmt.Errorf("model %q: no title", m.Name)
		case strings.Count(m.Repo, "/") != 1 || strings.HasPrefix(m.Repo, "/") || strings.HasSuffix(m.Repo, "/"):
			return fmt.Errorf("model %q: repository %q is not owner/name", m.Name, m.Repo)
		case m.Parameters == 0 || m.ContextLength <= 0:
			return fmt.Errorf("model %q: parameters and context length must be positive", m.Name)
		case len(m.Files) == 0:
			return fmt.Errorf("model %q: no files", m.Name)
		}
		if _, ok := c.Licences[m.Licence]; !ok {
			return fmt.Errorf("model %q: unknown licence %q", m.Name, m.Licence)
		}
		a := m.Arch
		if a.Layers <= 0 || a.Embedding <= 0 || a.Heads <= 0 || a.KVHeads <= 0 || a.HeadDim <= 0 || a.Vocab <= 0 ||
			a.Heads%a.KVHeads != 0 || a.Heads*a.HeadDim != a.Embedding {
			return fmt.Errorf("model %q: inconsistent architecture %+v", m.Name, a)
		}
		names[m.Name] = true
		recommended := 0
		quants := map[string]bool{}
		for _, f := range m.Files {
			q := strings.ToUpper(f.Quant)
			switch {
			case f.Quant == "" || quants[q]:
				return fmt.Errorf("model %q: quantization %q missing or listed twice", m.Name, f.Quant)
			case f.Size <= 0:
				return fmt.Errorf("%s: size must be positive", f.File)
			case !validFileName(f.File) || !strings.HasSuffix(f.File, ".gguf"):
				return fmt.Errorf("model %q: bad file name %q", m.Name, f.File)
			case files[f.File]:
				return fmt.Errorf("file %q listed twice", f.File)
			case len(f.Parts) == 1:
				return fmt.Errorf("%s: a split file has at least two parts", f.File)
			}
			for _, p := range f.Parts {
				if !validFileName(p) || files[p] {
					return fmt.Errorf("%s: bad or repeated part %q", f.File, p)
				}
				files[p] = true
			}
			if _, ok := c.Quants[f.Quant]; !ok {
				return fmt.Errorf("%s: quantization %q is not described in quants", f.File, f.Quant)
			}
			quants[q] = true
			files[f.File] = true
			if f.Recommended {
				recommended++
			}
		}
		if recommended != 1 {
			return fmt.Errorf("model %q: %d recommended files, want exactly one", m.Name, recommended)
		}
	}
	return nil
}

// validFileName reports whether name is a plain file name: no folders, no
// dot names, no characters that are unsafe on any platform.
func validFileName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") || len(name) > 200 {
		return false
	}
	return !strings.ContainsAny(name, `/\:*?"<>|`) && !strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 })
}

// ErrUnknownModel is wrapped by Resolve's errors.
var ErrUnknownModel = errors.New("unknown model")

// Resolve finds a catalog file by reference: "NAME" (the recommended
// quantization), "NAME:QUANT", or the file name itself. Names and
// quantizations are case-insensitive.
func (c *Catalog) Resolve(ref string) (*Model, *File, error) {
	ref = strings.TrimSpace(ref)
	name, quant, hasQuant := strings.Cut(ref, ":")
	for i := range c.Models {
		m := &c.Models[i]
		for k := range m.Files {
			f := &m.Files[k]
			if strings.EqualFold(f.File, ref) {
				return m, f, nil
			}
		}
		if !strings.EqualFold(m.Name, name) {
			continue
		}
		if !hasQuant {
			return m, m.Recommended(), nil
		}
		if f, ok := m.Quant(quant); ok {
			return m, f, nil
		}
		qs := make([]string, len(m.Files))
		for k, f := range m.Files {
			qs[k] = f.Quant
		}
		return nil, nil, fmt.Errorf("%w %q: %s comes in %s", ErrUnknownModel, ref, m.Name, strings.Join(qs, ", "))
	}
	return nil, nil, fmt.Errorf("%w %q: the catalog has %s", ErrUnknownModel, ref, strings.Join(c.Names(), ", "))
}

// Names returns the catalog's model names.
func (c *Catalog) Names() []string {
	names := make([]string, len(c.Models))
	for i, m := range c.Models {
		names[i] = m.Name
	}
	return names
}

// FindFile returns the catalog entry whose file (or one of its parts) has
// the given name, if any.
func (c *Catalog) FindFile(fileName string) (*Model, *File, bool) {
	for i := range c.Models {
		m := &c.Models[i]
		for k := range m.Files {
			f := &m.Files[k]
			if f.File == fileName || slices.Contains(f.Parts, fileName) {
				return m, f, true
			}
		}
	}
	return nil, nil, false
}
