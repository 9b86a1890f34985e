package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/internal/testenv"
	"github.com/llamadesk/llamadesk/models"
)

// TestModelNames checks that --model takes what an Ollama user would type:
// a catalog name, a file of the models folder, or a path.
func TestModelNames(t *testing.T) {
	h := newHistoryEnv(t)
	src := testenv.Path(t, "models", "chat-q4_k_m.gguf")
	dir := filepath.Join(h.home, "models")
	os.MkdirAll(dir, 0o700)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "llama-2-7b-chat.Q4_K_M.gguf"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "mine"), 0o700)
	os.WriteFile(filepath.Join(dir, "mine", "my-model.gguf"), data, 0o600)
	for _, name := range []string{
		"llama-2-7b-chat:Q4_K_M",      // catalog name
		"llama-2-7b-chat:q4_k_m",      // in any case
		"llama-2-7b-chat",             // the usual pick
		"llama-2-7b-chat.Q4_K_M.gguf", // file of the models folder
		"mine/my-model",               // ... in a sub-folder, without .gguf
		src,                           // a path
	} {
		var info struct{ Path string }
		if err := json.Unmarshal([]byte(h.ok(t, "info", "--model", name, "--json")), &info); err != nil || info.Path == "" {
			t.Errorf("info --model %s: %v %+v", name, err, info)
		}
	}
	if out := h.ok(t, "tokenize", "--model", "llama-2-7b-chat:Q4_K_M", "--text-file", testenv.Path(t, "prompts", "plain.txt")); !strings.Contains(out, "tokens") {
		t.Errorf("tokenize by catalog name: %s", out)
	}
	msg := h.fail(t, 1, "info", "--model", "llama-2-13b-chat:Q4_K_M")
	if !strings.Contains(msg, "not downloaded") || !strings.Contains(msg, "llamadesk pull llama-2-13b-chat:Q4_K_M") {
		t.Errorf("a catalog model not downloaded: %q", msg)
	}
	if msg := h.fail(t, 1, "info", "--model", "no-such-model"); !strings.Contains(msg, "no catalog model") {
		t.Errorf("an unknown name: %q", msg)
	}
	if msg := h.fail(t, 1, "info", "--model", dir); !strings.Contains(msg, "is a folder") {
		t.Errorf("a folder: %q", msg)
	}
}

// TestRunPullsThenChats checks `llamadesk run NAME`: the first run fetches
// the model and chats; the next uses the local file.
func TestRunPullsThenChats(t *testing.T) {
	mem, err := models.SystemMemory()
	if err != nil || mem.Total < 8<<30 {
		t.Skip("a 7B model would not fit this machine's memory, so run would refuse it")
	}
	c := newModelsCLI(t)
	data, err := os.ReadFile(testenv.Path(t, "models", "chat-q4_k_m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	hub, api := fakeHub(t, "llama-2-7b-chat.Q4_K_M.gguf", data)
	c.vars["HF_ENDPOINT"] = hub.URL
	// A wrong chat flag is refused before anything is fetched.
	if code, _, stderr := c.run(context.Background(), "", "run", "llama-2-7b-chat:Q4_K_M", "--temp", "99"); code != 2 || api.Load() != 0 || strings.Contains(stderr, "not downloaded yet") {
		t.Fatalf("run with --temp 99: exit %d, %d hub listings, want 2 and none\n%s", code, api.Load(), stderr)
	}
	for i := range 2 {
		code, stdout, stderr := c.run(context.Background(), "", "run", "llama-2-7b-chat:Q4_K_M", "--message", "Hello", "-n", "3", "--json")
		if code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, stderr)
		}
		var res struct {
			ConversationID string `json:"conversation_id"`
			Reply          string `json:"reply"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.ConversationID == "" {
			t.Fatalf("run %d printed %q (%v)", i, stdout, err)
		}
		fetched := strings.Contains(stderr, "not downloaded yet")
		if fetched != (i == 0) {
			t.Errorf("run %d: fetched %v\n%s", i, fetched, stderr)
		}
	}
	if api.Load() != 1 {
		t.Errorf("%d hub listings, want 1", api.Load())
	}
	// Interactive: a line in, a reply out.
	code, stdout, stderr := c.run(context.Background(), "Hi there\n", "run", "llama-2-7b-chat", "-n", "2")
	if code != 0 || strings.Count(stdout, "\n") != 1 || !strings.Contains(stderr, "Chatting with") {
		t.Errorf("interactive run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := c.run(context.Background(), "", "run"); code != 2 || !strings.Contains(stderr, "NAME") {
		t.Errorf("run without a name: exit %d %s", code, stderr)
	}
	if code, _, _ := c.run(context.Background(), "", "run", "no-such-model"); code != 1 {
		t.Errorf("run of an unknown model: exit %d", code)
	}
}

func TestVersion(t *testing.T) {
	h := newHistoryEnv(t)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if out := h.ok(t, args...); !strings.HasPrefix(out, "llamadesk 0.") || !strings.Contains(out, "go1.") {
			t.Errorf("%v printed %q", args, out)
		}
	}
}

// TestModelsImport checks `llamadesk models import FILE [--copy]`.
func TestModelsImport(t *testing.T) {
	h := newHistoryEnv(t)
	src := testenv.Path(t, "models", "tiny-q4_0.gguf")
	out := h.ok(t, "models", "import", src)
	if !strings.Contains(out, "linked") {
		t.Errorf("import printed %q", out)
	}
	link := filepath.Join(h.home, "models", "tiny-q4_0.gguf")
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("no link in the models folder: %v", err)
	}
	h.fail(t, 1, "models", "import", src) // the name is taken
	copied := filepath.Join(t.TempDir(), "copy-me.gguf")
	data, _ := os.ReadFile(src)
	os.WriteFile(copied, data, 0o600)
	h.ok(t, "models", "import", "--copy", copied)
	if fi, err := os.Lstat(filepath.Join(h.home, "models", "copy-me.gguf")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("no copy in the models folder: %v", err)
	}
	if list := h.ok(t, "models"); !strings.Contains(list, "tiny-q4_0.gguf") || !strings.Contains(list, "copy-me.gguf") {
		t.Errorf("models lists:\n%s", list)
	}
	notModel := filepath.Join(t.TempDir(), "notes.gguf")
	os.WriteFile(notModel, []byte("hello"), 0o600)
	if msg := h.fail(t, 1, "models", "import", notModel); !strings.Contains(msg, "not a usable GGUF") {
		t.Errorf("importing a non-model: %q", msg)
	}
	h.fail(t, 2, "models", "import")
}

// TestModelArgumentValidation checks arguments refused before any work,
// with exit status 2.
func TestModelArgumentValidation(t *testing.T) {
	h := newHistoryEnv(t)
	model := testenv.Path(t, "models", "tiny-q8_0.gguf")
	prompt := testenv.Path(t, "prompts", "plain.txt")
	for _, args := range [][]string{
		{"generate", "--model", model, "--prompt-file", prompt, "-n", "0"},
		{"generate", "--model", model, "--prompt-file", prompt, "-n", "-2"},
		{"generate", "--model", model, "--prompt-file", prompt, "--temp", "-1"},
		{"generate", "--model", model, "--prompt-file", prompt, "--seed", "-1"},
		{"generate", "--model", model, "--prompt-file", prompt, "--threads", "100000"},
		{"eval", "--model", model, "--prompt-file", prompt, "--threads", "-3"},
		{"eval", "--model", model, "--prompt-file", prompt, "--gpu-layers", "-7"},
		{"bench", "--model", model, "--threads", "100000"},
		{"info", "--model", "no-such-model", "--kv-type", "q9"}, // the flags before the model
		{"info", "--model", "no-such-model", "--ctx", "-1"},
	} {
		if msg := h.fail(t, 2, args...); msg == "" {
			t.Errorf("%v: no message", args)
		}
	}
	// A model given without --model is pointed at it.
	if msg := h.fail(t, 2, "info", model); !strings.Contains(msg, "--model "+model) {
		t.Errorf("info FILE: %q does not say to use --model", msg)
	}
	for _, args := range [][]string{
		{"info", "--model", model, "extra"},
		{"chat", "extra"}, // a word, not a model: no advice about --model
	} {
		if msg := h.fail(t, 2, args...); !strings.Contains(msg, "unexpected arguments: extra") {
			t.Errorf("%v: %q", args, msg)
		}
	}
	// -1: until the end of text or a full context.
	if out := h.ok(t, "generate", "--model", model, "--prompt-file", prompt, "-n", "-1", "--json"); !strings.Contains(out, `"tokens"`) {
		t.Errorf("generate -n -1: %s", out)
	}
}
