//go:build !unix && !windows

package filelock

import "os"

// TryLock opens path without locking: this platform has no advisory locks,
// so every lock looks free.
func TryLock(path string, create bool) (*os.File, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	return os.OpenFile(path, flag, 0o600)
}
