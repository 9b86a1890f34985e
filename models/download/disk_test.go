package download

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// A full disk and the free-space check.

// fullDisk is a partial file that fails with ENOSPC once limit bytes were written.
type fullDisk struct {
	*os.File
	mu      sync.Mutex
	written int64
	limit   int64
}

func (f *fullDisk) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.written+int64(len(p)) > f.limit {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.written += int64(len(p))
	return f.File.WriteAt(p, off)
}

func TestDiskFullKeepsThePartial(t *testing.T) {
	srv := newFaultServer(t, 1<<20)
	dest := filepath.Join(t.TempDir(), "f.bin")
	cfg := fastConfig()
	cfg.OpenFile = func(path string) (File, error) {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		return &fullDisk{File: f, limit: 400 << 10}, nil
	}
	err := fetchFile(t, cfg, Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "partial download is kept") {
		t.Fatalf("err = %v, want ENOSPC with a clear message", err)
	}
	requireAbsent(t, dest)
	st, err := loadState(StatePath(dest))
	if err != nil || st == nil {
		t.Fatalf("resume state after a full disk: %v", err)
	}
	if d := st.done(); d == 0 || d > 400<<10 {
		t.Fatalf("state claims %d bytes done; %d were written", d, 400<<10)
	}
	before := len(srv.requests())
	if err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum}); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
	requireResumedFrom(t, st, srv.requests()[before:])
}

func TestRefusesWithoutFreeSpace(t *testing.T) {
	srv := newFaultServer(t, 1<<20)
	dest := filepath.Join(t.TempDir(), "f.bin")
	cfg := fastConfig()
	cfg.FreeSpace = func(string) (uint64, error) { return 1000, nil }
	err := fetchFile(t, cfg, Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum})
	var se *InsufficientSpaceError
	if !errors.As(err, &se) || !errors.Is(err, ErrNoSpace) {
		t.Fatalf("err = %v, want InsufficientSpaceError", err)
	}
	if se.Need != 1<<20 || se.Free != 1000 || !strings.Contains(err.Error(), "1048576 bytes") || !strings.Contains(err.Error(), "1000 bytes") {
		t.Errorf("refusal %q does not name the numbers", err)
	}
	requireAbsent(t, dest)
	requireAbsent(t, PartialPath(dest))
}

func TestRealFreeSpace(t *testing.T) {
	free, err := FreeSpace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if free == 0 {
		t.Error("no free space reported for the temporary folder")
	}
}
