package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestOverflowPolicyAndSeedsRoundTrip checks what release 2 keeps: the
// conversation's overflow policy and each reply's seed, through the store,
// the JSON export and an import elsewhere, and in the readable exports.
func TestOverflowPolicyAndSeedsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	c, err := s.CreateConversation(ctx, NewConversation{OverflowPolicy: "truncate-middle"})
	if err != nil {
		t.Fatal(err)
	}
	if c.OverflowPolicy != "truncate-middle" {
		t.Fatalf("created with policy %q", c.OverflowPolicy)
	}
	if _, err := s.CreateConversation(ctx, NewConversation{OverflowPolicy: "drop-everything"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an unknown policy: %v", err)
	}
	if err := s.SetOverflowPolicy(ctx, c.ID, "stop-at-limit"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOverflowPolicy(ctx, c.ID, "sideways"); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetOverflowPolicy(sideways) = %v", err)
	}
	s.AppendUser(ctx, c.ID, "roll a die")
	m, _ := s.StartAssistant(ctx, c.ID, "m.gguf")
	seed := int64(1234567890123)
	if err := s.FinishAssistant(ctx, m.ID, Finish{Content: "4", Status: StatusDone, Seed: &seed}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Conversation(ctx, c.ID)
	if got.OverflowPolicy != "stop-at-limit" {
		t.Errorf("stored policy %q", got.OverflowPolicy)
	}
	var buf bytes.Buffer
	if err := s.Export(ctx, &buf, c.ID, FormatJSON); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"overflow_policy": "stop-at-limit"`) || !strings.Contains(buf.String(), `"seed": 1234567890123`) {
		t.Errorf("JSON export lacks the policy or the seed:\n%s", buf.String())
	}
	other := openTemp(t)
	id, err := other.Import(ctx, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	ic, _ := other.Conversation(ctx, id)
	th, _ := other.Thread(ctx, id)
	if ic.OverflowPolicy != "stop-at-limit" || th.Messages[1].Seed == nil || *th.Messages[1].Seed != seed {
		t.Errorf("after import: policy %q, reply %+v", ic.OverflowPolicy, th.Messages[1])
	}
	var again bytes.Buffer
	other.Export(ctx, &again, id, FormatJSON)
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("the round trip changed the export")
	}
	var md bytes.Buffer
	s.Export(ctx, &md, c.ID, FormatMarkdown)
	if !strings.Contains(md.String(), "seed 1234567890123") || !strings.Contains(md.String(), "stop-at-limit") {
		t.Errorf("Markdown lacks the seed or the policy:\n%s", md.String())
	}
}

// TestImportVersion1AndStreaming checks that release 1's files still import,
// and that a reply saved as streaming comes in as interrupted.
func TestImportVersion1AndStreaming(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	file := map[string]any{
		"format": ConversationFormat, "version": 1,
		"conversation": map[string]any{
			"id": "v1conversation01", "title": "old", "title_edited": false, "persona": "", "system_prompt": "",
			"model": "", "sampling": map[string]any{}, "pinned": false,
			"created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z", "active_message": 2,
			"messages": []map[string]any{
				{"id": 1, "parent": 0, "role": "user", "content": "hi", "status": "done", "token_count": 0, "model": "", "stats": map[string]any{}, "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"},
				{"id": 2, "parent": 1, "role": "assistant", "content": "hel", "status": "streaming", "token_count": 0, "model": "", "stats": map[string]any{}, "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"},
			},
		},
	}
	data, _ := json.Marshal(file)
	id, err := s.Import(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("a version 1 file: %v", err)
	}
	th, _ := s.Thread(ctx, id)
	if th.Messages[1].Status != StatusInterrupted {
		t.Errorf("imported streaming reply is %s", th.Messages[1].Status)
	}
}
