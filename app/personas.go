package app

import (
	"context"

	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/inputfile"
)

// maxPersonaFile bounds a persona file read for import.
const maxPersonaFile = 16 << 20

// Personas is the persona service: named system prompts with sampling
// defaults and a preferred model, kept in the history database. Get it
// from App.Personas. Methods are safe for concurrent use.
type Personas struct{ app *App }

// Personas returns the persona service.
func (a *App) Personas() *Personas { return &Personas{app: a} }

func (p *Personas) store() (*history.Store, error) { return p.app.History() }

// List returns every persona, the built-in set first.
func (p *Personas) List(ctx context.Context) ([]history.Persona, error) {
	store, err := p.store()
	if err != nil {
		return nil, err
	}
	return store.Personas(ctx)
}

// Get returns the persona called name (ignoring case).
func (p *Personas) Get(ctx context.Context, name string) (history.Persona, error) {
	store, err := p.store()
	if err != nil {
		return history.Persona{}, err
	}
	return store.Persona(ctx, name)
}

// Save creates the persona (original "") or replaces the one called
// original (which may be renamed).
func (p *Personas) Save(ctx context.Context, original string, ps history.Persona) error {
	if err := ps.Validate(); err != nil {
		return err
	}
	store, err := p.store()
	if err != nil {
		return err
	}
	if original == "" {
		return store.CreatePersona(ctx, ps)
	}
	return store.UpdatePersona(ctx, original, ps)
}

// Duplicate copies a persona under the first free "<name> (copy)" name and returns the copy.
func (p *Personas) Duplicate(ctx context.Context, name string) (history.Persona, error) {
	store, err := p.store()
	if err != nil {
		return history.Persona{}, err
	}
	return store.DuplicatePersona(ctx, name, "")
}

// Delete removes a persona; conversations started with it keep its prompt.
func (p *Personas) Delete(ctx context.Context, name string) error {
	store, err := p.store()
	if err != nil {
		return err
	}
	return store.DeletePersona(ctx, name)
}

// RestoreBuiltins puts the built-in personas back as shipped.
func (p *Personas) RestoreBuiltins(ctx context.Context) error {
	store, err := p.store()
	if err != nil {
		return err
	}
	return store.RestoreBuiltinPersonas(ctx)
}

// ImportFile adds the personas of a persona file, all or none (replace
// overwrites personas of the same name), and returns them.
func (p *Personas) ImportFile(ctx context.Context, path string, replace bool) ([]history.Persona, error) {
	data, err := inputfile.ReadFile(path, maxPersonaFile)
	if err != nil {
		return nil, err
	}
	store, err := p.store()
	if err != nil {
		return nil, err
	}
	return store.ImportPersonas(ctx, data, replace)
}

// ExportFile writes the named personas (every one when none is named) to a
// persona file at path, which is treated as the command line's exports
// treat theirs (history.Store.ExportPersonasFile): a device or a named pipe
// is written into, a symbolic link followed, and a new file gets 0666 less
// the umask.
func (p *Personas) ExportFile(ctx context.Context, path string, names ...string) error {
	store, err := p.store()
	if err != nil {
		return err
	}
	return store.ExportPersonasFile(ctx, path, names...)
}
