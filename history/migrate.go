package history

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds the schema's versioned steps, NNNN_name.sql. A
// shipped file is never edited; a change is a new file with the next number.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads migrations/NNNN_name.sql from fsys, sorted by
// version; versions must run 1, 2, 3... without gaps or repeats.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var steps []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", base)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		steps = append(steps, migration{version: version, name: base, sql: string(body)})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].version < steps[j].version })
	for i, m := range steps {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("no migrations found")
	}
	return steps, nil
}

// migrationHooks returns the steps of migrations that SQL cannot do, run
// right after the named migration's SQL in its transaction.
func migrationHooks() map[string]func(context.Context, *sql.Tx) error {
	return map[string]func(context.Context, *sql.Tx) error{
		"0002_release2.sql": fillPersonaKeys,
	}
}

// SchemaVersion is the schema version this build writes (the number of the
// last embedded migration).
func SchemaVersion() int {
	steps, err := loadMigrations(migrationFiles)
	if err != nil {
		return 0
	}
	return steps[len(steps)-1].version
}

// migrate brings the database to the last step, one transaction per step,
// recording progress in PRAGMA user_version. Each step re-reads the version
// inside its write transaction, so two processes opening the same file at
// once apply every step exactly once.
func migrate(ctx context.Context, db *sql.DB, steps []migration) error {
	latest := steps[len(steps)-1].version
	for {
		done, err := migrateStep(ctx, db, steps, latest)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next pending step, reporting done when none is left.
func migrateStep(ctx context.Context, db *sql.DB, steps []migration, latest int) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return false, fmt.Errorf("migrate: read schema version: %w", err)
	}
	switch {
	case version > latest:
		return false, fmt.Errorf("%w (schema %d; this build knows up to %d)", ErrNewerSchema, version, latest)
	case version == latest:
		return true, nil
	case version < 0:
		return false, fmt.Errorf("migrate: bad schema version %d", version)
	}
	step := steps[version] // versions are 1-based and contiguous
	if _, err := tx.ExecContext(ctx, step.sql); err != nil {
		return false, fmt.Errorf("migrate to %s: %w", step.name, err)
	}
	if hook := migrationHooks()[step.name]; hook != nil {
		if err := hook(ctx, tx); err != nil {
			return false, fmt.Errorf("migrate to %s: %w", step.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", step.version)); err != nil {
		return false, fmt.Errorf("migrate to %s: %w", step.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate to %s: %w", step.name, err)
	}
	return step.version == latest, nil
}
