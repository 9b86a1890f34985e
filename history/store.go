// Package history keeps a person's conversations, personas and settings in
// one SQLite database (github.com/mattn/go-sqlite3, built with the
// sqlite_fts5 tag): versioned migrations, a full-text index kept in step by
// triggers, conversations whose messages form a tree of alternative
// versions, and export/import.
//
// Concurrency: a Store writes through one connection (WAL journal,
// BEGIN IMMEDIATE transactions, a busy timeout) and reads through a small
// pool of query-only connections, so the window and the command line may
// use the same file at the same time, each from its own process.
//
// The package imports neither the engine nor Fyne.
package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// BusyTimeout is how long a statement waits for another connection or
// process to release the database before it fails with "database is locked".
const BusyTimeout = 10 * time.Second

// maxReaders bounds the read-only connection pool.
const maxReaders = 4

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotFound reports a conversation, message or persona that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists reports a name or id that is already taken.
	ErrExists = errors.New("already exists")
	// ErrInvalid reports input that cannot be stored (bad persona, bad import file...).
	ErrInvalid = errors.New("invalid")
	// ErrNewerSchema reports a database written by a newer Llamadesk.
	ErrNewerSchema = errors.New("database is from a newer version of Llamadesk")
)

// Store is an open history database. Its methods are safe for concurrent
// use by several goroutines. Opening it marks interrupted the replies left
// streaming by a process that died (see writers.go).
type Store struct {
	path    string
	w       *sql.DB  // the one writer connection
	r       *sql.DB  // query-only readers
	session *session // this Store's writer session (see writers.go)
}

// Open opens (creating when missing) the history database at path, checks
// it, applies pending migrations and, on first start, seeds the built-in
// personas. A damaged file is copied aside and reported as a *CorruptError;
// it is never replaced (see StartFresh).
func Open(path string) (*Store, error) {
	return openWith(context.Background(), path, migrationFiles)
}

// openWith is Open with the migrations taken from fsys (tests add steps).
// Some steps of opening (switching a new file to WAL, say) report "database
// is locked" at once, without waiting, while another process opens the same
// file: those are retried until BusyTimeout has passed.
func openWith(ctx context.Context, path string, fsys fs.FS) (*Store, error) {
	deadline := time.Now().Add(BusyTimeout)
	for {
		s, err := openOnce(ctx, path, fsys)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// isBusy reports SQLite's "database is locked" (or "table is locked").
func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}

// openOnce makes one attempt at opening the database (see openWith).
func openOnce(ctx context.Context, path string, fsys fs.FS) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open history %s: %w", path, err)
	}
	steps, err := loadMigrations(fsys)
	if err != nil {
		return nil, fmt.Errorf("open history %s: %w", abs, err)
	}
	if err := sniffHeader(abs); err != nil {
		return nil, setAside(abs, err)
	}
	w, err := sql.Open("sqlite3", dsn(abs, writerParams()))
	if err != nil {
		return nil, fmt.Errorf("open history %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := quickCheck(ctx, w); err != nil {
		w.Close()
		if isCorruption(err) {
			return nil, setAside(abs, err)
		}
		return nil, fmt.Errorf("open history %s: %w", abs, err)
	}
	if err := migrate(ctx, w, steps); err != nil {
		w.Close()
		if isCorruption(err) {
			return nil, setAside(abs, err)
		}
		return nil, fmt.Errorf("open history %s: %w", abs, err)
	}
	r, err := sql.Open("sqlite3", dsn(abs, readerParams()))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open history %s: %w", abs, err)
	}
	r.SetMaxOpenConns(maxReaders)
	r.SetMaxIdleConns(maxReaders)
	sess, err := openSession(abs)
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open history %s: %w", abs, err)
	}
	s := &Store{path: abs, w: w, r: r, session: sess}
	if err := s.seedBuiltinPersonas(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open history %s: %w", abs, err)
	}
	if _, err := s.markOrphans(ctx, 0); err != nil {
		s.Close()
		return nil, fmt.Errorf("open history %s: %w", abs, err)
	}
	// The file is healthy (again): a record of earlier damage is stale.
	_ = os.Remove(damagePath(abs))
	return s, nil
}

// Path returns the database file's absolute path.
func (s *Store) Path() string { return s.path }

// Close closes the database. Pending writes are already committed: every
// method commits before it returns.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close(), s.session.close())
}

// Check runs SQLite's full integrity check and the full-text indexes'
// integrity checks, returning an error that lists what is wrong.
func (s *Store) Check(ctx context.Context) error {
	var problems []string
	err := s.read(ctx, func(tx *sql.Tx) error {
		// PRAGMA integrity_check also checks the FTS5 indexes, but through
		// a structure the connection may have cached before other
		// connections wrote (SQLite 3.54 does not refresh it there), which
		// reads as corruption. Opening a cursor on each index refreshes it.
		for _, table := range []string{"messages_fts", "conversations_fts"} {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE rowid = 0").Scan(&n); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, "PRAGMA integrity_check")
		if err != nil {
			return err
		}
		problems, err = collectCheck(rows)
		return err
	})
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check: %s", strings.Join(problems, "; "))
	}
	// The FTS integrity-check command is an INSERT, so it runs on the writer.
	for _, table := range []string{"messages_fts", "conversations_fts"} {
		q := fmt.Sprintf("INSERT INTO %[1]s(%[1]s, rank) VALUES ('integrity-check', 1)", table)
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("search index %s: %w", table, err)
		}
	}
	return nil
}

// RebuildSearchIndex rebuilds the full-text indexes from the tables.
func (s *Store) RebuildSearchIndex(ctx context.Context) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"messages_fts", "conversations_fts"} {
			q := fmt.Sprintf("INSERT INTO %[1]s(%[1]s) VALUES ('rebuild')", table)
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("rebuild %s: %w", table, err)
			}
		}
		return nil
	})
}

// write runs fn in one write transaction (BEGIN IMMEDIATE) and commits it
// when fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// read runs fn in one read transaction, so that it sees one snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// writerParams are the DSN parameters of the writer connection.
func writerParams() url.Values {
	v := url.Values{}
	v.Set("_busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds()))
	v.Set("_journal_mode", "WAL")
	v.Set("_synchronous", "FULL")
	v.Set("_foreign_keys", "1")
	v.Set("_txlock", "immediate")
	return v
}

// readerParams are the DSN parameters of the query-only connections.
func readerParams() url.Values {
	v := url.Values{}
	v.Set("_busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds()))
	v.Set("_foreign_keys", "1")
	v.Set("_query_only", "1")
	return v
}

// dsn builds a file: URI for path, so that any character in the path
// (spaces, '?', '#', '%') survives.
func dsn(path string, params url.Values) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: params.Encode()}
	return u.String()
}

// sqliteHeader starts every SQLite 3 database file.
const sqliteHeader = "SQLite format 3\x00"

// errNotDatabase reports a file that does not start with the SQLite header.
var errNotDatabase = errors.New("file is not an SQLite database")

// sniffHeader reports errNotDatabase when path exists, is not empty, and
// does not start with the SQLite header. A missing or empty file is fine
// (SQLite creates the database in it).
func sniffHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return nil // let SQLite report it with its own words
	}
	defer f.Close()
	buf := make([]byte, len(sqliteHeader))
	n, _ := f.Read(buf)
	if n == 0 {
		return nil
	}
	if n < len(buf) || string(buf) != sqliteHeader {
		return errNotDatabase
	}
	return nil
}

// quickCheck runs PRAGMA quick_check and turns any finding into an error
// that isCorruption recognises.
func quickCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return err
	}
	problems, err := collectCheck(rows)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &checkError{problems: problems}
	}
	return nil
}

// collectCheck reads the rows of an integrity or quick check; a lone "ok"
// means no problem.
func collectCheck(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" && len(problems) < 5 {
			problems = append(problems, line)
		}
	}
	return problems, rows.Err()
}

// checkError carries what PRAGMA quick_check found.
type checkError struct{ problems []string }

// Error lists the problems found.
func (e *checkError) Error() string {
	return "quick_check: " + strings.Join(e.problems, "; ")
}

// isCorruption reports whether err says the file is damaged or not a
// database at all (as opposed to locked, missing permissions, and so on).
func isCorruption(err error) bool {
	var ce *checkError
	if errors.As(err, &ce) || errors.Is(err, errNotDatabase) {
		return true
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB
	}
	return false
}

// millis converts a time to the stored form, unix milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis converts stored unix milliseconds to a UTC time.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// now returns the current time at the stored precision.
func now() time.Time { return fromMillis(time.Now().UnixMilli()) }
