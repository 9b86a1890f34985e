package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/sample"
	"github.com/llamadesk/llamadesk/engine/session"
	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/testenv"
	"github.com/llamadesk/llamadesk/models"
)

// chatModel is the shared test model with the Llama 2 vocabulary and chat
// template; in the test models folder it is "chat-q4_k_m.gguf", and the
// test catalog calls it "tiny-chat:Q4_K_M".
const (
	chatFile = "chat-q4_k_m.gguf"
	chatRef  = "tiny-chat:Q4_K_M"
	testCtx  = 512
)

// testCatalog is a catalog with one model, the shared chat model.
func testCatalog(t *testing.T) *models.Catalog {
	t.Helper()
	c, err := models.ParseCatalog([]byte(`{"version":1,"about":"test","licences":{"l":{"name":"L","url":"https://example.com","summary":"s"}},
		"quants":{"Q4_K_M":"q"},"models":[{"name":"tiny-chat","title":"Tiny chat","repo":"test/tiny","chat":true,"parameters":18089216,
		"context_length":4096,"licence":"l","architecture":"llama","arch":{"layers":2,"embedding":256,"heads":8,"kv_heads":8,"head_dim":32,"ffn":768,"vocab":32000},
		"files":[{"quant":"Q4_K_M","file":"chat-q4_k_m.gguf","size":13086720,"recommended":true}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// modelsDir returns a models folder holding links to the shared chat model
// and tiny-f16 (a model without a chat template, named as a base model).
func modelsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{chatFile, "tiny-f16.gguf"} {
		if err := os.Symlink(testenv.Path(t, "models", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testConfig is the configuration of the tests' servers: the test models
// folder and catalog, one CPU thread, a 512-token context.
func testConfig(t *testing.T) Config {
	return Config{
		Catalog:     testCatalog(t),
		Library:     &models.Library{Dir: modelsDir(t)},
		Load:        app.LoadOptions{Backend: "cpu", Threads: 1},
		ContextSize: testCtx,
	}
}

// testServer is a Server listening on a loopback port.
type testServer struct {
	*Server
	URL string
}

// saveHistory makes cfg save the chats it answers (--save-history) in a
// new history, open until the test ends, and returns that history.
func saveHistory(t *testing.T, cfg *Config) *history.Store {
	t.Helper()
	store, err := history.Open(filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg.History = store
	return store
}

// start runs a server for cfg on 127.0.0.1 until the test ends.
func start(t *testing.T, cfg Config) *testServer {
	t.Helper()
	r, err := Start(cfg, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testServer{Server: r.Server, URL: r.URL()}
}

// do sends a request with a JSON body (nil for none) and returns the
// response with its body read.
func do(t *testing.T, method, url string, body any, header ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// decode unmarshals data into v, failing the test on error.
func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

// sseEvents reads server-sent events ("data: …" lines) until the body ends.
func sseEvents(t *testing.T, body io.Reader) []string {
	t.Helper()
	var events []string
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("not an SSE data line: %q", line)
		}
		events = append(events, data)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return events
}

// reference generates a reply with the engine directly (no server), to
// compare the server's replies with.
func reference(t *testing.T, conv chat.Conversation, opts session.Options) *session.Reply {
	t.Helper()
	lm, err := app.LoadModel(testenv.Path(t, "models", chatFile), app.LoadOptions{Backend: "cpu", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer lm.Close()
	sess, err := session.NewWith(lm.Model, lm.Tokenizer, chat.DetectNamed(lm.File, lm.Path), lm.StateOptions(testCtx))
	if err != nil {
		t.Fatal(err)
	}
	r, err := sess.Reply(context.Background(), conv, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// greedy returns options for n greedy tokens.
func greedy(n int) session.Options {
	p := sample.DefaultParams()
	p.Temperature = 0
	return session.Options{Sampling: p, MaxTokens: n, Reserve: n, Policy: chat.StopAtLimit}
}

// waitFor polls cond until it holds or d passes, and reports whether it held.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return cond()
}

// filepathOf returns the path of a shared test model.
func filepathOf(t *testing.T, name string) string { return testenv.Path(t, "models", name) }
