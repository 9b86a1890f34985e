//go:build unix

package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// NullDevice returns the path of a null character device (major 1, minor 3)
// that a test may write into. Run as root (CI runs as root), it is a node
// made in a temporary folder, so that a regression that replaces the file
// at the path cannot damage the system's /dev/null; otherwise it is
// /dev/null itself, which an unprivileged process cannot replace.
func NullDevice(tb testing.TB) string {
	tb.Helper()
	return device(tb, "null", 1, 3)
}

// FullDevice is NullDevice for /dev/full (writes fail with ENOSPC).
func FullDevice(tb testing.TB) string {
	tb.Helper()
	return device(tb, "full", 1, 7)
}

func device(tb testing.TB, name string, major, minor uint32) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		if _, err := os.Stat("/dev/" + name); err != nil {
			tb.Skipf("no /dev/%s", name)
		}
		return "/dev/" + name
	}
	path := filepath.Join(tb.TempDir(), name)
	if err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(major, minor))); err != nil {
		tb.Skipf("mknod %s: %v", path, err)
	}
	return path
}
