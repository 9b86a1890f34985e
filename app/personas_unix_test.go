//go:build unix

package app

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// TestPersonasExportFileDestinations checks that the window's persona
// export treats its path as the command line's exports do (a shell
// redirection, minus the half-written file): devices and pipes are written
// into, links are followed, the umask and an existing file's mode are
// honoured, and a folder or a full device is an error.
func TestPersonasExportFileDestinations(t *testing.T) {
	a := openApp(t)
	ctx := context.Background()
	ps := a.Personas()
	all, err := ps.List(ctx)
	if err != nil || len(all) == 0 {
		t.Fatalf("personas %d (%v), want the built-in ones", len(all), err)
	}
	// holdsAll checks that data is a persona file of every persona.
	holdsAll := func(t *testing.T, data []byte) {
		t.Helper()
		got, err := history.ParsePersonas(data)
		if err != nil || len(got) != len(all) {
			t.Fatalf("exported %d personas (%v), want %d", len(got), err, len(all))
		}
	}
	dir := t.TempDir()
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)

	t.Run("new file", func(t *testing.T) {
		path := filepath.Join(dir, "new.json")
		if err := ps.ExportFile(ctx, path); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		holdsAll(t, data)
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
			t.Fatalf("mode %v, want 0640 (0666 less the umask 027)", fi.Mode().Perm())
		}
	})
	t.Run("0600 file keeps its mode", func(t *testing.T) {
		path := filepath.Join(dir, "private.json")
		if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := ps.ExportFile(ctx, path); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		holdsAll(t, data)
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, want 0600 kept", fi.Mode().Perm())
		}
	})
	t.Run("symlink", func(t *testing.T) {
		real := filepath.Join(dir, "real.json")
		if err := os.WriteFile(real, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link.json")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		if err := ps.ExportFile(ctx, link); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
			t.Fatal("the link was replaced by a file")
		}
		data, _ := os.ReadFile(real)
		holdsAll(t, data)
	})
	t.Run("null device", func(t *testing.T) {
		null := testenv.NullDevice(t)
		if err := ps.ExportFile(ctx, null); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Fatalf("the device was replaced: %v %v", fi, err)
		}
	})
	t.Run("full device", func(t *testing.T) {
		full := testenv.FullDevice(t)
		if err := ps.ExportFile(ctx, full); err == nil {
			t.Fatal("writing into a full device succeeded")
		}
		if fi, err := os.Lstat(full); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Fatalf("the device was replaced: %v %v", fi, err)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		fifo, read := testenv.FIFO(t)
		if err := ps.ExportFile(ctx, fifo); err != nil {
			t.Fatal(err)
		}
		holdsAll(t, read())
		if fi, _ := os.Lstat(fifo); fi.Mode()&os.ModeNamedPipe == 0 {
			t.Fatal("the pipe was replaced by a file")
		}
	})
	t.Run("folder", func(t *testing.T) {
		if err := ps.ExportFile(ctx, dir); err == nil {
			t.Fatal("exporting onto a folder succeeded")
		}
	})
}
