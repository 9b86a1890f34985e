//go:build unix

package app

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/inputfile"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// TestImportFileReadsOnlyRegularFiles checks that Chat.ImportFile reads
// an exported conversation back, and refuses at once, saying why and on
// which file, a named pipe without a writer (which os.Open waits on
// forever), a folder, a file larger than an import may be, and a missing
// file, importing nothing.
func TestImportFileReadsOnlyRegularFiles(t *testing.T) {
	a := openApp(t)
	c := a.Chat()
	ctx := context.Background()
	conv, err := c.Create(ctx, history.NewConversation{Title: "Walrus talk"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	exported := filepath.Join(dir, "walrus.json")
	if err := c.ExportFile(ctx, exported, conv.ID, history.FormatJSON); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.json")
	if err := os.WriteFile(huge, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, history.MaxImportBytes+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	fifo, read := testenv.FIFO(t)
	t.Cleanup(func() {
		// Release the helper's reader, which waits for a writer.
		waitFor(t, "the pipe's reader", func() bool {
			f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			if err == nil {
				f.Close()
			}
			return err == nil
		})
		read()
	})

	tests := []struct {
		name string
		path string
		// want is the error wrapped (nil: imported), and says what the
		// message must hold besides the path.
		want error
		says string
	}{
		{"exported conversation", exported, nil, ""},
		{"named pipe", fifo, inputfile.ErrNotRegular, "named pipe"},
		{"folder", dir, inputfile.ErrNotRegular, "folder"},
		{"too large", huge, inputfile.ErrTooLarge, "too large"},
		{"missing", filepath.Join(dir, "none.json"), fs.ErrNotExist, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := c.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				id  string
				err error
			}
			done := make(chan result, 1)
			go func() {
				id, err := c.ImportFile(ctx, tt.path)
				done <- result{id, err}
			}()
			var got result
			select {
			case got = <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("ImportFile(%s) blocked", tt.path)
			}
			after, err := c.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if got.err != nil || got.id == "" || len(after) != len(before)+1 {
					t.Fatalf("import: %q, %v; %d conversations, had %d", got.id, got.err, len(after), len(before))
				}
				return
			}
			if msg := got.err.Error(); !errors.Is(got.err, tt.want) || !strings.Contains(msg, "import") ||
				!strings.Contains(msg, tt.path) || !strings.Contains(msg, tt.says) {
				t.Errorf("ImportFile: %v; want %v, saying import, the path and %q", got.err, tt.want, tt.says)
			}
			if got.id != "" || len(after) != len(before) {
				t.Errorf("imported %q: %d conversations, had %d", got.id, len(after), len(before))
			}
		})
	}
}
