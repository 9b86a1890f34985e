//go:build unix

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/llamadesk/llamadesk/internal/testenv"
)

// TestExportDestinations checks that export --out treats what is at the
// path as a shell redirection would: devices and pipes are written into,
// links are followed, permissions and the umask are honoured.
func TestExportDestinations(t *testing.T) {
	h := newHistoryEnv(t)
	ids := h.seed(t)
	dir := t.TempDir()
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)

	t.Run("/dev/null", func(t *testing.T) {
		null := testenv.NullDevice(t)
		h.ok(t, "export", "--conversation", ids[0], "--format", "md", "--out", null)
		if fi, err := os.Lstat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Fatalf("/dev/null was replaced: %v %v", fi, err)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		fifo, read := testenv.FIFO(t)
		h.ok(t, "export", "--conversation", ids[0], "--format", "txt", "--out", fifo)
		if data := read(); !strings.Contains(string(data), "Tell me of the sea") {
			t.Fatalf("the pipe's reader got %q", data)
		}
		if fi, _ := os.Lstat(fifo); fi.Mode()&os.ModeNamedPipe == 0 {
			t.Fatal("the pipe was replaced by a file")
		}
	})
	t.Run("symlink", func(t *testing.T) {
		real := filepath.Join(dir, "real.md")
		os.WriteFile(real, []byte("old"), 0o644)
		link := filepath.Join(dir, "link.md")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		h.ok(t, "export", "--conversation", ids[0], "--out", link)
		if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
			t.Fatal("the link was replaced by a file")
		}
		if data, _ := os.ReadFile(real); !strings.Contains(string(data), "Tell me of the sea") {
			t.Fatalf("the link's target holds %q", data)
		}
	})
	t.Run("0600 file keeps its mode", func(t *testing.T) {
		private := filepath.Join(dir, "private.json")
		os.WriteFile(private, nil, 0o600)
		h.ok(t, "export", "--conversation", ids[0], "--out", private)
		if fi, _ := os.Stat(private); fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
		}
	})
	t.Run("new file honours the umask", func(t *testing.T) {
		fresh := filepath.Join(dir, "fresh.html")
		h.ok(t, "export", "--conversation", ids[0], "--out", fresh)
		if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o640 {
			t.Fatalf("mode %v, want 0640 (umask 027)", fi.Mode().Perm())
		}
	})
	t.Run("persona export to a link", func(t *testing.T) {
		real := filepath.Join(dir, "personas-real.json")
		link := filepath.Join(dir, "personas.json")
		os.Symlink(real, link)
		h.ok(t, "persona", "export", "--out", link)
		if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
			t.Fatal("the link was replaced by a file")
		}
		if data, _ := os.ReadFile(real); !strings.Contains(string(data), "llamadesk.personas") {
			t.Fatalf("target holds %.60q", data)
		}
	})
	t.Run("--all --out - is standard output", func(t *testing.T) {
		wd, _ := os.Getwd()
		out := h.ok(t, "export", "--all", "--format", "json", "--out", "-")
		if _, err := os.Stat(filepath.Join(wd, "-")); err == nil {
			os.RemoveAll(filepath.Join(wd, "-"))
			t.Fatal("export --all --out - created a folder named -")
		}
		dec := json.NewDecoder(strings.NewReader(out))
		n := 0
		for dec.More() {
			var v map[string]any
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != len(ids) {
			t.Fatalf("%d JSON documents on stdout, want %d", n, len(ids))
		}
		if md := h.ok(t, "export", "--all", "--format", "md", "--out", "-"); !strings.Contains(md, "Tell me of the sea") || !strings.Contains(md, "slices.Reverse") {
			t.Fatalf("markdown on stdout:\n%s", md)
		}
	})
}
