package history

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// CorruptError reports a damaged history database found at open. The
// damaged file stays where it was; a copy of it (and of its -wal file, when
// there is one) was saved as CopyPath, unless saving failed, in which case
// CopyPath is empty and Err says why.
type CorruptError struct {
	// Path is the damaged database.
	Path string
	// CopyPath is where a copy of the damaged file was saved.
	CopyPath string
	// Err is what showed the damage.
	Err error
}

// Error says which file is damaged, why, and where the copy is.
func (e *CorruptError) Error() string {
	if e.CopyPath == "" {
		return fmt.Sprintf("history database %s is damaged and no copy could be saved: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("history database %s is damaged (%v); a copy was saved as %s", e.Path, e.Err, e.CopyPath)
}

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// asideTimeFormat names copies and moved files: <name>.corrupt-<UTC time>.
const asideTimeFormat = "20060102T150405Z"

// setAside copies the damaged database at path (and its -wal file) to a
// new <name>.corrupt-<timestamp> file and returns the *CorruptError that
// reports it.
func setAside(path string, cause error) error {
	copyPath, err := copyAside(path)
	if err != nil {
		return &CorruptError{Path: path, Err: errors.Join(cause, err)}
	}
	return &CorruptError{Path: path, CopyPath: copyPath, Err: cause}
}

// copyAside copies path (and path-wal, when present) to a fresh aside name.
func copyAside(path string) (string, error) {
	dst, err := createAside(path)
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
// .corrupt-<UTC time> suffix, adding -2, -3... when that name is taken.
func createAside(path string) (*os.File, error) {
	base := path + ".corrupt-" + time.Now().UTC().Format(asideTimeFormat)
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

// StartFresh moves the (damaged) database at path aside, together with its
// -wal file, removes its -shm file, and opens a new, empty database in its
// place. It returns the new Store and where the old file went ("" when
// there was no file). Call it only when the person has agreed, and only
// while no Store has the file open.
func StartFresh(path string) (*Store, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", fmt.Errorf("start fresh %s: %w", path, err)
	}
	moved, err := moveAside(abs)
	if err != nil {
		return nil, "", fmt.Errorf("start fresh %s: %w", abs, err)
	}
	s, err := Open(abs)
	if err != nil {
		return nil, moved, err
	}
	return s, moved, nil
}

// moveAside renames path (and path-wal) to a fresh aside name and removes
// path-shm. It returns "" when path does not exist.
func moveAside(path string) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	// Reserve the name exclusively, then rename over the empty placeholder.
	f, err := createAside(path)
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
