package ui

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/models"
	"github.com/llamadesk/llamadesk/models/download"
)

func TestErrorWords(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://huggingface.co/TheBloke/x/resolve/main/f.gguf",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"unreachable hub", fmt.Errorf("pull llama-2-7b-chat:Q4_K_M: %w", refused),
			"Can't reach huggingface.co — check the connection (or set a mirror in Settings)."},
		{"no such host", &url.Error{Op: "Get", URL: "https://hf-mirror.example/x", Err: &net.DNSError{Err: "no such host", Name: "hf-mirror.example"}},
			"Can't reach hf-mirror.example — check the connection (or set a mirror in Settings)."},
		{"gated", errors.New("GET https://huggingface.co/meta-llama/x: HTTP 403 Forbidden (the repository may be gated)"),
			"huggingface.co refused the file (HTTP 403): the model may be gated."},
		{"disk full", fmt.Errorf("write part: %w", syscall.ENOSPC), "The disk is full."},
		{"checksum", &download.ChecksumError{Dest: "x.gguf", Want: "aa", Got: "bb"}, "did not match its published checksum"},
		{"internal prefixes", fmt.Errorf("build prompt: %w", fmt.Errorf("invalid: %s", "the title is too long")), "The title is too long."},
		{"history invalid", fmt.Errorf("rename: %w: title is longer than 200 characters", history.ErrInvalid),
			"Rename: title is longer than 200 characters."},
		{"missing program", &exec.Error{Name: "xdg-open", Err: exec.ErrNotFound}, "not installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorWords(tt.err)
			if !strings.Contains(got, tt.want) {
				t.Errorf("errorWords(%v) = %q, want it to contain %q", tt.err, got, tt.want)
			}
			for _, internal := range []string{"build prompt:", "invalid:", "dial tcp"} {
				if strings.Contains(got, internal) {
					t.Errorf("errorWords(%v) = %q shows %q", tt.err, got, internal)
				}
			}
		})
	}
}

func TestFitWords(t *testing.T) {
	gb := uint64(1e9)
	tests := []struct {
		fit  models.Fit
		want string
	}{
		{models.Fit{Verdict: models.CPUOnly, TotalBytes: 6 * gb}, "Fits · CPU · ~6"},
		{models.Fit{Verdict: models.FitsGPU, TotalBytes: 5 * gb}, "Fits · GPU · ~5"},
		{models.Fit{Verdict: models.PartialOffload, GPULayers: 20, Layers: 40, TotalBytes: 9 * gb}, "20 of 40 layers on the GPU"},
		{models.Fit{Verdict: models.WontFit, TotalBytes: 44 * gb, RAM: models.Memory{Total: 32 * gb, Available: 25 * gb}},
			"Won't fit: needs 44"},
	}
	for _, tt := range tests {
		if got := fitWords(tt.fit); !strings.Contains(got, tt.want) {
			t.Errorf("fitWords(%v) = %q, want %q", tt.fit.Verdict, got, tt.want)
		}
	}
	if got := fitWords(tests[3].fit); !strings.Contains(got, "this machine has 25") {
		t.Errorf("won't fit does not say what the machine has: %q", got)
	}
}
