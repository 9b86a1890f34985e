//go:build unix

package atomicfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/llamadesk/llamadesk/internal/testenv"
)

// writeString returns a write function that writes s.
func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// withUmask runs fn with the process umask set to mask.
func withUmask(t *testing.T, mask int, fn func()) {
	t.Helper()
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	fn()
}

func TestWriteOutputDestinations(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		// setup prepares the destination and returns its path.
		setup func(t *testing.T) string
		// check inspects the result after "new content" was written.
		check func(t *testing.T, path string)
	}{
		{"device /dev/null is written, not replaced", func(t *testing.T) string { return testenv.NullDevice(t) },
			func(t *testing.T, path string) {
				fi, err := os.Lstat(path)
				if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
					t.Fatalf("/dev/null is no longer a character device: %v %v", fi, err)
				}
			}},
		{"symbolic link: the target is replaced, the link stays", func(t *testing.T) string {
			target := filepath.Join(dir, "target.md")
			if err := os.WriteFile(target, []byte("old"), 0o640); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, "link.md")
			if err := os.Symlink("target.md", link); err != nil {
				t.Fatal(err)
			}
			return link
		}, func(t *testing.T, path string) {
			fi, err := os.Lstat(path)
			if err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("the link was replaced by a file: %v %v", fi, err)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "target.md"))
			if string(got) != "new content" {
				t.Fatalf("target holds %q", got)
			}
			st, _ := os.Stat(filepath.Join(dir, "target.md"))
			if st.Mode().Perm() != 0o640 {
				t.Errorf("target's mode became %v, want 0640", st.Mode().Perm())
			}
		}},
		{"dangling link: its target is created", func(t *testing.T) string {
			link := filepath.Join(dir, "dangling.md")
			if err := os.Symlink("created.md", link); err != nil {
				t.Fatal(err)
			}
			return link
		}, func(t *testing.T, path string) {
			if fi, _ := os.Lstat(path); fi.Mode()&os.ModeSymlink == 0 {
				t.Fatal("the dangling link was replaced")
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "created.md")); string(got) != "new content" {
				t.Fatalf("created target holds %q", got)
			}
		}},
		{"private file keeps mode 0600", func(t *testing.T) string {
			p := filepath.Join(dir, "private.json")
			if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, 0o600)
			return p
		}, func(t *testing.T, path string) {
			st, _ := os.Stat(path)
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
		}},
		{"new file honours the umask", func(t *testing.T) string { return filepath.Join(dir, "new.txt") },
			func(t *testing.T, path string) {
				st, _ := os.Stat(path)
				if st.Mode().Perm() != 0o640 { // 0666 &^ 027
					t.Errorf("mode %v, want 0640 (0666 less umask 027)", st.Mode().Perm())
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.setup(t)
			withUmask(t, 0o027, func() {
				if err := WriteOutput(path, writeString("new content")); err != nil {
					t.Fatal(err)
				}
			})
			c.check(t, path)
		})
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name()[0] == '.' {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestWriteOutputFIFO(t *testing.T) {
	fifo, read := testenv.FIFO(t)
	if err := WriteOutput(fifo, writeString("through the pipe")); err != nil {
		t.Fatal(err)
	}
	if data := read(); !bytes.Equal(data, []byte("through the pipe")) {
		t.Fatalf("reader got %q", data)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the pipe was replaced: %v %v", fi, err)
	}
}

func TestWriteOutputDeviceError(t *testing.T) {
	full := testenv.FullDevice(t)
	err := WriteOutput(full, writeString("x"))
	if err == nil {
		t.Fatal("writing to /dev/full succeeded")
	}
	if fi, _ := os.Lstat(full); fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatal("/dev/full was replaced")
	}
}

func TestWriteRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, 0o644, writeString("x")); err == nil {
		t.Error("Write over a folder succeeded")
	}
	if err := Write(testenv.NullDevice(t), 0o644, writeString("x")); err == nil {
		t.Error("Write over /dev/null succeeded")
	}
}

func TestWriteNeverWidensMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}

func TestWriteOutputProcFD(t *testing.T) {
	// /dev/stdout of a process whose standard output is a pipe: the links
	// end in "pipe:[N]", which is no path; the pipe must get the data.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	path := "/proc/self/fd/" + strconv.Itoa(int(w.Fd()))
	if _, err := os.Stat(path); err != nil {
		w.Close()
		t.Skip("no /proc/self/fd")
	}
	done := make(chan []byte)
	go func() { data, _ := io.ReadAll(r); done <- data }()
	err = WriteOutput(path, writeString("piped"))
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := <-done; string(got) != "piped" {
		t.Fatalf("pipe got %q", got)
	}
}
