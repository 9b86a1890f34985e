package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

// rawDB opens a database file without the store, for building old schemas
// by hand and inspecting files.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", dsn(path, writerParams()))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func userVersion(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenNewDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub folder?#%", "new.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not created at %s: %v", path, err)
	}
	var version int
	var journal string
	var fk bool
	if err := s.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
		t.Fatal(err)
	}
	if err := s.w.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if version != SchemaVersion() || version < 1 {
		t.Errorf("user_version = %d, want %d", version, SchemaVersion())
	}
	if journal != "wal" || !fk {
		t.Errorf("journal_mode %q, foreign_keys %v; want wal, true", journal, fk)
	}
	ps, err := s.Personas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 4 {
		t.Errorf("seeded %d personas, want the 4 built-ins", len(ps))
	}
	mustCheck(t, s)
	// The readers refuse writes.
	if _, err := s.r.ExecContext(ctx, "INSERT INTO settings(key, value) VALUES ('x', 'y')"); err == nil {
		t.Error("the reader pool accepted a write")
	}
}

func TestOpenEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open of an empty file: %v", err)
	}
	s.Close()
}

// v1Fixture builds, by hand, a database as release 1 (schema 0001) left
// it, with one conversation of two messages and one custom persona.
func v1Fixture(t *testing.T, path string) {
	t.Helper()
	body, err := fs.ReadFile(migrationFiles, "migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	stmts := []string{
		string(body),
		"PRAGMA user_version = 1",
		`INSERT INTO personas(name, system_prompt, sampling_json, model, builtin, created_at, updated_at)
			VALUES ('Pirate', 'Talk like a pirate.', '{"temperature":0.8}', '', 0, 1000, 1000)`,
		`INSERT INTO settings(key, value) VALUES ('history.builtin_personas_seeded', '1')`,
		`INSERT INTO conversations(id, title, persona_id, persona_name, system_prompt, created_at, updated_at)
			VALUES ('oldconversation1', 'Treasure maps', 1, 'Pirate', 'Talk like a pirate.', 1000, 2000)`,
		`INSERT INTO messages(conversation_id, parent_id, role, content, created_at, updated_at)
			VALUES ('oldconversation1', NULL, 'user', 'Where is the treasure buried?', 1000, 1000)`,
		`INSERT INTO messages(conversation_id, parent_id, role, content, created_at, updated_at)
			VALUES ('oldconversation1', 1, 'assistant', 'Arr, under the old oak.', 1500, 2000)`,
		`UPDATE conversations SET leaf_id = 2 WHERE id = 'oldconversation1'`,
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("build v1 database: %v", err)
		}
	}
	db.Close()
}

func TestMigrateFromV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	v1Fixture(t, path)

	// This build's steps, and a later build's step on top: opening applies
	// them all (the Go part of 0002 included) and keeps the data.
	later := fstest.MapFS{}
	names, _ := fs.Glob(migrationFiles, "migrations/*.sql")
	for _, name := range names {
		later[name] = &fstest.MapFile{Data: mustRead(t, name)}
	}
	next := SchemaVersion() + 1
	later[fmt.Sprintf("migrations/%04d_drafts.sql", next)] = &fstest.MapFile{Data: []byte(`
			ALTER TABLE conversations ADD COLUMN draft TEXT NOT NULL DEFAULT '';
			CREATE TABLE tags (conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE, tag TEXT NOT NULL);`)}
	s, err := openWith(ctx, path, later)
	if err != nil {
		t.Fatalf("open v1 with a v2 build: %v", err)
	}
	if v := userVersion(t, s.w); v != next {
		t.Errorf("user_version = %d after migration, want %d", v, next)
	}
	var draft string
	if err := s.r.QueryRowContext(ctx, "SELECT draft FROM conversations WHERE id = 'oldconversation1'").Scan(&draft); err != nil {
		t.Errorf("the later step was not applied: %v", err)
	}
	if p, err := s.Persona(ctx, "PIRATE"); err != nil || p.Name != "Pirate" {
		t.Errorf("release 1's persona by its key: %+v, %v", p, err)
	}
	th, err := s.Thread(ctx, "oldconversation1")
	if err != nil {
		t.Fatal(err)
	}
	if got := contents(th.Messages); strings.Join(got, "|") != "Where is the treasure buried?|Arr, under the old oak." {
		t.Errorf("messages after migration = %q", got)
	}
	if th.Conversation.Persona != "Pirate" || th.Conversation.Title != "Treasure maps" {
		t.Errorf("conversation after migration = %+v", th.Conversation)
	}
	// The old data was indexed by the triggers of release 1.
	hits, err := s.Search(ctx, "oak", 0)
	if err != nil || len(hits) != 1 || hits[0].ConversationID != "oldconversation1" {
		t.Errorf("Search(oak) = %+v, %v", hits, err)
	}
	// Seeding does not run again on a database that was seeded.
	ps, err := s.Personas(ctx)
	if err != nil || len(ps) != 1 || ps[0].Name != "Pirate" || *ps[0].Sampling.Temperature != 0.8 {
		t.Errorf("personas after migration = %+v, %v", ps, err)
	}
	mustCheck(t, s)
	s.Close()

	// Opening again with the same build applies nothing new.
	s, err = openWith(ctx, path, later)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.Close()
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(migrationFiles, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMigrateFromV0(t *testing.T) {
	// A database that has never been migrated (user_version 0), holding a
	// table of its own, for instance one made with the sqlite3 shell.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v0.db")
	db := rawDB(t, path)
	if _, err := db.Exec("CREATE TABLE notes(text TEXT); INSERT INTO notes VALUES ('keep me')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open v0: %v", err)
	}
	defer s.Close()
	if v := userVersion(t, s.w); v != SchemaVersion() {
		t.Errorf("user_version = %d, want %d", v, SchemaVersion())
	}
	var note string
	if err := s.r.QueryRowContext(ctx, "SELECT text FROM notes").Scan(&note); err != nil || note != "keep me" {
		t.Errorf("unrelated table lost: %q, %v", note, err)
	}
	mustCheck(t, s)
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	db := rawDB(t, path)
	if _, err := db.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(path)
	wantErr(t, err, ErrNewerSchema)
	var ce *CorruptError
	if errors.As(err, &ce) {
		t.Errorf("a newer schema was reported as corruption: %v", err)
	}
	db = rawDB(t, path)
	if v := userVersion(t, db); v != 999 {
		t.Errorf("user_version changed to %d", v)
	}
	if matches, _ := filepath.Glob(path + ".corrupt-*"); len(matches) > 0 {
		t.Errorf("a newer database was copied aside: %v", matches)
	}
}

func TestLoadMigrationsChecksNames(t *testing.T) {
	ok := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string // substring of the error; "" for success
	}{
		{"one", fstest.MapFS{"migrations/0001_a.sql": ok}, ""},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": ok, "migrations/0003_c.sql": ok}, "expected version 2"},
		{"repeat", fstest.MapFS{"migrations/0001_a.sql": ok, "migrations/0001_b.sql": ok}, "expected version 2"},
		{"bad name", fstest.MapFS{"migrations/first.sql": ok}, "NNNN_name.sql"},
		{"zero", fstest.MapFS{"migrations/0000_a.sql": ok}, "NNNN_name.sql"},
		{"none", fstest.MapFS{}, "no migrations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadMigrations(tc.fsys)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("loadMigrations = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := loadMigrations(migrationFiles); err != nil {
		t.Errorf("embedded migrations: %v", err)
	}
}

func TestConcurrentFirstOpen(t *testing.T) {
	// Window and command line starting at once on a new file: each step
	// and the persona seeding run exactly once.
	path := filepath.Join(t.TempDir(), "race.db")
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(path)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	ps, err := stores[0].Personas(context.Background())
	if err != nil || len(ps) != 4 {
		t.Errorf("personas = %d, %v; want 4", len(ps), err)
	}
}

func TestSettings(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if _, ok, err := s.Setting(ctx, "theme"); ok || err != nil {
		t.Fatalf("unset setting: ok %v, err %v", ok, err)
	}
	for _, v := range []string{"dark", "light", ""} {
		if err := s.SetSetting(ctx, "theme", v); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := s.Setting(ctx, "theme"); got != v || !ok || err != nil {
			t.Errorf("Setting = %q, %v, %v; want %q", got, ok, err, v)
		}
	}
	all, err := s.Settings(ctx)
	if err != nil || all["theme"] != "" || len(all) < 2 {
		t.Errorf("Settings = %v, %v", all, err)
	}
	if err := s.DeleteSetting(ctx, "theme"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Setting(ctx, "theme"); ok {
		t.Error("setting still there after DeleteSetting")
	}
	wantErr(t, s.SetSetting(ctx, "", "x"), ErrInvalid)
}
