package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
