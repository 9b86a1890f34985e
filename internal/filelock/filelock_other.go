//go:build !unix && !windows

package filelock

import "os"

// lock does nothing: this platform has no advisory locks.
func lock(*os.File) error { return nil }
