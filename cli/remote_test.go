package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/internal/testenv"
)

// TestChatWithARemoteModel runs `llamadesk serve` as the remote server and,
// in another data folder, chats with its model through `remote add` and
// `chat --model remote:NAME/MODEL`.
func TestChatWithARemoteModel(t *testing.T) {
	srv := newHistoryEnv(t)
	if err := os.MkdirAll(filepath.Join(srv.home, "models"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testenv.Path(t, "models", "chat-q4_k_m.gguf"), filepath.Join(srv.home, "models", "chat-q4_k_m.gguf")); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("k3y\n"), 0o600)
	url, stop := startCommand(t, srv.getenv, "serve", "--port", "0", "--threads", "1", "--backend", "cpu", "--ctx", "512",
		"--api-key-file", keyFile, "--quiet")
	defer stop()

	h := newHistoryEnv(t)
	out := h.ok(t, "remote", "add", "box", "--url", url, "--api-key-file", keyFile)
	if !strings.Contains(out, "remote:box/chat-q4_k_m.gguf") {
		t.Fatalf("remote add: %s", out)
	}
	out = h.ok(t, "remote", "list")
	if !strings.Contains(out, "box") || !strings.Contains(out, url) || !strings.Contains(out, "yes") || !strings.Contains(out, "remote:box/chat-q4_k_m.gguf") {
		t.Fatalf("remote list: %s", out)
	}
	if strings.Contains(out, "k3y") {
		t.Fatalf("the key is listed: %s", out)
	}
	var res struct {
		ConversationID string `json:"conversation_id"`
		Reply          string `json:"reply"`
		Model          string `json:"model"`
		Stats          struct {
			PromptTokens    int `json:"prompt_tokens"`
			GeneratedTokens int `json:"generated_tokens"`
		} `json:"stats"`
	}
	out = h.ok(t, "chat", "--model", "remote:box/chat-q4_k_m.gguf", "--system", "You are a poet.", "--message", "Tell me of the zephyr",
		"--temp", "0", "-n", "8", "--json")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Reply == "" || res.Model != "remote:box/chat-q4_k_m.gguf" || res.Stats.PromptTokens != 34 || res.Stats.GeneratedTokens != 8 {
		t.Fatalf("chat: %s", out)
	}
	// The same as the model gives here.
	local := h.ok(t, "chat", "--model", testenv.Path(t, "models", "chat-q4_k_m.gguf"), "--ctx", "512", "--system", "You are a poet.",
		"--message", "Tell me of the zephyr", "--temp", "0", "-n", "8", "--json", "--backend", "cpu")
	if !strings.Contains(local, `"reply":`+mustQuote(res.Reply)) {
		t.Errorf("remote reply %q; local: %s", res.Reply, local)
	}
	out = h.ok(t, "chat", "--model", "remote:box/chat-q4_k_m.gguf", "--conversation", res.ConversationID, "--message", "And of the sea?", "-n", "3", "--json")
	if !strings.Contains(out, res.ConversationID) {
		t.Fatalf("second turn: %s", out)
	}
	if out := h.ok(t, "history", "search", "zephyr", "--json"); !strings.Contains(out, res.ConversationID) {
		t.Fatalf("search: %s", out)
	}
	exported := h.ok(t, "export", "--conversation", res.ConversationID, "--format", "md", "--out", "-")
	for _, want := range []string{"You are a poet.", "Tell me of the zephyr", res.Reply, "And of the sea?"} {
		if !strings.Contains(exported, want) {
			t.Errorf("export lacks %q:\n%s", want, exported)
		}
	}
	// Errors in words; the message is kept.
	errOut := h.fail(t, 1, "chat", "--model", "remote:box/nope", "--message", "Lost words?")
	if !strings.Contains(errOut, "remote box answered 404 Not Found") {
		t.Errorf("unknown remote model: %s", errOut)
	}
	if out := h.ok(t, "history", "search", "Lost words", "--json"); !strings.Contains(out, "Lost words") {
		t.Errorf("the message was lost: %s", out)
	}
	h.fail(t, 1, "chat", "--model", "remote:nobody/m", "--message", "hi")
	// The interactive chat says a failed reply and goes on to the next line.
	code, _, errOut := h.run(t, "First try?\nSecond try?\n", "chat", "--model", "remote:box/nope")
	if code != 0 || strings.Count(errOut, "The reply failed:") != 2 {
		t.Errorf("interactive chat with failing replies: exit %d\n%s", code, errOut)
	}
	h.ok(t, "remote", "rm", "box")
	if out := h.ok(t, "remote", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("after rm: %s", out)
	}
	if _, err := os.Stat(filepath.Join(h.home, "remote-keys", "box")); !os.IsNotExist(err) {
		t.Fatalf("the key file is still there: %v", err)
	}
	h.fail(t, 2, "remote", "add", "box")
	h.fail(t, 2, "remote", "frobnicate")
}

func mustQuote(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}

// llamaServerEnv names llama.cpp's llama-server binary for the peer check;
// by default ../scratch/llama.cpp/build/bin/llama-server beside the repository.
const llamaServerEnv = "LLAMADESK_LLAMA_SERVER"

// TestRemoteLlamaServer points a remote at llama.cpp's llama-server serving
// the shared chat model, and checks that a chat through it counts the same
// prompt tokens as the engine here (the two render the Llama 2 template
// alike). It skips when llama-server has not been built.
func TestRemoteLlamaServer(t *testing.T) {
	bin := os.Getenv(llamaServerEnv)
	if bin == "" {
		bin = filepath.Join("..", "..", "scratch", "llama.cpp", "build", "bin", "llama-server")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("llama.cpp's llama-server is not built (%v); set %s to its path to run this check", err, llamaServerEnv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-m", testenv.Path(t, "models", "chat-q4_k_m.gguf"), "--jinja", "-c", "2048", "-t", "1",
		"--alias", "tiny-chat", "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	ready := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ready = true
				break
			}
		}
	}
	if !ready {
		t.Fatalf("llama-server did not become ready:\n%s", logs.String())
	}
	h := newHistoryEnv(t)
	if out := h.ok(t, "remote", "add", "llama", "--url", url); !strings.Contains(out, "remote:llama/tiny-chat") {
		t.Fatalf("remote add: %s", out)
	}
	var remote, local struct {
		Reply string `json:"reply"`
		Stats struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"stats"`
	}
	args := []string{"--system", "You are a poet.", "--message", "Tell me of the zephyr", "--temp", "0", "-n", "8", "--json"}
	json.Unmarshal([]byte(h.ok(t, append([]string{"chat", "--model", "remote:llama/tiny-chat"}, args...)...)), &remote)
	json.Unmarshal([]byte(h.ok(t, append([]string{"chat", "--model", testenv.Path(t, "models", "chat-q4_k_m.gguf"), "--backend", "cpu"}, args...)...)), &local)
	t.Logf("llama-server: %d prompt tokens, %q; here: %d, %q", remote.Stats.PromptTokens, remote.Reply, local.Stats.PromptTokens, local.Reply)
	if remote.Stats.PromptTokens != 34 || local.Stats.PromptTokens != 34 {
		t.Fatalf("prompt tokens: llama-server %d, here %d; want 34 both", remote.Stats.PromptTokens, local.Stats.PromptTokens)
	}
	if remote.Reply == "" {
		t.Fatal("empty reply from llama-server")
	}
}
