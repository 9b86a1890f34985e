// Package atomicfile writes files so that readers see the old content or
// the new, never a mix or a half-written file, even after a crash: the data
// goes to a temporary file in the same folder, which is synced and renamed
// over the destination, and the folder is synced.
//
// Destinations are treated as a shell redirection would treat them, minus
// the half-written file: a symbolic link is followed and its target is
// replaced (the link stays a link); an existing file keeps its permissions;
// a new file gets the requested mode less the process's umask. WriteOutput,
// for paths a person names (exports), also writes straight into what cannot
// be replaced by renaming: a device such as /dev/null or /dev/stdout, or a
// named pipe.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
)

// maxLinks bounds how many symbolic links Resolve follows (as the kernel's
// ELOOP limit does).
const maxLinks = 40

// ErrNotRegular is wrapped by Write's error for a destination that exists
// and is neither a regular file nor a link to one (a device, a pipe, a
// folder).
var ErrNotRegular = errors.New("not a regular file")

// Write creates or replaces path with what write produces. A new file gets
// mode perm less the umask; an existing one keeps its permission bits (and
// never gains bits perm lacks, so a private file stays private). A symbolic
// link at path is followed: its target is replaced. When write fails, path
// is left as it was and the error is returned. A destination that is not a
// regular file is refused with ErrNotRegular.
func Write(path string, perm os.FileMode, write func(io.Writer) error) error {
	target, fi, err := Resolve(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if fi != nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("write %s: %w", path, ErrNotRegular)
	}
	return replace(path, target, fi, perm, write)
}

// WriteOutput writes what write produces to a path a person named: a
// regular file (new, or through a symbolic link) is replaced atomically as
// Write does, with mode 0666 less the umask for a new file; a device or a
// named pipe is opened and written in place; a folder is refused.
func WriteOutput(path string, write func(io.Writer) error) error {
	st, err := os.Stat(path) // through every link, as open(2) would go
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("write %s: is a folder", path)
	case err == nil && !st.Mode().IsRegular():
		// A device or a pipe: writing into it is what the person asked for.
		return writeInPlace(path, os.O_WRONLY, write)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("write %s: %w", path, err)
	}
	target, fi, err := Resolve(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if st != nil && (fi == nil || !os.SameFile(st, fi)) {
		// The links do not read as paths to the file (/proc/self/fd/1 and
		// other "magic" links of the kernel): write where they lead.
		return writeInPlace(path, os.O_WRONLY|os.O_TRUNC, write)
	}
	if fi != nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("write %s: %w", path, ErrNotRegular)
	}
	return replace(path, target, fi, 0o666, write)
}

// writeInPlace opens path with flag (never O_CREATE: a node that vanished
// must not turn into a new regular file) and writes into it.
func writeInPlace(path string, flag int, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Resolve follows the symbolic links of path's last element and returns
// the path they lead to and its file info, or a nil info when nothing is
// there yet (a new file, or a dangling link whose target will be created).
func Resolve(path string) (string, os.FileInfo, error) {
	for range maxLinks {
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil, nil
		}
		if err != nil {
			return "", nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, fi, nil
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", nil, err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		path = link
	}
	return "", nil, fmt.Errorf("more than %d symbolic links", maxLinks)
}

// tmpCounter makes temporary names unique within the process; the time and
// the pid make them unique across processes, and O_EXCL makes sure.
var tmpCounter atomic.Uint64

// createTemp creates a new file beside target with mode perm (less the
// umask, which the kernel applies).
func createTemp(target string, perm os.FileMode) (*os.File, error) {
	dir, base := filepath.Dir(target), filepath.Base(target)
	for range 100 {
		n := tmpCounter.Add(1)
		name := filepath.Join(dir, "."+base+".tmp-"+strconv.Itoa(os.Getpid())+"-"+
			strconv.FormatInt(time.Now().UnixNano()%1e9, 36)+"-"+strconv.FormatUint(n, 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("no free temporary name beside %s", target)
}

// replace writes a temporary file beside target and renames it over target.
// fi describes the existing target (nil when there is none); path is the
// name the person gave, for messages.
func replace(path, target string, fi os.FileInfo, perm os.FileMode, write func(io.Writer) error) error {
	tmp, err := createTemp(target, perm.Perm())
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if fi != nil {
		// Keep the existing file's permissions, but never grant more than
		// perm: a private file stays private.
		if err := tmp.Chmod(fi.Mode().Perm() & perm.Perm()); err != nil {
			tmp.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(target))
}

// WriteFile creates or replaces path with data (see Write).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}
