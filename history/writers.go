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
	"time"

	"github.com/llamadesk/llamadesk/internal/filelock"
)

// Replies that stay "streaming" after their process died (a crash, kill
// -9, SIGPIPE on `chat ... | head`) are found through writer sessions: each
// open Store is a session with a random id, holding an exclusive lock on
// <db>.writers/<id>.lock for as long as it is open, and every reply it
// streams records the id. The lock ends with the process however it ends,
// so at the next open a streaming reply whose session's lock can be taken
// (or is gone) belongs to no one: it is marked interrupted, visibly, and
// may be continued or regenerated. Replies another live process is
// streaming are left alone.

// lockSuffix ends the lock file of each session.
const lockSuffix = ".lock"

// writersDir is the folder of the session locks of the database at path.
func writersDir(path string) string { return path + ".writers" }

// session is the writer session of an open Store.
type session struct {
	id   string
	lock *os.File // held while the Store is open
	path string   // of the lock file
}

// openSession starts the Store's writer session: a new id and its lock,
// taken under a temporary name and then renamed, so that no other process
// ever sees the final name unlocked.
func openSession(dbPath string) (*session, error) {
	dir := writersDir(dbPath)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("writer session: %w", err)
	}
	id := newID()
	tmp := filepath.Join(dir, "."+id+".new")
	f, err := filelock.TryLock(tmp, true)
	if err != nil {
		return nil, fmt.Errorf("writer session: %w", err)
	}
	final := filepath.Join(dir, id+lockSuffix)
	if err := os.Rename(tmp, final); err != nil {
		// Where a locked file cannot be renamed, lock the final name
		// directly (a process looking in that instant sees a dead
		// session without replies, which costs nothing).
		f.Close()
		os.Remove(tmp)
		if f, err = filelock.TryLock(final, true); err != nil {
			return nil, fmt.Errorf("writer session: %w", err)
		}
	}
	return &session{id: id, lock: f, path: final}, nil
}

// close ends the session: its lock file goes, then its lock. A reply the
// session left streaming is then found interrupted at the next open.
func (s *session) close() error {
	if s == nil || s.lock == nil {
		return nil
	}
	err := os.Remove(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	err = errors.Join(err, s.lock.Close())
	s.lock = nil
	return err
}

// markOrphans marks interrupted every streaming reply whose writer session
// is over (its lock file can be locked, or is gone), and every one without a
// session (saved by release 1) not updated for unowned (all of them when
// unowned is 0). It also removes the lock files of ended sessions. It
// returns how many replies it marked.
func (s *Store) markOrphans(ctx context.Context, unowned time.Duration) (int, error) {
	alive, err := liveSessions(s.path, s.session.id)
	if err != nil {
		return 0, err
	}
	alive[s.session.id] = true
	var n int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT DISTINCT COALESCE(writer, '') FROM messages WHERE status = 'streaming'")
		if err != nil {
			return err
		}
		var writers []string
		for rows.Next() {
			var w string
			if err := rows.Scan(&w); err != nil {
				rows.Close()
				return err
			}
			writers = append(writers, w)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, w := range writers {
			if alive[w] || w != "" && sessionHeld(s.path, w) {
				continue // a session that started after liveSessions looked is alive too
			}
			q, args := "UPDATE messages SET status = 'interrupted', writer = NULL WHERE status = 'streaming' AND writer = ?", []any{w}
			if w == "" {
				q, args = "UPDATE messages SET status = 'interrupted' WHERE status = 'streaming' AND writer IS NULL AND updated_at <= ?", []any{millis(now().Add(-unowned))}
			}
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mark interrupted replies: %w", err)
	}
	return int(n), nil
}

// liveSessions returns the ids of the writer sessions of the database at
// path whose process is alive: their lock is held (or cannot be checked).
// It removes the lock files of the sessions that ended. The session own
// (this Store's, "" for none) is neither checked nor returned.
func liveSessions(path, own string) (map[string]bool, error) {
	dir := writersDir(path)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("writer sessions: %w", err)
	}
	alive := map[string]bool{}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), lockSuffix)
		if !ok || id == own || !validID(id) {
			continue
		}
		lockPath := filepath.Join(dir, e.Name())
		f, err := filelock.TryLock(lockPath, false)
		if errors.Is(err, filelock.ErrLocked) {
			alive[id] = true
			continue
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // ended meanwhile
			}
			alive[id] = true // cannot tell: count it as alive
			continue
		}
		// Its process is gone; the file goes while we hold the lock.
		os.Remove(lockPath)
		f.Close()
	}
	return alive, nil
}

// sessionHeld reports whether the lock of writer session id of the database
// at path is held (or cannot be checked), leaving its file as it is.
func sessionHeld(path, id string) bool {
	if !validID(id) {
		return false
	}
	f, err := filelock.TryLock(filepath.Join(writersDir(path), id+lockSuffix), false)
	if err == nil {
		f.Close()
		return false
	}
	return !errors.Is(err, fs.ErrNotExist)
}
