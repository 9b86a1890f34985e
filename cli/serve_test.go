package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for a command writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var servingURL = regexp.MustCompile(`serving on (http://\S+)`)

// startCommand runs a long-lived command (serve) in the background and
// returns its base URL once it prints it, and a function that stops it
// (like Ctrl-C) and returns its exit status and stderr.
func startCommand(t *testing.T, getenv func(string) string, args ...string) (string, func() (int, string)) {
	t.Helper()
	var stdout, stderr syncBuffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: getenv}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- Run(ctx, env, args) }()
	var once sync.Once
	exit := -1
	stop := func() (int, string) {
		once.Do(func() {
			cancel()
			exit = <-code
		})
		return exit, stderr.String()
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingURL.FindStringSubmatch(stdout.String()); m != nil {
			t.Cleanup(func() { stop() })
			return m[1], stop
		}
		select {
		case c := <-code:
			t.Fatalf("llamadesk %s exited with %d:\n%s", strings.Join(args, " "), c, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("llamadesk %s printed no URL:\n%s\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
	return "", nil
}

func get(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServe(t *testing.T) {
	h := newHistoryEnv(t)
	if err := os.MkdirAll(filepath.Join(h.home, "models"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testenv.Path(t, "models", "chat-q4_k_m.gguf"), filepath.Join(h.home, "models", "chat-q4_k_m.gguf")); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("k3y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url, stop := startCommand(t, h.getenv, "serve", "--port", "0", "--threads", "1", "--backend", "cpu", "--ctx", "256",
		"--api-key-file", keyFile, "--model", "chat-q4_k_m")
	if code, _ := get(t, url+"/v1/models", ""); code != 401 {
		t.Errorf("without the key: %d, want 401", code)
	}
	code, body := get(t, url+"/v1/models", "k3y")
	if code != 200 || !strings.Contains(body, `"chat-q4_k_m.gguf"`) {
		t.Errorf("models: %d %s", code, body)
	}
	req, _ := http.NewRequest("POST", url+"/api/generate", strings.NewReader(`{"prompt":"hi","stream":false,"options":{"num_predict":2}}`))
	req.Header.Set("Authorization", "Bearer k3y")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("generate with the default model: %d", resp.StatusCode)
	}
	exit, stderr := stop()
	if exit != 0 || !strings.Contains(stderr, "Loaded chat-q4_k_m.gguf") || !strings.Contains(stderr, "path=/api/generate status=200") {
		t.Fatalf("exit %d, stderr:\n%s", exit, stderr)
	}
	if strings.Contains(stderr, "k3y") {
		t.Fatalf("the key is in the log:\n%s", stderr)
	}
	// API traffic is not saved without --save-history.
	if out := h.ok(t, "history", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("history after serving: %s", out)
	}
}

func TestServeWarnsOnOpenAddressWithoutKey(t *testing.T) {
	h := newHistoryEnv(t)
	_, stop := startCommand(t, h.getenv, "serve", "--host", "0.0.0.0", "--port", "0", "--quiet")
	exit, stderr := stop()
	if exit != 0 || !strings.Contains(stderr, "other machines can reach this server") || !strings.Contains(stderr, "no --api-key-file") {
		t.Fatalf("exit %d, stderr:\n%s", exit, stderr)
	}
}

func TestServeErrors(t *testing.T) {
	h := newHistoryEnv(t)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, c := range []struct {
		code int
		args []string
		says string
	}{
		{2, []string{"serve", "--port", "70000"}, "--port"},
		{2, []string{"serve", "--backend", "tpu"}, "--backend"},
		{1, []string{"serve", "--api-key-file", empty}, "empty"},
		{1, []string{"serve", "--api-key-file", "/nonexistent"}, "no such file"},
		{1, []string{"serve", "--port", "0", "--model", "nope.gguf"}, "--model nope.gguf"},
	} {
		if errOut := h.fail(t, c.code, c.args...); !strings.Contains(errOut, c.says) {
			t.Errorf("%v: %s, want it to say %q", c.args, errOut, c.says)
		}
	}
}
