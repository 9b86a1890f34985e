package history

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// richConversation builds a conversation with a persona, sampling, stats,
// an edited question (two versions), hostile HTML and Markdown, and returns
// its id and the text of the version that is not on the active path.
func richConversation(t testing.TB, s *Store) (id, hidden string) {
	t.Helper()
	ctx := context.Background()
	c, err := s.CreateConversation(ctx, NewConversation{Persona: "Shakespearean poet", Model: "llama-2-7b-chat.Q4_K_M.gguf",
		Sampling: Sampling{Seed: Ptr(int64(42)), MaxTokens: Ptr(256)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUser(ctx, c.ID, "Is <b>bold</b> & brave <script>alert('x')</script>?"); err != nil {
		t.Fatal(err)
	}
	reply(t, s, c.ID, "Aye, *boldly* so:\n\n```go\nfmt.Println(\"</pre>\")\n```")
	u2, err := s.AppendUser(ctx, c.ID, "the first wording of question two")
	if err != nil {
		t.Fatal(err)
	}
	reply(t, s, c.ID, "an answer to the first wording")
	if _, err := s.EditUser(ctx, u2.ID, "Question two, better put"); err != nil {
		t.Fatal(err)
	}
	a, err := s.StartAssistant(ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAssistant(ctx, a.ID, Finish{Content: "Stopped mid-sen", Status: StatusCancelled, TokenCount: 4,
		Stats: Stats{PromptTokens: 50, TokensPerSecond: 9.75, StopReason: "cancelled"}}); err != nil {
		t.Fatal(err)
	}
	return c.ID, "the first wording of question two"
}

func exportString(t *testing.T, s *Store, id string, f Format) string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Export(context.Background(), &buf, id, f); err != nil {
		t.Fatalf("Export %s: %v", f, err)
	}
	return buf.String()
}

func TestExportFormats(t *testing.T) {
	s := openTemp(t)
	id, hidden := richConversation(t, s)
	th, err := s.Thread(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	poet, _ := s.Persona(context.Background(), "Shakespearean poet")
	for _, f := range []Format{FormatMarkdown, FormatHTML, FormatText, FormatJSON} {
		t.Run(string(f), func(t *testing.T) {
			out := exportString(t, s, id, f)
			plain := out
			if f == FormatHTML {
				plain = htmlUnescape(out)
			}
			if f == FormatJSON {
				var v conversationFile
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Fatal(err)
				}
				plain = v.Conversation.SystemPrompt + "\n" + v.Conversation.Persona + "\n" + v.Conversation.Model
				for _, m := range v.Conversation.Messages {
					plain += "\n" + m.Content
				}
			}
			for _, want := range []string{poet.SystemPrompt, "Shakespearean poet", "llama-2-7b-chat.Q4_K_M.gguf"} {
				if !strings.Contains(plain, want) {
					t.Errorf("export lacks %.50q", want)
				}
			}
			for _, m := range th.Messages {
				if !strings.Contains(plain, m.Content) {
					t.Errorf("export lacks message %.50q", m.Content)
				}
			}
			if f == FormatJSON {
				if !strings.Contains(plain, hidden) {
					t.Error("JSON export lacks the earlier version of an edited message")
				}
			} else if strings.Contains(plain, hidden) {
				t.Error("a version off the active path was exported")
			}
			if f != FormatJSON && !strings.Contains(plain, "version 2 of 2") {
				t.Error("export does not say that a message has versions")
			}
			if f != FormatJSON && !strings.Contains(plain, "cancelled") {
				t.Error("export does not show the cancelled status")
			}
		})
	}

	html := exportString(t, s, id, FormatHTML)
	for _, bad := range []string{"<script>alert", "<b>bold</b>", `fmt.Println("</pre>")`} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML export contains unescaped %q", bad)
		}
	}
	if !strings.Contains(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") || !strings.HasPrefix(html, "<!DOCTYPE html>") || !strings.Contains(html, "<style>") {
		t.Errorf("HTML export is not an escaped standalone page:\n%s", html)
	}
	md := exportString(t, s, id, FormatMarkdown)
	if !strings.HasPrefix(md, "# Is <b>bold</b>") || !strings.Contains(md, "## System prompt") || !strings.Contains(md, "## User · ") {
		t.Errorf("Markdown layout:\n%s", md)
	}

	var buf bytes.Buffer
	wantErr(t, s.Export(context.Background(), &buf, "nope", FormatMarkdown), ErrNotFound)
	wantErr(t, s.Export(context.Background(), &buf, id, Format("pdf")), ErrInvalid)
}

// htmlUnescape undoes html/template's escaping of text.
func htmlUnescape(s string) string {
	r := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&#39;", "'", "&#34;", `"`, "&quot;", `"`)
	return r.Replace(s)
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"md": FormatMarkdown, "markdown": FormatMarkdown, "JSON": FormatJSON,
		"html": FormatHTML, ".htm": FormatHTML, "txt": FormatText, "text": FormatText} {
		if got, err := ParseFormat(in); got != want || err != nil {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	_, err := ParseFormat("pdf")
	wantErr(t, err, ErrInvalid)
}

func TestJSONRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	id, _ := richConversation(t, s)
	if err := s.SetPinned(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	first := exportString(t, s, id, FormatJSON)

	// Into another database: the id is free, so it is kept and the export
	// is byte for byte the same.
	other := openTemp(t)
	got, err := other.Import(ctx, strings.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	if got != id {
		t.Errorf("import into an empty database changed the id: %s -> %s", id, got)
	}
	if again := exportString(t, other, got, FormatJSON); again != first {
		t.Errorf("export after import differs:\n%s\n---\n%s", again, first)
	}
	// The tree came back: versions and the active path.
	path, _ := other.ActivePath(ctx, got)
	orig, _ := s.ActivePath(ctx, id)
	if strings.Join(contents(path), "|") != strings.Join(contents(orig), "|") || path[2].Versions != 2 {
		t.Errorf("active path after import = %q", contents(path))
	}
	mustCheck(t, other)

	// Into the same database: the id is taken, so a new one; all else equal.
	dup, err := s.Import(ctx, strings.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	if dup == id || !validID(dup) {
		t.Errorf("import beside the original got id %q", dup)
	}
	if again := exportString(t, s, dup, FormatJSON); strings.ReplaceAll(again, dup, id) != first {
		t.Errorf("export of the copy differs beyond the id:\n%s", again)
	}
	// Found by search too.
	if hits, _ := s.Search(ctx, "better put", 0); len(hits) != 2 {
		t.Errorf("search finds %d copies, want 2", len(hits))
	}

	// Deleted and imported back: the same id again.
	if err := s.DeleteConversation(ctx, id); err != nil {
		t.Fatal(err)
	}
	back, err := s.Import(ctx, strings.NewReader(first))
	if err != nil || back != id {
		t.Fatalf("re-import = %q, %v", back, err)
	}
	if again := exportString(t, s, back, FormatJSON); again != first {
		t.Error("export after delete and import differs")
	}
	mustCheck(t, s)

	// An empty conversation round-trips too.
	empty, err := s.CreateConversation(ctx, NewConversation{})
	if err != nil {
		t.Fatal(err)
	}
	e1 := exportString(t, s, empty.ID, FormatJSON)
	e2id, err := other.Import(ctx, strings.NewReader(e1))
	if err != nil {
		t.Fatal(err)
	}
	if e2 := exportString(t, other, e2id, FormatJSON); e2 != e1 {
		t.Errorf("empty conversation:\n%s\nvs\n%s", e2, e1)
	}
}

func TestExportAll(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	ids := []string{chat(t, s, "", "Café au lait?", "Oui."), chat(t, s, "", "!!!", "?"), chat(t, s, "", "x")}
	dir := filepath.Join(t.TempDir(), "exports", "all")
	for _, f := range []Format{FormatMarkdown, FormatJSON, FormatHTML, FormatText} {
		paths, err := s.ExportAll(ctx, dir, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) != len(ids) {
			t.Fatalf("%s: %d files, want %d", f, len(paths), len(ids))
		}
		for _, p := range paths {
			if filepath.Ext(p) != f.Ext() {
				t.Errorf("file %s has the wrong extension", p)
			}
			data, err := os.ReadFile(p)
			if err != nil || len(data) == 0 {
				t.Errorf("file %s: %d bytes, %v", p, len(data), err)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4*len(ids) {
		t.Errorf("%d files in the folder, want %d (no temporary files left)", len(entries), 4*len(ids))
	}
	c, _ := s.Conversation(ctx, ids[0])
	if name := ExportFileName(c, FormatMarkdown); !strings.HasSuffix(name, "-caf-au-lait-"+c.ID+".md") {
		t.Errorf("ExportFileName = %q", name)
	}
	c, _ = s.Conversation(ctx, ids[1])
	if name := ExportFileName(c, FormatJSON); !strings.HasSuffix(name, "-"+c.ID+".json") || strings.Contains(name, "--") {
		t.Errorf("ExportFileName = %q", name)
	}
	_, err := s.ExportAll(ctx, dir, Format("doc"))
	wantErr(t, err, ErrInvalid)
}

func TestBadImportFiles(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	id, _ := richConversation(t, s)
	good := exportString(t, s, id, FormatJSON)
	if err := s.DeleteConversation(ctx, id); err != nil {
		t.Fatal(err)
	}
	edit := func(mutate func(c map[string]any)) string {
		var f map[string]any
		if err := json.Unmarshal([]byte(good), &f); err != nil {
			t.Fatal(err)
		}
		mutate(f)
		b, _ := json.Marshal(f)
		return string(b)
	}
	conv := func(f map[string]any) map[string]any { return f["conversation"].(map[string]any) }
	msgs := func(f map[string]any) []any { return conv(f)["messages"].([]any) }
	msg := func(f map[string]any, i int) map[string]any { return msgs(f)[i].(map[string]any) }
	tests := map[string]string{
		"empty":             "",
		"not json":          "# A Markdown export\n",
		"truncated":         good[:len(good)/2],
		"trailing garbage":  good + "{}",
		"persona file":      `{"format": "llamadesk.personas", "version": 1, "personas": []}`,
		"wrong version":     edit(func(f map[string]any) { f["version"] = conversationFileVersion + 1 }),
		"unknown field":     edit(func(f map[string]any) { conv(f)["colour"] = "red" }),
		"bad role":          edit(func(f map[string]any) { msg(f, 1)["role"] = "system" }),
		"bad status":        edit(func(f map[string]any) { msg(f, 1)["status"] = "thinking" }),
		"forward parent":    edit(func(f map[string]any) { msg(f, 0)["parent"] = 3 }),
		"missing parent":    edit(func(f map[string]any) { msg(f, 2)["parent"] = 99 }),
		"duplicate id":      edit(func(f map[string]any) { msg(f, 2)["id"] = 1 }),
		"zero id":           edit(func(f map[string]any) { msg(f, 0)["id"] = 0 }),
		"bad active":        edit(func(f map[string]any) { conv(f)["active_message"] = 77 }),
		"bad sampling":      edit(func(f map[string]any) { conv(f)["sampling"] = map[string]any{"top_p": 3} }),
		"no times":          edit(func(f map[string]any) { delete(msg(f, 3), "created_at") }),
		"bad time":          edit(func(f map[string]any) { conv(f)["created_at"] = "yesterday" }),
		"wrong type":        edit(func(f map[string]any) { msg(f, 0)["content"] = 12 }),
		"negative tokens":   edit(func(f map[string]any) { msg(f, 1)["token_count"] = -1 }),
		"messages not list": edit(func(f map[string]any) { conv(f)["messages"] = "none" }),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := s.Import(ctx, strings.NewReader(data))
			wantErr(t, err, ErrInvalid)
		})
	}
	convs, _ := s.Conversations(ctx)
	var n int
	s.r.QueryRowContext(ctx, "SELECT count(*) FROM messages").Scan(&n)
	if len(convs) != 0 || n != 0 {
		t.Errorf("bad imports wrote %d conversations and %d messages", len(convs), n)
	}
	// The untouched file still imports.
	if _, err := s.Import(ctx, strings.NewReader(good)); err != nil {
		t.Errorf("good file: %v", err)
	}
}

func FuzzImport(f *testing.F) {
	s := openTemp(f)
	// Fuzzing runs many imports: skip the fsyncs (one writer connection,
	// so the setting holds for every write).
	if _, err := s.w.Exec("PRAGMA synchronous = OFF"); err != nil {
		f.Fatal(err)
	}
	id, _ := richConversation(f, s)
	var buf bytes.Buffer
	if err := s.Export(context.Background(), &buf, id, FormatJSON); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"llamadesk.conversation","version":1,"conversation":{"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z","messages":[]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		got, err := s.Import(ctx, bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever imports, exports, and the export imports again.
		var out bytes.Buffer
		if err := s.Export(ctx, &out, got, FormatJSON); err != nil {
			t.Fatalf("export of an imported conversation: %v", err)
		}
		if _, err := s.Import(ctx, bytes.NewReader(out.Bytes())); err != nil {
			t.Fatalf("re-import: %v\n%s", err, out.Bytes())
		}
		for _, f := range []Format{FormatMarkdown, FormatHTML, FormatText} {
			if err := s.Export(ctx, &out, got, f); err != nil {
				t.Fatalf("export %s: %v", f, err)
			}
		}
	})
}
