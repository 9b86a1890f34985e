package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/internal/testenv"
)

func TestChatMessageJSONAndContinue(t *testing.T) {
	h := newHistoryEnv(t)
	model := testenv.Path(t, "models", "chat-q4_k_m.gguf")
	var first struct {
		ConversationID string         `json:"conversation_id"`
		Reply          string         `json:"reply"`
		Stats          map[string]any `json:"stats"`
	}
	out := h.ok(t, "chat", "--model", model, "--persona", "Shakespearean poet", "--message", "Write about the sea.", "-n", "5", "--temp", "0", "--json")
	if err := json.Unmarshal([]byte(out), &first); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if first.ConversationID == "" || first.Reply == "" || first.Stats["generated_tokens"] != float64(5) {
		t.Fatalf("first turn: %s", out)
	}
	var second struct {
		ConversationID string `json:"conversation_id"`
		Stats          struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"stats"`
	}
	out = h.ok(t, "chat", "--model", model, "--conversation", first.ConversationID, "--message", "And the moon?", "-n", "3", "--seed", "7", "--json")
	if err := json.Unmarshal([]byte(out), &second); err != nil || second.ConversationID != first.ConversationID {
		t.Fatalf("second turn: %v %s", err, out)
	}
	exported := h.ok(t, "export", "--conversation", first.ConversationID, "--format", "txt", "--out", "-")
	for _, want := range []string{"Always answer in verse", "Write about the sea.", first.Reply, "And the moon?"} {
		if !strings.Contains(exported, want) {
			t.Errorf("export lacks %q:\n%s", want, exported)
		}
	}
	h.fail(t, 1, "chat", "--model", model, "--persona", "Nobody", "--message", "hi")
	h.fail(t, 2, "chat", "--model", model, "--conversation", first.ConversationID, "--persona", "Nobody", "--message", "hi")
}

func TestChatInteractive(t *testing.T) {
	h := newHistoryEnv(t)
	model := testenv.Path(t, "models", "chat-q4_k_m.gguf")
	code, out, errOut := h.run(t, "Hello\n\nAgain\n", "chat", "--model", model, "--system", "Be brief.", "-n", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Count(errOut, "max_tokens · 3 tokens") != 2 || strings.Count(out, "\n") != 2 {
		t.Errorf("stdout %q\nstderr %q", out, errOut)
	}
	list := h.ok(t, "history", "list", "--json")
	if !strings.Contains(list, `"Hello"`) {
		t.Errorf("conversation not saved: %s", list)
	}
}
