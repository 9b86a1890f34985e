package filelock

import (
	"errors"
	"path/filepath"
	"runtime"
	"testing"
)

func TestTryLock(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		t.Skip("no advisory locks here")
	}
	path := filepath.Join(t.TempDir(), "x.lock")
	if _, err := TryLock(path, false); err == nil {
		t.Fatal("TryLock without create made the file")
	}
	a, err := TryLock(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(path, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	a.Close()
	b, err := TryLock(path, false)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	b.Close()
}
