package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/llamadesk/llamadesk/internal/atomicfile"
)

// CorruptError reports a damaged history database found at open. The
// damaged file stays where it was; a copy of it (and of its -wal file, when
// there is one) was saved as CopyPath, unless saving failed, in which case
// CopyPath is empty and Err says why. The copy is made once: while the
// damaged file stays as it is, later opens refuse it with the same
// CopyPath (and Earlier set) until StartFresh replaces it.
type CorruptError struct {
	// Path is the damaged database.
	Path string
	// CopyPath is where a copy of the damaged file was saved.
	CopyPath string
	// Earlier is set when the copy was made by an earlier open.
	Earlier bool
	// Err is what showed the damage.
	Err error
}

// Error says which file is damaged, why, and where the copy is.
func (e *CorruptError) Error() string {
	switch {
	case e.CopyPath == "":
		return fmt.Sprintf("history database %s is damaged and no copy could be saved: %v", e.Path, e.Err)
	case e.Earlier:
		return fmt.Sprintf("history database %s is damaged (%v); a copy was saved as %s when the damage was first found", e.Path, e.Err, e.CopyPath)
	}
	return fmt.Sprintf("history database %s is damaged (%v); a copy was saved as %s", e.Path, e.Err, e.CopyPath)
}

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// asideTimeFormat names copies and moved files: <name>.corrupt-<UTC time>.
const asideTimeFormat = "20060102T150405Z"

// setAside copies the damaged database at path (and its -wal file) to a
// new <name>.corrupt-<timestamp> file, unless an earlier open already saved
// a copy of the file as it is now, and returns the *CorruptError that
// reports it.
func setAside(path string, cause error) error {
	fp := fingerprint(path)
	if prev, ok := earlierCopy(path, fp); ok {
		return &CorruptError{Path: path, CopyPath: prev, Earlier: true, Err: cause}
	}
	copyPath, err := copyAside(path)
	if err != nil {
		return &CorruptError{Path: path, Err: errors.Join(cause, err)}
	}
	if err := recordCopy(path, damageRecord{Copy: copyPath, File: fp}); err != nil {
		// The copy is safe; without the record the next open copies again.
		return &CorruptError{Path: path, CopyPath: copyPath, Err: errors.Join(cause, err)}
	}
	return &CorruptError{Path: path, CopyPath: copyPath, Err: cause}
}

// damageRecord is kept beside a damaged database (<name>.damaged) once a
// copy of it is saved: where the copy is, and the file as it was then.
type damageRecord struct {
	Copy string     `json:"copy"`
	File fileStamps `json:"file"`
}

// fileStamps identify a database file's state (with its -wal file): sizes
// and modification times, which change with any write.
type fileStamps struct {
	Size       int64 `json:"size"`
	ModNanos   int64 `json:"mod_nanos"`
	WALSize    int64 `json:"wal_size"`
	WALModNano int64 `json:"wal_mod_nanos"`
}

// fingerprint returns the stamps of path and path-wal (-1 when missing).
func fingerprint(path string) fileStamps {
	fp := fileStamps{Size: -1, WALSize: -1}
	if fi, err := os.Stat(path); err == nil {
		fp.Size, fp.ModNanos = fi.Size(), fi.ModTime().UnixNano()
	}
	if fi, err := os.Stat(path + "-wal"); err == nil {
		fp.WALSize, fp.WALModNano = fi.Size(), fi.ModTime().UnixNano()
	}
	return fp
}

// damagePath is where the damage record of the database at path is kept.
func damagePath(path string) string { return path + ".damaged" }

// earlierCopy returns the copy an earlier open saved of path, when the
// file is still as it was then and the copy is still there.
func earlierCopy(path string, fp fileStamps) (string, bool) {
	data, err := os.ReadFile(damagePath(path))
	if err != nil || len(data) > 64<<10 {
		return "", false
	}
	var rec damageRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.File != fp || rec.Copy == "" {
		return "", false
	}
	if _, err := os.Stat(rec.Copy); err != nil {
		return "", false
	}
	return rec.Copy, true
}

// recordCopy writes the damage record of path.
func recordCopy(path string, rec damageRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(damagePath(path), data, 0o600); err != nil {
		return fmt.Errorf("record the copy of %s: %w", path, err)
	}
	return nil
}

// copyAside copies path (and path-wal, when present) to a fresh aside name.
func copyAside(path string) (string, error) {
	dst, err := createAside(path, ".corrupt-")
	if err != nil {
		return "", err
	}
	name := dst.Name()
	if err := copyInto(dst, path); err != nil {
		os.Remove(name)
		return "", err
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		wal, err := os.OpenFile(name+"-wal", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return "", fmt.Errorf("save copy of %s-wal: %w", path, err)
		}
		if err := copyInto(wal, path+"-wal"); err != nil {
			os.Remove(name + "-wal")
			return "", err
		}
	}
	return name, nil
}

// createAside creates (exclusively) a new file named after path with a
// <suffix><UTC time> suffix, adding -2, -3... when that name is taken.
func createAside(path, suffix string) (*os.File, error) {
	base := path + suffix + time.Now().UTC().Format(asideTimeFormat)
	for i := 1; i < 100; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("save copy of %s: %w", path, err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("save copy of %s: too many earlier copies", path)
}

// copyInto copies the file src into dst, syncs and closes dst.
func copyInto(dst *os.File, src string) error {
	in, err := os.Open(src)
	if err != nil {
		dst.Close()
		return fmt.Errorf("save copy of %s: %w", src, err)
	}
	defer in.Close()
	if _, err := io.Copy(dst, in); err != nil {
		dst.Close()
		return fmt.Errorf("save copy of %s: %w", src, err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return fmt.Errorf("save copy of %s: %w", src, err)
	}
	if err := dst.Close(); err != nil {
		return fmt.Errorf("save copy of %s: %w", src, err)
	}
	return nil
}

// ErrHealthy refuses to set a healthy database aside without force.
var ErrHealthy = errors.New("the history database is not damaged")

// ErrInUse refuses to set aside a database another process has open.
var ErrInUse = errors.New("the history database is open in another process")

// StartFresh moves the damaged database at path aside, together with its
// -wal file, removes its -shm file, and opens a new, empty database in its
// place. It returns the new Store and where the old file went ("" when
// there was no file). A database that is not damaged is refused with
// ErrHealthy unless force is set (then it is moved aside all the same, as
// <name>.old-<time>). A database a Store has open, in this process or
// another, is refused with ErrInUse, forced or not. Call it only when the
// person has agreed.
func StartFresh(path string, force bool) (*Store, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", fmt.Errorf("start fresh %s: %w", path, err)
	}
	// Never from under a process that has it open (the window, serve, chat):
	// it would go on writing into the file moved aside.
	if live, err := liveSessions(abs, ""); err != nil {
		return nil, "", fmt.Errorf("start fresh %s: %w", abs, err)
	} else if len(live) > 0 {
		return nil, "", fmt.Errorf("start fresh %s: %w (nothing was moved; close the other Llamadesk window, server or chat first)", abs, ErrInUse)
	}
	suffix := ".corrupt-"
	switch err := Diagnose(context.Background(), abs); {
	case err == nil && force:
		suffix = ".old-"
	case err == nil:
		if _, serr := os.Stat(abs); serr == nil {
			return nil, "", fmt.Errorf("start fresh %s: %w (nothing was moved; force it to set a healthy history aside)", abs, ErrHealthy)
		}
	case !isCorruption(err) && !force:
		return nil, "", fmt.Errorf("start fresh %s: cannot tell whether it is damaged: %w", abs, err)
	}
	moved, err := moveAside(abs, suffix)
	if err != nil {
		return nil, "", fmt.Errorf("start fresh %s: %w", abs, err)
	}
	if err := os.Remove(damagePath(abs)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, moved, fmt.Errorf("start fresh %s: %w", abs, err)
	}
	s, err := Open(abs)
	if err != nil {
		return nil, moved, err
	}
	return s, moved, nil
}

// Diagnose checks the database at path without changing it: nil when it
// is healthy (or not there yet), an error that isCorruption recognises when
// it is damaged, any other error when it cannot be read.
func Diagnose(ctx context.Context, path string) error {
	if err := sniffHeader(path); err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Size() == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	v := readerParams()
	v.Set("mode", "ro")
	db, err := sql.Open("sqlite3", dsn(path, v))
	if err != nil {
		return err
	}
	defer db.Close()
	return quickCheck(ctx, db)
}

// moveAside renames path (and path-wal) to a fresh <path><suffix><time>
// name and removes path-shm. It returns "" when path does not exist.
func moveAside(path, suffix string) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	// Reserve the name exclusively, then rename over the empty placeholder.
	f, err := createAside(path, suffix)
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
	if err := os.Rename(path, name); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("move %s aside: %w", path, err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		if err := os.Rename(path+"-wal", name+"-wal"); err != nil {
			return name, fmt.Errorf("move %s-wal aside: %w", path, err)
		}
	}
	if err := os.Remove(path + "-shm"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return name, fmt.Errorf("remove %s-shm: %w", path, err)
	}
	return name, nil
}
