package history

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestPersonaKey(t *testing.T) {
	for _, same := range [][]string{
		{"école", "ÉCOLE", "E\u0301COLE", "e\u0301cole"}, // precomposed and combining accents
		{"Straße", "STRASSE", "strasse"},                 // full folding: ß is ss
		{"Ὀδυσσεύς", "ὈΔΥΣΣΕΎΣ"},                         // final sigma
		{"Pirate", "pIRATE"},
	} {
		for _, n := range same[1:] {
			if PersonaKey(n) != PersonaKey(same[0]) {
				t.Errorf("PersonaKey(%q) = %q, PersonaKey(%q) = %q: want equal", n, PersonaKey(n), same[0], PersonaKey(same[0]))
			}
		}
	}
	if PersonaKey("école") == PersonaKey("ecole") {
		t.Error("an accent was dropped")
	}
}

// TestPersonaNamesCompareByKey checks that names differing only by case
// (beyond ASCII) or normalisation are one persona, so that an export always
// imports again.
func TestPersonaNamesCompareByKey(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	for _, p := range []Persona{{Name: "ÉCOLE", SystemPrompt: "first"}, {Name: "Straße", SystemPrompt: "second"}} {
		if err := s.CreatePersona(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, dup := range []string{"école", "e\u0301cole", "STRASSE"} {
		if err := s.CreatePersona(ctx, Persona{Name: dup}); !errors.Is(err, ErrExists) {
			t.Errorf("CreatePersona(%q) = %v, want ErrExists", dup, err)
		}
	}
	if p, err := s.Persona(ctx, "e\u0301cole"); err != nil || p.SystemPrompt != "first" {
		t.Errorf("Persona by another spelling: %+v, %v", p, err)
	}
	if err := s.UpdatePersona(ctx, "strasse", Persona{Name: "STRASSE", SystemPrompt: "renamed"}); err != nil {
		t.Errorf("renaming to another case of the same name: %v", err)
	}
	data, err := s.ExportPersonas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := openTemp(t)
	if _, err := other.ImportPersonas(ctx, data, true); err != nil {
		t.Fatalf("an export does not import again: %v", err)
	}
	if _, err := ParsePersonas([]byte(`{"format":"llamadesk.personas","version":1,"personas":[{"name":"Straße"},{"name":"STRASSE"}]}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("a file naming one persona twice: %v", err)
	}
	if err := s.DeletePersona(ctx, "école"); err != nil {
		t.Errorf("DeletePersona by another case: %v", err)
	}
}

// TestMigrationSeparatesFoldedNames builds a release 1 database holding
// two personas release 1 kept apart but that fold to one key, and checks
// that migrating keeps both, tells them apart, and exports what imports.
func TestMigrationSeparatesFoldedNames(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db := rawDB(t, path)
	for _, q := range []string{
		string(mustRead(t, "migrations/0001_init.sql")),
		"PRAGMA user_version = 1",
		`INSERT INTO settings(key, value) VALUES ('history.builtin_personas_seeded', '1')`,
		`INSERT INTO personas(name, system_prompt, created_at, updated_at) VALUES ('ÉCOLE', 'upper', 1, 1)`,
		`INSERT INTO personas(name, system_prompt, created_at, updated_at) VALUES ('école', 'lower', 2, 2)`,
		`INSERT INTO personas(name, system_prompt, created_at, updated_at) VALUES ('école (2)', 'taken suffix', 3, 3)`,
		`INSERT INTO conversations(id, persona_id, persona_name, created_at, updated_at) VALUES ('convlower0000001', 2, 'école', 5, 5)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ps, err := s.Personas(ctx)
	if err != nil || len(ps) != 3 {
		t.Fatalf("personas after migration: %+v, %v", ps, err)
	}
	want := map[string]string{"ÉCOLE": "upper", "école (3)": "lower", "école (2)": "taken suffix"}
	for _, p := range ps {
		if want[p.Name] != p.SystemPrompt {
			t.Errorf("persona %q = %q after migration; want %v", p.Name, p.SystemPrompt, want)
		}
	}
	c, err := s.Conversation(ctx, "convlower0000001")
	if err != nil || c.Persona != "école (3)" {
		t.Errorf("the conversation's persona: %q, %v", c.Persona, err)
	}
	data, err := s.ExportPersonas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openTemp(t).ImportPersonas(ctx, data, true); err != nil {
		t.Errorf("the migrated personas' export does not import: %v", err)
	}
}
