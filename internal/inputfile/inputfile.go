// Package inputfile reads the files a person names (import files, prompt
// files, token files): it never blocks on opening a named pipe or a device,
// refuses anything that is not a regular file at once, and never reads more
// than a limit, checking it while reading (a file may grow, and standard
// input has no size).
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrNotRegular is wrapped by the error for a path that is not a regular
// file: a named pipe, a device, a socket or a folder.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error for input beyond the limit.
var ErrTooLarge = errors.New("too large")

// Open opens the regular file at path for reading. Opening never waits (a
// named pipe without a writer would block open(2) forever), and what was
// opened is checked on the open descriptor, so a file swapped for a pipe
// between a check and the open is refused too.
func Open(path string) (*os.File, os.FileInfo, error) {
	f, err := openNoWait(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("open %s: %w (%s)", path, ErrNotRegular, kind(fi.Mode()))
	}
	return f, fi, nil
}

// kind names a non-regular file type for messages.
func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	}
	return "type " + m.Type().String()
}

// ReadFile reads the regular file at path, refusing (with ErrTooLarge)
// one of more than limit bytes before reading it.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, fmt.Errorf("read %s: %w: %d bytes, the most is %d", path, ErrTooLarge, fi.Size(), limit)
	}
	data, err := ReadAll(f, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// ReadAll reads r to its end, failing with ErrTooLarge as soon as more
// than limit bytes arrive (memory use stays within the limit).
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return data, nil
}
