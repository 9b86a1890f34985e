//go:build unix

package inputfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFileRefusesAtOnce(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	regular := filepath.Join(dir, "small.json")
	os.WriteFile(regular, []byte(`{"ok": true}`), 0o600)
	big := filepath.Join(dir, "big.json")
	os.WriteFile(big, make([]byte, 2048), 0o600)
	linkToFifo := filepath.Join(dir, "link")
	os.Symlink(fifo, linkToFifo)

	cases := []struct {
		path string
		want error
	}{
		{fifo, ErrNotRegular},
		{linkToFifo, ErrNotRegular},
		{"/dev/zero", ErrNotRegular},
		{dir, ErrNotRegular},
		{big, ErrTooLarge},
		{regular, nil},
	}
	for _, c := range cases {
		done := make(chan error, 1)
		go func() {
			_, err := ReadFile(c.path, 1024)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, c.want) || (c.want != nil && !strings.Contains(err.Error(), c.path)) {
				t.Errorf("ReadFile(%s) = %v, want %v", c.path, err, c.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadFile(%s) blocked", c.path)
		}
	}
}

func TestReadAllStopsAtTheLimit(t *testing.T) {
	f, err := os.Open("/dev/zero")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if _, err := ReadAll(f, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadAll(/dev/zero) = %v", err)
	}
}
