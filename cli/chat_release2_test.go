package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/internal/testenv"
)

// chatJSON is what chat --message --json prints.
type chatJSON struct {
	ConversationID string `json:"conversation_id"`
	Reply          string `json:"reply"`
	Seed           *int64 `json:"seed"`
	Dropped        []int  `json:"dropped"`
}

func parseChatJSON(t *testing.T, out string) chatJSON {
	t.Helper()
	var r chatJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.ConversationID == "" {
		t.Fatalf("chat --json printed %q (%v)", out, err)
	}
	return r
}

// TestChatArgumentsCheckedFirst checks that wrong chat arguments exit with
// status 2 and leave the history untouched.
func TestChatArgumentsCheckedFirst(t *testing.T) {
	h := newHistoryEnv(t)
	model := testenv.Path(t, "models", "chat-q4_k_m.gguf")
	base := []string{"chat", "--model", model, "--message", "hello"}
	for _, extra := range [][]string{
		{"--temp", "-1"}, {"--temp", "NaN"}, {"--temp", "11"},
		{"--seed", "-5"}, {"--seed", "x"},
		{"--ctx", "0"}, {"--ctx", "-3"}, {"--ctx", "999999"},
		{"-n", "0"}, {"-n", "-2"},
		{"--threads", "100000"}, {"--threads", "-1"},
		{"--overflow", "sideways"},
		{"--top-k", "3"}, // not a chat flag
	} {
		args := append(append([]string{}, base...), extra...)
		h.fail(t, 2, args...)
	}
	h.fail(t, 2, "chat", "--model", model, "--message", "")
	h.fail(t, 2, "chat", "--model", model, "--message", "   ")
	h.fail(t, 2, "chat", "--message", "hello") // no model, no persona naming one
	if out := h.ok(t, "history", "list"); !strings.Contains(out, "no conversations") {
		t.Errorf("refused arguments saved something:\n%s", out)
	}
}

// TestChatSeedsAndPolicy checks across processes: a sampled reply gets a
// fresh seed, shown and saved, that --seed reproduces; a conversation keeps
// the overflow policy it was started with.
func TestChatSeedsAndPolicy(t *testing.T) {
	h := newHistoryEnv(t)
	model := testenv.Path(t, "models", "chat-q4_k_m.gguf")
	ask := []string{"chat", "--model", model, "--system", "Be brief.", "--message", "Tell me a story.", "-n", "10", "--temp", "0.9", "--json"}
	a := parseChatJSON(t, h.ok(t, ask...))
	b := parseChatJSON(t, h.ok(t, ask...))
	if a.Seed == nil || b.Seed == nil || *a.Seed == *b.Seed {
		t.Fatalf("two sampled replies' seeds: %v %v", a.Seed, b.Seed)
	}
	again := parseChatJSON(t, h.ok(t, append(ask, "--seed", jsonNumber(*a.Seed))...))
	if again.Reply != a.Reply || *again.Seed != *a.Seed {
		t.Errorf("--seed %d gave %q; the first reply was %q", *a.Seed, again.Reply, a.Reply)
	}
	exported := h.ok(t, "export", "--conversation", a.ConversationID, "--format", "json", "--out", "-")
	if !strings.Contains(exported, `"seed": `+jsonNumber(*a.Seed)) {
		t.Errorf("the seed is not saved with the reply:\n%s", exported)
	}
	_, _, stderr := h.run(t, "", "chat", "--model", model, "--message", "Hi", "-n", "3", "--temp", "0.5", "--seed", "42")
	if !strings.Contains(stderr, "seed 42") {
		t.Errorf("the stats line lacks the seed: %q", stderr)
	}

	// The overflow policy is saved with the conversation and kept when it
	// is continued without --overflow.
	first := parseChatJSON(t, h.ok(t, "chat", "--model", model, "--message", "One.", "-n", "2", "--overflow", "truncate-middle", "--json"))
	h.ok(t, "chat", "--model", model, "--conversation", first.ConversationID, "--message", "Two.", "-n", "2")
	exported = h.ok(t, "export", "--conversation", first.ConversationID, "--format", "json", "--out", "-")
	if !strings.Contains(exported, `"overflow_policy": "truncate-middle"`) {
		t.Errorf("the policy is not kept with the conversation:\n%s", exported)
	}
	h.ok(t, "chat", "--model", model, "--conversation", first.ConversationID, "--message", "Three.", "-n", "2", "--overflow", "stop-at-limit")
	exported = h.ok(t, "export", "--conversation", first.ConversationID, "--format", "json", "--out", "-")
	if !strings.Contains(exported, `"overflow_policy": "stop-at-limit"`) {
		t.Errorf("an explicit --overflow did not replace the policy:\n%s", exported)
	}
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestChatAcrossProcessesDropsTurns continues a conversation in several
// processes with a small context: each turn sees the earlier ones, and when
// they no longer fit, the note says which turns were left out.
func TestChatAcrossProcessesDropsTurns(t *testing.T) {
	h := newHistoryEnv(t)
	model := testenv.Path(t, "models", "chat-q4_k_m.gguf")
	long := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 12)
	first := parseChatJSON(t, h.ok(t, "chat", "--model", model, "--ctx", "256", "--message", long, "-n", "4", "--temp", "0", "--json"))
	sawNote := false
	for i := range 4 {
		code, _, stderr := h.run(t, "", "chat", "--model", model, "--ctx", "256", "--conversation", first.ConversationID, "--message", long, "-n", "4", "--temp", "0")
		if code != 0 {
			t.Fatalf("turn %d: exit %d: %s", i+2, code, stderr)
		}
		if strings.Contains(stderr, "Note: turn") {
			sawNote = true
			if !strings.Contains(stderr, "left out of the prompt") {
				t.Errorf("the note does not say which turns: %q", stderr)
			}
		}
	}
	if !sawNote {
		t.Error("a conversation past its context never said which turns were left out")
	}
	var list []struct {
		ID           string `json:"id"`
		MessageCount int    `json:"message_count"`
	}
	json.Unmarshal([]byte(h.ok(t, "history", "list", "--json")), &list)
	if len(list) != 1 || list[0].MessageCount != 10 {
		t.Errorf("history after five turns in five processes: %+v", list)
	}
}

// TestChatModelFromPersonaOrConversation checks that --model may be left
// out when the persona names a model, or when continuing a conversation.
func TestChatModelFromPersonaOrConversation(t *testing.T) {
	h := newHistoryEnv(t)
	dir := filepath.Join(h.home, "models")
	os.MkdirAll(dir, 0o700)
	if err := os.Symlink(testenv.Path(t, "models", "chat-q4_k_m.gguf"), filepath.Join(dir, "chat-q4_k_m.gguf")); err != nil {
		t.Fatal(err)
	}
	h.ok(t, "persona", "add", "--name", "Terse", "--system", "Answer in one word.", "--model", "chat-q4_k_m")
	r := parseChatJSON(t, h.ok(t, "chat", "--persona", "Terse", "--message", "Hello", "-n", "2", "--json"))
	h.ok(t, "chat", "--conversation", r.ConversationID, "--message", "Again", "-n", "2")
	h.ok(t, "run", "chat-q4_k_m", "--persona", "terse", "--message", "Hi", "-n", "2")
}

// TestChatInteractiveCommands drives the terminal chat: a """ block, the
// slash commands, and leaving with /bye.
func TestChatInteractiveCommands(t *testing.T) {
	h := newHistoryEnv(t)
	model := testenv.Path(t, "models", "chat-q4_k_m.gguf")
	saved := filepath.Join(t.TempDir(), "saved.txt")
	input := strings.Join([]string{
		"/help",
		`"""`,
		"/this line is text,",
		"and so is this one",
		`"""`,
		"/system Always answer like a pirate.",
		"/save " + saved,
		"/clear",
		"/persona Shakespearean poet",
		"Hello poet",
		"/frobnicate",
		"/bye",
		"this is never sent",
	}, "\n") + "\n"
	code, stdout, stderr := h.run(t, input, "chat", "--model", model, "-n", "3", "--temp", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"/persona NAME", "The system prompt is set", "Wrote ", "the next message starts a new one", "Shakespearean poet", "unknown command /frobnicate"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Count(stdout, "\n") != 2 {
		t.Errorf("two replies expected on stdout: %q", stdout)
	}
	data, err := os.ReadFile(saved)
	if err != nil || !strings.Contains(string(data), "/this line is text,\nand so is this one") || !strings.Contains(string(data), "Always answer like a pirate.") {
		t.Errorf("/save wrote %q (%v)", data, err)
	}
	var list []struct {
		Title   string `json:"title"`
		Persona string `json:"persona"`
	}
	json.Unmarshal([]byte(h.ok(t, "history", "list", "--json")), &list)
	if len(list) != 2 || list[0].Persona != "Shakespearean poet" {
		t.Errorf("conversations: %+v", list)
	}
	for _, c := range list {
		if strings.Contains(c.Title, "never sent") {
			t.Error("a line after /bye was sent")
		}
	}
}
