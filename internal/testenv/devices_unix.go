//go:build unix

package testenv

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// FIFO makes a named pipe in a temporary folder and starts reading it on
// its own goroutine, so that a writer's open does not wait. read returns
// what was written into the pipe once the writer closed it; it fails the
// test when the pipe cannot be read or nothing arrives within 10 seconds.
// The test is skipped where named pipes cannot be made.
func FIFO(tb testing.TB) (path string, read func() []byte) {
	tb.Helper()
	path = filepath.Join(tb.TempDir(), "pipe")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		tb.Skipf("mkfifo: %v", err)
	}
	type result struct {
		data []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer f.Close()
		data, err := io.ReadAll(f)
		got <- result{data, err}
	}()
	read = func() []byte {
		tb.Helper()
		select {
		case r := <-got:
			if r.err != nil {
				tb.Fatalf("read the pipe: %v", r.err)
			}
			return r.data
		case <-time.After(10 * time.Second):
			// Release the reader, which waits for a writer.
			if f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			tb.Fatal("nothing was written into the pipe")
			return nil
		}
	}
	return path, read
}
