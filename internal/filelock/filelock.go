// Package filelock takes advisory, exclusive, non-blocking locks on files:
// flock(2) on Unix, LockFileEx on Windows. A lock ends when its file is
// closed or its process ends, however it ends (kill -9 included), which is
// what makes it a sign of life other processes can test.
package filelock

import "errors"

// ErrLocked is returned by TryLock when another open file holds the lock.
var ErrLocked = errors.New("locked by another process")
