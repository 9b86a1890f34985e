//go:build unix

package app

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Files a person names (an API key file, a persona file) are refused at
// once when they are named pipes without a writer, instead of blocking.
func TestInputFilesRefuseNamedPipes(t *testing.T) {
	a := openApp(t)
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	tests := []struct {
		name string
		read func() error
	}{
		{"API key file", func() error { _, _, err := ReadKeyFile(fifo); return err }},
		{"persona file", func() error { _, err := a.Personas().ImportFile(context.Background(), fifo, false); return err }},
	}
	for _, tt := range tests {
		done := make(chan error, 1)
		go func() { done <- tt.read() }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "named pipe") {
				t.Errorf("%s: %v, want a refusal naming the pipe", tt.name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: blocked on a named pipe", tt.name)
		}
	}
}
