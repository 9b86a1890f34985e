// Package filelock takes advisory, exclusive, non-blocking locks on files:
// flock(2) on Unix, LockFileEx on Windows. A lock ends when its file is
// closed or its process ends, however it ends (kill -9 included), which is
// what makes it a sign of life other processes can test.
package filelock

import (
	"errors"
	"fmt"
	"os"
)

// ErrLocked is returned by TryLock when another open file holds the lock.
var ErrLocked = errors.New("locked by another process")

// TryLock opens path (creating it when create is set) and takes an
// exclusive lock on it without waiting; ErrLocked when another holds it.
// Close the file to release the lock. Where the platform has no advisory
// locks, every lock looks free.
func TryLock(path string, create bool) (*os.File, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lock(f); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
