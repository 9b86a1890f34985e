package history

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/llamadesk/llamadesk/assets"
	"github.com/llamadesk/llamadesk/internal/atomicfile"
)

// The persona file (personas.json): its format, parsing, the built-in set,
// and exporting and importing personas through it.

// MaxPersonaFileBytes bounds a persona file to import; read no more.
const MaxPersonaFileBytes = 16 << 20

// PersonaFormat names the persona file format (export, import and the
// built-in set in assets/personas.json).
const PersonaFormat = "llamadesk.personas"

// personaFileVersion is the persona file version this build reads and writes.
const personaFileVersion = 1

// personaFile is the JSON file of personas.
type personaFile struct {
	Format   string          `json:"format"`
	Version  int             `json:"version"`
	Personas []personaRecord `json:"personas"`
}

// personaRecord is one persona in a file: what a person defines, without
// the store's bookkeeping.
type personaRecord struct {
	Name         string   `json:"name"`
	SystemPrompt string   `json:"system_prompt"`
	Sampling     Sampling `json:"sampling,omitzero"`
	Model        string   `json:"model,omitempty"`
}

// ParsePersonas reads a persona file (see PersonaFormat), validating every
// persona; names must be unique by PersonaKey (as in the database, so any
// export imports again). Store-only fields (Builtin,
// times) are left zero.
func ParsePersonas(data []byte) ([]Persona, error) {
	var f personaFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%w: persona file: %v", ErrInvalid, err)
	}
	if f.Format != PersonaFormat {
		return nil, fmt.Errorf("%w: persona file: format is %q, want %q", ErrInvalid, f.Format, PersonaFormat)
	}
	if f.Version != personaFileVersion {
		return nil, fmt.Errorf("%w: persona file: version %d is not supported (this build reads %d)", ErrInvalid, f.Version, personaFileVersion)
	}
	seen := map[string]bool{}
	out := make([]Persona, 0, len(f.Personas))
	for i, r := range f.Personas {
		p := Persona{Name: r.Name, SystemPrompt: r.SystemPrompt, Sampling: r.Sampling, Model: r.Model}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("persona file: entry %d: %w", i+1, err)
		}
		key := PersonaKey(p.Name)
		if seen[key] {
			return nil, fmt.Errorf("%w: persona file: name %q appears twice", ErrInvalid, p.Name)
		}
		seen[key] = true
		out = append(out, p)
	}
	return out, nil
}

// MarshalPersonas writes personas as a persona file (indented JSON).
func MarshalPersonas(personas []Persona) ([]byte, error) {
	f := personaFile{Format: PersonaFormat, Version: personaFileVersion, Personas: []personaRecord{}}
	for _, p := range personas {
		f.Personas = append(f.Personas, personaRecord{Name: p.Name, SystemPrompt: p.SystemPrompt, Sampling: p.Sampling, Model: p.Model})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode personas: %w", err)
	}
	return buf.Bytes(), nil
}

// BuiltinPersonas returns the built-in persona set from assets/personas.json.
func BuiltinPersonas() ([]Persona, error) {
	ps, err := ParsePersonas(assets.Personas())
	if err != nil {
		return nil, fmt.Errorf("built-in personas: %w", err)
	}
	for i := range ps {
		ps[i].Builtin = true
	}
	return ps, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// ExportPersonas returns a persona file holding the named personas, or
// every persona when no name is given.
func (s *Store) ExportPersonas(ctx context.Context, names ...string) ([]byte, error) {
	var ps []Persona
	if len(names) == 0 {
		all, err := s.Personas(ctx)
		if err != nil {
			return nil, err
		}
		ps = all
	}
	for _, n := range names {
		p, err := s.Persona(ctx, n)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return MarshalPersonas(ps)
}

// ExportPersonasFile writes ExportPersonas' file to path as ExportFile
// writes a conversation: a regular file appears complete or not at all
// (through a symbolic link, its target), keeps its permissions when it
// existed, and is created with 0666 less the umask otherwise; a device or
// a named pipe is written in place (see atomicfile.WriteOutput).
func (s *Store) ExportPersonasFile(ctx context.Context, path string, names ...string) error {
	data, err := s.ExportPersonas(ctx, names...)
	if err != nil {
		return err
	}
	return atomicfile.WriteOutput(path, func(w io.Writer) error {
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}

// ImportPersonas adds the personas of a persona file, all or none. A name
// that is taken fails the import with ErrExists unless replace is set, in
// which case the existing persona is overwritten. It returns the imported
// personas.
func (s *Store) ImportPersonas(ctx context.Context, data []byte, replace bool) ([]Persona, error) {
	if len(data) > MaxPersonaFileBytes {
		return nil, fmt.Errorf("%w: persona file is larger than %d bytes", ErrInvalid, MaxPersonaFileBytes)
	}
	ps, err := ParsePersonas(data)
	if err != nil {
		return nil, err
	}
	var out []Persona
	err = s.write(ctx, func(tx *sql.Tx) error {
		for _, p := range ps {
			if replace {
				if err := upsertPersona(ctx, tx, p, true); err != nil {
					return err
				}
			} else if err := insertPersona(ctx, tx, p); err != nil {
				return err
			}
			got, err := getPersona(ctx, tx, p.Name)
			if err != nil {
				return err
			}
			out = append(out, got)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import personas: %w", err)
	}
	return out, nil
}
