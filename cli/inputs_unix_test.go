//go:build unix

package cli

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNonRegularInputsFailAtOnce checks the commands that read a file the
// person names: a named pipe (which would block open(2) forever) and a
// device (which /dev/zero would make endless) are refused at once, with
// nothing written.
func TestNonRegularInputsFailAtOnce(t *testing.T) {
	h := newHistoryEnv(t)
	fifo := filepath.Join(t.TempDir(), "pipe.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		for _, args := range [][]string{
			{"import", path},
			{"persona", "import", path},
			{"info", "--model", path},
			{"tokenize", "--model", path, "--text-file", path},
			{"login", "--token-file", path},
			{"models", "import", path},
		} {
			done := make(chan struct{})
			var code int
			var stderr string
			go func() {
				defer close(done)
				code, _, stderr = h.run(t, "", args...)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("llamadesk %s blocked", strings.Join(args, " "))
			}
			if code != 1 || !strings.Contains(stderr, "not a regular file") {
				t.Errorf("llamadesk %s: exit %d, %q", strings.Join(args, " "), code, stderr)
			}
		}
	}
	if out := h.ok(t, "history", "list"); !strings.Contains(out, "no conversations") {
		t.Errorf("refused imports wrote: %s", out)
	}
}
