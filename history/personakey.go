package history

import (
	"context"
	"database/sql"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// PersonaKey returns the key persona names are compared by: the name
// decomposed (NFD), case-folded with Unicode's full folding (so "Straße"
// matches "STRASSE" and "ÉCOLE" matches "école"), then composed (NFC), so
// that precomposed and combining spellings match too. Two names with the
// same key name the same persona.
func PersonaKey(name string) string {
	// A Caser keeps state: one per call.
	return norm.NFC.String(cases.Fold().String(norm.NFD.String(name)))
}

// fillPersonaKeys computes name_key for every persona (migration 0002) and
// indexes it. Names that release 1 kept apart but fold to the same key
// (it folded ASCII only) are told apart by a " (2)", " (3)"... suffix on
// the later ones, so that nothing is lost.
func fillPersonaKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, name FROM personas ORDER BY id")
	if err != nil {
		return fmt.Errorf("persona keys: %w", err)
	}
	type row struct {
		id   int64
		name string
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.name); err != nil {
			rows.Close()
			return fmt.Errorf("persona keys: %w", err)
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("persona keys: %w", err)
	}
	// The first persona of each key keeps its name; the later ones get
	// the first free suffix.
	used := make(map[string]bool, len(all))
	var later []row
	for _, r := range all {
		if key := PersonaKey(r.name); !used[key] {
			used[key] = true
			if _, err := tx.ExecContext(ctx, "UPDATE personas SET name_key = ? WHERE id = ?", key, r.id); err != nil {
				return fmt.Errorf("persona keys: %q: %w", r.name, err)
			}
			continue
		}
		later = append(later, r)
	}
	for _, r := range later {
		var name, key string
		for n := 2; ; n++ {
			suffix := fmt.Sprintf(" (%d)", n)
			name = truncateRunes(r.name, maxPersonaName-utf8.RuneCountInString(suffix)) + suffix
			if key = PersonaKey(name); !used[key] {
				break
			}
		}
		used[key] = true
		if _, err := tx.ExecContext(ctx, "UPDATE personas SET name = ?, name_key = ? WHERE id = ?", name, key, r.id); err != nil {
			return fmt.Errorf("persona keys: %q: %w", r.name, err)
		}
		// Conversations started with it follow it to its new name (their
		// old one now names the other persona).
		if _, err := tx.ExecContext(ctx, "UPDATE conversations SET persona_name = ? WHERE persona_id = ?", name, r.id); err != nil {
			return fmt.Errorf("persona keys: %q: %w", r.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "CREATE UNIQUE INDEX personas_by_key ON personas(name_key)"); err != nil {
		return fmt.Errorf("persona keys: %w", err)
	}
	return nil
}
