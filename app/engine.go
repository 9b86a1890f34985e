package app

import (
	"errors"
	"fmt"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/tokenizer"
)

// LoadOptions says how to load a model.
type LoadOptions struct {
	// Threads is the number of CPU worker threads (0: one per physical core).
	Threads int
	// Backend is "auto", "cpu" or a GPU backend's name ("gl"); "" means "auto".
	Backend string
	// GPULayers is how many layers go to the GPU: -1 (or unset with auto) means
	// as many as fit, 0 none.
	GPULayers int
}

// LoadedModel is a model file opened and prepared for inference.
type LoadedModel struct {
	Path      string
	File      *gguf.File
	Model     *engine.Model
	Tokenizer *tokenizer.Tokenizer
	// BackendNote says which backend runs the model and, when "auto" fell
	// back to the CPU, why.
	BackendNote string
	backends    []engine.Backend
}

// LoadModel opens a GGUF file and prepares its model on the chosen backend.
func LoadModel(path string, opts LoadOptions) (*LoadedModel, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	lm := &LoadedModel{Path: path, File: f}
	ok := false
	defer func() {
		if !ok {
			lm.Close()
		}
	}()
	if _, err := engine.ConfigFromGGUF(f); err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	lm.Tokenizer, err = tokenizer.FromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	placement, err := lm.chooseBackends(opts)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	lm.Model, err = engine.Load(f, placement)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	ok = true
	return lm, nil
}

// chooseBackends creates the backends the options ask for.
func (lm *LoadedModel) chooseBackends(opts LoadOptions) (engine.Placement, error) {
	c := cpu.New(opts.Threads)
	lm.backends = append(lm.backends, c)
	switch opts.Backend {
	case "", "auto":
		lm.BackendNote = fmt.Sprintf("cpu (%d threads): no GPU backend is built into this binary", c.Threads())
		return engine.Placement{CPU: c}, nil
	case "cpu":
		lm.BackendNote = fmt.Sprintf("cpu (%d threads)", c.Threads())
		return engine.Placement{CPU: c}, nil
	}
	return engine.Placement{}, fmt.Errorf("unknown backend %q (want auto or cpu)", opts.Backend)
}

// Close releases the model's backends and unmaps the file.
func (lm *LoadedModel) Close() error {
	var errs []error
	for _, b := range lm.backends {
		errs = append(errs, b.Close())
	}
	lm.backends = nil
	if lm.File != nil {
		errs = append(errs, lm.File.Close())
	}
	return errors.Join(errs...)
}
