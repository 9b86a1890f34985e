package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Persona is a named system prompt with optional sampling defaults and an
// optional preferred model. Names are unique, ignoring case.
type Persona struct {
	Name         string   `json:"name"`
	SystemPrompt string   `json:"system_prompt"`
	Sampling     Sampling `json:"sampling,omitzero"`
	// Model is the preferred model (a file name or catalog id); "" for none.
	Model string `json:"model,omitempty"`
	// Builtin marks a persona of the built-in set (it may have been edited;
	// RestoreBuiltinPersonas puts it back).
	Builtin   bool      `json:"builtin,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Limits on persona fields.
const (
	maxPersonaName  = 80
	maxSystemPrompt = 100_000
	maxModelRef     = 1_000
)

// Validate reports what is wrong with p, if anything.
func (p Persona) Validate() error {
	if err := validateName(p.Name); err != nil {
		return err
	}
	if len(p.SystemPrompt) > maxSystemPrompt {
		return fmt.Errorf("%w: persona %q: system prompt is longer than %d bytes", ErrInvalid, p.Name, maxSystemPrompt)
	}
	if !utf8.ValidString(p.SystemPrompt) || !utf8.ValidString(p.Model) {
		return fmt.Errorf("%w: persona %q: text is not valid UTF-8", ErrInvalid, p.Name)
	}
	if len(p.Model) > maxModelRef {
		return fmt.Errorf("%w: persona %q: model name is longer than %d bytes", ErrInvalid, p.Name, maxModelRef)
	}
	if err := p.Sampling.Validate(); err != nil {
		return fmt.Errorf("persona %q: %w", p.Name, err)
	}
	return nil
}

// validateName checks a persona name: not blank, at most 80 characters,
// no control characters, no surrounding spaces.
func validateName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%w: persona name is empty", ErrInvalid)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%w: persona name %q has leading or trailing spaces", ErrInvalid, name)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: persona name is not valid UTF-8", ErrInvalid)
	case utf8.RuneCountInString(name) > maxPersonaName:
		return fmt.Errorf("%w: persona name %q is longer than %d characters", ErrInvalid, name, maxPersonaName)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: persona name %q contains control characters", ErrInvalid, name)
	}
	return nil
}

// settingPersonasSeeded records that the built-in personas were seeded.
const settingPersonasSeeded = "history.builtin_personas_seeded"

// seedBuiltinPersonas inserts the built-in personas on first start (names
// already taken are left alone) and records that it did, so that deleting
// a built-in persona sticks.
func (s *Store) seedBuiltinPersonas(ctx context.Context) error {
	builtins, err := BuiltinPersonas()
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var v string
		err := tx.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", settingPersonasSeeded).Scan(&v)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("seed personas: %w", err)
		}
		for _, p := range builtins {
			if err := upsertPersona(ctx, tx, p, false); err != nil {
				return fmt.Errorf("seed personas: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO settings(key, value) VALUES (?, '1')", settingPersonasSeeded); err != nil {
			return fmt.Errorf("seed personas: %w", err)
		}
		return nil
	})
}

// RestoreBuiltinPersonas puts the built-in personas back as shipped:
// deleted ones come back and edited ones get their original text and
// settings. Other personas are not touched.
func (s *Store) RestoreBuiltinPersonas(ctx context.Context) error {
	builtins, err := BuiltinPersonas()
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, p := range builtins {
			if err := upsertPersona(ctx, tx, p, true); err != nil {
				return fmt.Errorf("restore built-in personas: %w", err)
			}
		}
		return nil
	})
}

// upsertPersona inserts p; when its name is taken it replaces that persona
// (replace) or leaves it alone.
func upsertPersona(ctx context.Context, tx *sql.Tx, p Persona, replace bool) error {
	sampling, err := encodeSampling(p.Sampling)
	if err != nil {
		return err
	}
	t := millis(now())
	q := `INSERT INTO personas(name, name_key, system_prompt, sampling_json, model, builtin, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(name_key) DO NOTHING`
	if replace {
		q = `INSERT INTO personas(name, name_key, system_prompt, sampling_json, model, builtin, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(name_key) DO UPDATE SET name = excluded.name, system_prompt = excluded.system_prompt,
			sampling_json = excluded.sampling_json, model = excluded.model,
			builtin = excluded.builtin, updated_at = excluded.updated_at`
	}
	_, err = tx.ExecContext(ctx, q, p.Name, PersonaKey(p.Name), p.SystemPrompt, sampling, p.Model, p.Builtin, t, t)
	if err != nil {
		return fmt.Errorf("save persona %q: %w", p.Name, err)
	}
	return nil
}

const personaColumns = "name, system_prompt, sampling_json, model, builtin, created_at, updated_at"

// scanPersona reads one row of personaColumns.
func scanPersona(row interface{ Scan(...any) error }) (Persona, error) {
	var p Persona
	var sampling string
	var created, updated int64
	if err := row.Scan(&p.Name, &p.SystemPrompt, &sampling, &p.Model, &p.Builtin, &created, &updated); err != nil {
		return p, err
	}
	var err error
	if p.Sampling, err = decodeSampling(sampling); err != nil {
		return p, fmt.Errorf("persona %q: %w", p.Name, err)
	}
	p.CreatedAt, p.UpdatedAt = fromMillis(created), fromMillis(updated)
	return p, nil
}

// Personas lists every persona in the order they were created (the
// built-in set first).
func (s *Store) Personas(ctx context.Context) ([]Persona, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+personaColumns+" FROM personas ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list personas: %w", err)
	}
	defer rows.Close()
	var out []Persona
	for rows.Next() {
		p, err := scanPersona(rows)
		if err != nil {
			return nil, fmt.Errorf("list personas: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list personas: %w", err)
	}
	return out, nil
}

// Persona returns the persona called name (ignoring case and Unicode
// normalisation, see PersonaKey).
func (s *Store) Persona(ctx context.Context, name string) (Persona, error) {
	return getPersona(ctx, s.r, name)
}

// queryRower is what *sql.DB and *sql.Tx share for single-row reads.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getPersona(ctx context.Context, q queryRower, name string) (Persona, error) {
	p, err := scanPersona(q.QueryRowContext(ctx, "SELECT "+personaColumns+" FROM personas WHERE name_key = ?", PersonaKey(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("persona %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("persona %q: %w", name, err)
	}
	return p, nil
}

// CreatePersona adds a new persona; its name must be free (ErrExists).
// Builtin and the times are set by the store.
func (s *Store) CreatePersona(ctx context.Context, p Persona) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p.Builtin = false
	return s.write(ctx, func(tx *sql.Tx) error {
		return insertPersona(ctx, tx, p)
	})
}

// insertPersona inserts p, reporting ErrExists when its name is taken.
func insertPersona(ctx context.Context, tx *sql.Tx, p Persona) error {
	sampling, err := encodeSampling(p.Sampling)
	if err != nil {
		return err
	}
	t := millis(now())
	_, err = tx.ExecContext(ctx, `INSERT INTO personas(name, name_key, system_prompt, sampling_json, model, builtin, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.Name, PersonaKey(p.Name), p.SystemPrompt, sampling, p.Model, p.Builtin, t, t)
	if isUniqueViolation(err) {
		return fmt.Errorf("persona %q: %w", p.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create persona %q: %w", p.Name, err)
	}
	return nil
}

// UpdatePersona replaces the persona called name with p (which may rename
// it). Conversations keep the system prompt they were started with.
func (s *Store) UpdatePersona(ctx context.Context, name string, p Persona) error {
	if err := p.Validate(); err != nil {
		return err
	}
	sampling, err := encodeSampling(p.Sampling)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE personas SET name = ?, name_key = ?, system_prompt = ?, sampling_json = ?, model = ?, updated_at = ?
			WHERE name_key = ?`, p.Name, PersonaKey(p.Name), p.SystemPrompt, sampling, p.Model, millis(now()), PersonaKey(name))
		if isUniqueViolation(err) {
			return fmt.Errorf("persona %q: %w", p.Name, ErrExists)
		}
		if err != nil {
			return fmt.Errorf("update persona %q: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("persona %q: %w", name, ErrNotFound)
		}
		return nil
	})
}

// DuplicatePersona copies the persona called name under newName, or, when
// newName is "", under the first free name of "<name> (copy)", "<name>
// (copy 2)"... It returns the copy.
func (s *Store) DuplicatePersona(ctx context.Context, name, newName string) (Persona, error) {
	var out Persona
	err := s.write(ctx, func(tx *sql.Tx) error {
		p, err := getPersona(ctx, tx, name)
		if err != nil {
			return err
		}
		p.Builtin = false
		if newName != "" {
			p.Name = newName
			if err := p.Validate(); err != nil {
				return err
			}
			if err := insertPersona(ctx, tx, p); err != nil {
				return err
			}
			out, err = getPersona(ctx, tx, p.Name)
			return err
		}
		base := p.Name
		for i := 1; i <= 1000; i++ {
			suffix := " (copy)"
			if i > 1 {
				suffix = fmt.Sprintf(" (copy %d)", i)
			}
			p.Name = truncateRunes(base, maxPersonaName-utf8.RuneCountInString(suffix)) + suffix
			err := insertPersona(ctx, tx, p)
			if errors.Is(err, ErrExists) {
				continue
			}
			if err != nil {
				return err
			}
			out, err = getPersona(ctx, tx, p.Name)
			return err
		}
		return fmt.Errorf("duplicate persona %q: no free name", name)
	})
	return out, err
}

// DeletePersona removes the persona called name. Conversations started
// with it keep its name and system prompt.
func (s *Store) DeletePersona(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM personas WHERE name_key = ?", PersonaKey(name))
		if err != nil {
			return fmt.Errorf("delete persona %q: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("persona %q: %w", name, ErrNotFound)
		}
		return nil
	})
}

// isUniqueViolation reports a UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint &&
		(se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

// truncateRunes returns at most n runes of s.
func truncateRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
