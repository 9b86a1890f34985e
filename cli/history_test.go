package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
)

// historyEnv is a command-line environment whose data folder is a
// temporary folder.
type historyEnv struct {
	home string
}

func newHistoryEnv(t *testing.T) *historyEnv {
	t.Helper()
	return &historyEnv{home: t.TempDir()}
}

func (h *historyEnv) getenv(k string) string {
	if k == app.HomeEnv {
		return h.home
	}
	return ""
}

// run runs one command and returns its exit status, stdout and stderr.
func (h *historyEnv) run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Getenv: h.getenv}
	code := Run(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

// ok runs a command that must succeed and returns its stdout.
func (h *historyEnv) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := h.run(t, "", args...)
	if code != 0 {
		t.Fatalf("llamadesk %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// fail runs a command that must fail with the given exit status and
// returns its stderr.
func (h *historyEnv) fail(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, _, errOut := h.run(t, "", args...)
	if code != want {
		t.Fatalf("llamadesk %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, errOut)
	}
	return errOut
}

// seed writes conversations through the same App the commands use (the
// chat command is not part of this package's work) and returns their ids.
func (h *historyEnv) seed(t *testing.T) []string {
	t.Helper()
	a, err := app.Open(h.getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, err := a.History()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ids []string
	for _, conv := range [][]string{
		{"Shakespearean poet", "Tell me of the sea", "The sea, the sea, that doth <b>roll</b> & roar"},
		{"Coding assistant", "How do I reverse a slice in Go?", "Use slices.Reverse(s)."},
	} {
		c, err := s.CreateConversation(ctx, history.NewConversation{Persona: conv[0], Model: "llama-2-7b-chat.Q4_K_M.gguf"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendUser(ctx, c.ID, conv[1]); err != nil {
			t.Fatal(err)
		}
		m, err := s.StartAssistant(ctx, c.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishAssistant(ctx, m.ID, history.Finish{Content: conv[2], Status: history.StatusDone, TokenCount: 9}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	return ids
}

func TestPersonaCommands(t *testing.T) {
	h := newHistoryEnv(t)
	out := h.ok(t, "persona", "add", "--name", "Pirate", "--system", "Talk like a pirate.", "--temp", "0", "--top-k", "40",
		"--top-p", "0.9", "--min-p", "0.05", "--repeat-penalty", "1.1", "--max-tokens", "128", "--model", "pirate.gguf")
	if !strings.Contains(out, "Pirate") {
		t.Errorf("add printed %q", out)
	}

	var list []map[string]any
	if err := json.Unmarshal([]byte(h.ok(t, "persona", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 {
		t.Fatalf("persona list --json has %d personas, want 4 built-ins + 1", len(list))
	}
	if list[0]["name"] != "Llama 2 default" || list[0]["builtin"] != true {
		t.Errorf("first persona = %v", list[0])
	}
	p := list[4]
	want := map[string]any{"temperature": 0.0, "top_k": 40.0, "top_p": 0.9, "min_p": 0.05, "repeat_penalty": 1.1, "max_tokens": 128.0}
	sampling, _ := p["sampling"].(map[string]any)
	if p["name"] != "Pirate" || p["system_prompt"] != "Talk like a pirate." || p["model"] != "pirate.gguf" || len(sampling) != len(want) {
		t.Errorf("listed persona = %v", p)
	}
	for k, v := range want {
		if sampling[k] != v {
			t.Errorf("sampling %s = %v, want %v", k, sampling[k], v)
		}
	}
	if text := h.ok(t, "persona", "list"); !strings.Contains(text, "Pirate") || !strings.Contains(text, "Shakespearean poet (built-in)") {
		t.Errorf("persona list:\n%s", text)
	}

	// Errors.
	if msg := h.fail(t, 1, "persona", "add", "--name", "pirate", "--system", "x"); !strings.Contains(msg, "already exists") {
		t.Errorf("duplicate add: %q", msg)
	}
	h.ok(t, "persona", "add", "--name", "pirate", "--system", "Talk like a pirate captain.", "--replace")
	if msg := h.fail(t, 1, "persona", "add", "--name", "Hot", "--temp", "-1"); !strings.Contains(msg, "temperature") {
		t.Errorf("bad temperature: %q", msg)
	}
	h.fail(t, 2, "persona", "add", "--system", "no name")
	h.fail(t, 2, "persona", "add", "--name", "x", "--top-k", "many")
	h.fail(t, 2, "persona", "frobnicate")
	h.fail(t, 2, "persona")

	// Export, remove, import back.
	file := filepath.Join(t.TempDir(), "pirate.json")
	h.ok(t, "persona", "export", "Pirate", "--out", file)
	h.ok(t, "persona", "rm", "Pirate")
	h.fail(t, 1, "persona", "rm", "Pirate")
	var imported []map[string]any
	if err := json.Unmarshal([]byte(h.ok(t, "persona", "import", file, "--json")), &imported); err != nil {
		t.Fatal(err)
	}
	if len(imported) != 1 || imported[0]["system_prompt"] != "Talk like a pirate captain." {
		t.Errorf("imported = %v", imported)
	}
	h.fail(t, 1, "persona", "import", file) // taken now
	h.ok(t, "persona", "import", file, "--replace")
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"format": "llamadesk.personas", "version": 1, "personas": [{"name": ""}]}`), 0o600)
	if msg := h.fail(t, 1, "persona", "import", bad); !strings.Contains(msg, "name") {
		t.Errorf("bad import: %q", msg)
	}

	// Restore the built-ins.
	h.ok(t, "persona", "rm", "Llama 2 default")
	h.ok(t, "persona", "restore")
	if text := h.ok(t, "persona", "list"); !strings.Contains(text, "Llama 2 default") {
		t.Error("restore did not bring the default persona back")
	}
}

func TestHistoryListAndSearchCommands(t *testing.T) {
	h := newHistoryEnv(t)
	if out := h.ok(t, "history", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("empty list = %q", out)
	}
	ids := h.seed(t)

	var list []map[string]any
	if err := json.Unmarshal([]byte(h.ok(t, "history", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0]["conversation_id"] != ids[1] || list[0]["id"] != ids[1] || list[1]["conversation_id"] != ids[0] {
		t.Fatalf("history list --json = %v, want newest first: %v", list, ids)
	}
	if list[1]["title"] != "Tell me of the sea" || list[1]["message_count"] != 2.0 || list[1]["persona"] != "Shakespearean poet" {
		t.Errorf("listed conversation = %v", list[1])
	}
	if text := h.ok(t, "history", "list"); !strings.Contains(text, ids[0]) || !strings.Contains(text, "Tell me of the sea") {
		t.Errorf("history list:\n%s", text)
	}

	var hits []map[string]any
	if err := json.Unmarshal([]byte(h.ok(t, "history", "search", "slices", "--json")), &hits); err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0]["conversation_id"] != ids[1] || hits[0]["message_id"] == 0.0 ||
		!strings.Contains(hits[0]["snippet"].(string), "«slices»") {
		t.Errorf("search hits = %v", hits)
	}
	// Several words, and words that are FTS syntax.
	if err := json.Unmarshal([]byte(h.ok(t, "history", "search", "the", "sea", "--json")), &hits); err != nil || len(hits) == 0 {
		t.Errorf("two-word search = %v, %v", hits, err)
	}
	for _, q := range []string{`"foo`, `AND (`, `*`, `NEAR(`} {
		if err := json.Unmarshal([]byte(h.ok(t, "history", "search", q, "--json")), &hits); err != nil || len(hits) != 0 {
			t.Errorf("search %q = %v, %v", q, hits, err)
		}
	}
	if text := h.ok(t, "history", "search", "reverse"); !strings.Contains(text, ids[1]) {
		t.Errorf("search text output:\n%s", text)
	}
	h.fail(t, 2, "history", "search")

	h.ok(t, "history", "rm", ids[0])
	h.fail(t, 1, "history", "rm", ids[0])
	if err := json.Unmarshal([]byte(h.ok(t, "history", "list", "--json")), &list); err != nil || len(list) != 1 {
		t.Errorf("after rm: %v, %v", list, err)
	}
}

func TestExportImportCommands(t *testing.T) {
	h := newHistoryEnv(t)
	ids := h.seed(t)
	poet, err := history.BuiltinPersonas()
	if err != nil {
		t.Fatal(err)
	}
	poetPrompt := poet[2].SystemPrompt
	dir := t.TempDir()

	for _, f := range []string{"md", "json", "html", "txt"} {
		file := filepath.Join(dir, "sea."+f)
		h.ok(t, "export", "--conversation", ids[0], "--format", f, "--out", file)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if f == "html" {
			text = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&#39;", "'", "&#34;", `"`).Replace(text)
			if strings.Contains(string(data), "<b>roll</b>") {
				t.Error("HTML export left markup unescaped")
			}
		}
		if f == "json" {
			var v struct {
				Conversation struct {
					SystemPrompt string `json:"system_prompt"`
					Messages     []struct {
						Content string `json:"content"`
					} `json:"messages"`
				} `json:"conversation"`
			}
			if err := json.Unmarshal(data, &v); err != nil {
				t.Fatal(err)
			}
			text = v.Conversation.SystemPrompt
			for _, m := range v.Conversation.Messages {
				text += "\n" + m.Content
			}
		}
		for _, want := range []string{poetPrompt, "Tell me of the sea", "The sea, the sea, that doth <b>roll</b> & roar"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s export lacks %.40q", f, want)
			}
		}
	}
	// The format may come from the file name; - is standard output.
	h.ok(t, "export", "--conversation", ids[1], "--out", filepath.Join(dir, "go.md"))
	if out := h.ok(t, "export", "--conversation", ids[1], "--format", "txt", "--out", "-"); !strings.Contains(out, "slices.Reverse") {
		t.Errorf("export to stdout:\n%s", out)
	}

	// Every conversation, one file each.
	all := filepath.Join(dir, "all")
	out := h.ok(t, "export", "--all", "--format", "json", "--out", all)
	files, _ := filepath.Glob(filepath.Join(all, "*.json"))
	if len(files) != 2 || strings.Count(out, ".json") != 2 {
		t.Fatalf("export --all wrote %v, printed %q", files, out)
	}

	// Import into another data folder: same id, same JSON.
	other := newHistoryEnv(t)
	for _, file := range files {
		var res map[string]string
		if err := json.Unmarshal([]byte(other.ok(t, "import", file, "--json")), &res); err != nil {
			t.Fatal(err)
		}
		id := res["conversation_id"]
		if id == "" || len(res) != 1 {
			t.Fatalf("import printed %v", res)
		}
		again := filepath.Join(t.TempDir(), "again.json")
		other.ok(t, "export", "--conversation", id, "--format", "json", "--out", again)
		a, _ := os.ReadFile(file)
		b, _ := os.ReadFile(again)
		if !bytes.Equal(a, b) {
			t.Errorf("round trip changed the export of %s", id)
		}
	}
	// Importing into the same folder gives a new id.
	var res map[string]string
	if err := json.Unmarshal([]byte(h.ok(t, "import", files[0], "--json")), &res); err != nil {
		t.Fatal(err)
	}
	if res["conversation_id"] == ids[0] || res["conversation_id"] == ids[1] || res["conversation_id"] == "" {
		t.Errorf("import beside the original got id %q", res["conversation_id"])
	}
}

func TestExportImportErrors(t *testing.T) {
	h := newHistoryEnv(t)
	ids := h.seed(t)
	dir := t.TempDir()
	h.fail(t, 2, "export", "--format", "md", "--out", filepath.Join(dir, "x.md"))                         // neither
	h.fail(t, 2, "export", "--conversation", ids[0], "--all", "--format", "md", "--out", dir)             // both
	h.fail(t, 2, "export", "--conversation", ids[0], "--format", "md")                                    // no --out
	h.fail(t, 2, "export", "--conversation", ids[0], "--format", "pdf", "--out", filepath.Join(dir, "x")) // format
	h.fail(t, 2, "export", "--conversation", ids[0], "--out", filepath.Join(dir, "noext"))                // no format
	h.fail(t, 2, "export", "--all", "--out", dir)                                                         // --all needs --format
	h.fail(t, 1, "export", "--conversation", "nosuchid", "--format", "md", "--out", filepath.Join(dir, "y.md"))
	if _, err := os.Stat(filepath.Join(dir, "y.md")); err == nil {
		t.Error("a failed export left a file")
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"format": "llamadesk.conversation", "version": 1, "conversation": {"messages": [{"id": 1, "parent": 5}]}}`), 0o600)
	if msg := h.fail(t, 1, "import", bad, "--json"); !strings.Contains(msg, "invalid") {
		t.Errorf("bad import message: %q", msg)
	}
	h.fail(t, 1, "import", filepath.Join(dir, "missing.json"))
	h.fail(t, 2, "import")
	code, _, _ := h.run(t, "not json at all", "import", "-")
	if code != 1 {
		t.Errorf("import of bad standard input: exit %d", code)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(h.ok(t, "history", "list", "--json")), &list); err != nil || len(list) != 2 {
		t.Errorf("failed imports changed the history: %d conversations, %v", len(list), err)
	}
}

func TestCorruptHistoryCommand(t *testing.T) {
	h := newHistoryEnv(t)
	path := filepath.Join(h.home, app.HistoryFile)
	if err := os.WriteFile(path, []byte("garbage garbage garbage garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Every start refuses the damaged file with the same message; one copy
	// is saved, not one per start.
	for range 4 {
		msg := h.fail(t, 1, "history", "list")
		if !strings.Contains(msg, "damaged") || !strings.Contains(msg, ".corrupt-") || !strings.Contains(msg, "start-fresh") {
			t.Errorf("corrupt database message: %q", msg)
		}
	}
	if copies, _ := filepath.Glob(path + ".corrupt-*"); len(copies) != 1 {
		t.Errorf("copies after four starts: %v", copies)
	}
	if out := h.ok(t, "history", "start-fresh"); !strings.Contains(out, "moved the old history") {
		t.Errorf("start-fresh printed %q", out)
	}
	h.ok(t, "history", "list")

	// A healthy history is not set aside without --force.
	h.seed(t)
	if msg := h.fail(t, 1, "history", "start-fresh"); !strings.Contains(msg, "not damaged") || !strings.Contains(msg, "--force") {
		t.Errorf("start-fresh on a healthy history: %q", msg)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(h.ok(t, "history", "list", "--json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("a refused start-fresh changed the history: %v %v", list, err)
	}
	if out := h.ok(t, "history", "start-fresh", "--force"); !strings.Contains(out, "moved the old history") {
		t.Errorf("start-fresh --force printed %q", out)
	}
	if out := h.ok(t, "history", "list"); !strings.Contains(out, "no conversations") {
		t.Errorf("after start-fresh --force: %q", out)
	}
}
