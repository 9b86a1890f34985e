package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

func TestTerminalSafe(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text, ünïcødé, 日本語", "plain text, ünïcødé, 日本語"},
		{"red \x1b[31mtext\x1b[0m", `red \x1b[31mtext\x1b[0m`},
		{"title \x1b]0;owned\x07", `title \x1b]0;owned\x07`},
		{"c1 csi \u009b2J", `c1 csi \x9b2J`},
		{"del \x7f bell \a", `del \x7f bell \x07`},
		{"tab\tnew\nline\r", `tab\tnew\nline\r`},
		{"bidi \u202egnp.exe", `bidi \u202egnp.exe`},
		{"bad utf-8 \xff\xfe", `bad utf-8 \xff\xfe`},
	} {
		if got := terminalSafe(c.in); got != c.want {
			t.Errorf("terminalSafe(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := terminalSafeLines("line one\x1b[2J\nline two"); got != "line one\\x1b[2J\nline two" {
		t.Errorf("terminalSafeLines = %q", got)
	}
}

// noEscapes fails when out holds a byte a terminal would act on.
func noEscapes(t *testing.T, what, out string) {
	t.Helper()
	for _, bad := range []string{"\x1b", "\a", "\u009b", "\u202e", "\r"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s printed %q to the terminal:\n%q", what, bad, out)
		}
	}
}

// TestListingsEscapeImportedText imports a conversation and a persona whose
// texts carry escape sequences, and checks the listings show them escaped.
func TestListingsEscapeImportedText(t *testing.T) {
	h := newHistoryEnv(t)
	evil := "Weather \x1b]0;pwned\x07 \x1b[2J\u009b31m \u202eexe.txt"
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	conv := map[string]any{
		"format": "llamadesk.conversation", "version": 1,
		"conversation": map[string]any{
			"id": "evil1", "title": evil, "persona": "", "system_prompt": "", "model": "m.gguf", "sampling": map[string]any{},
			"created_at": when, "updated_at": when, "active_message": 2,
			"messages": []map[string]any{
				{"id": 1, "parent": 0, "role": "user", "content": "weather " + evil, "status": "done", "token_count": 0, "model": "", "stats": map[string]any{}, "created_at": when, "updated_at": when},
				{"id": 2, "parent": 1, "role": "assistant", "content": "sunny " + evil, "status": "done", "token_count": 3, "model": "m.gguf", "stats": map[string]any{}, "created_at": when, "updated_at": when},
			},
		},
	}
	data, _ := json.Marshal(conv)
	file := filepath.Join(t.TempDir(), "evil.json")
	os.WriteFile(file, data, 0o600)
	h.ok(t, "import", file)
	personas, _ := json.Marshal(map[string]any{"format": "llamadesk.personas", "version": 1,
		"personas": []map[string]any{{"name": "Evil", "system_prompt": "Be \x1b[5mblinking\x1b[0m", "sampling": map[string]any{}, "model": "x\x1b[1m.gguf"}}})
	pfile := filepath.Join(t.TempDir(), "personas.json")
	os.WriteFile(pfile, personas, 0o600)
	h.ok(t, "persona", "import", pfile)

	for _, args := range [][]string{{"history", "list"}, {"history", "search", "weather"}, {"persona", "list"}} {
		out := h.ok(t, args...)
		noEscapes(t, strings.Join(args, " "), out)
		if !strings.Contains(out, `\x1b`) {
			t.Errorf("%s does not show the escaped text:\n%s", strings.Join(args, " "), out)
		}
	}
}

// TestModelListingsEscapeFileText checks `models` and `info` with a model
// whose file name and metadata carry escape sequences.
func TestModelListingsEscapeFileText(t *testing.T) {
	src, err := gguf.Open(testenv.Path(t, "models", "tiny-q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w := gguf.NewWriter()
	for _, kv := range src.KV {
		v := kv.Value
		if kv.Key == "general.name" {
			v = "tiny \x1b]8;;http://evil.example/\x07link\x1b]8;;\x07 \x1b[2J"
		}
		if err := w.Set(kv.Key, v); err != nil {
			t.Fatal(err)
		}
	}
	for i := range src.Tensors {
		ti := &src.Tensors[i]
		if err := w.AddTensorBytes(ti.Name, ti.Type, ti.Dims, src.TensorData(ti)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	h := newHistoryEnv(t)
	dir := filepath.Join(h.home, "models")
	os.MkdirAll(dir, 0o700)
	path := filepath.Join(dir, "evil\x1b[31m.gguf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "broken\x1b[5m.gguf"), []byte("GGUF\x03\x00\x00\x00garbage"), 0o600)
	for _, args := range [][]string{{"models"}, {"info", "--model", path}} {
		out := h.ok(t, args...)
		noEscapes(t, strings.Join(args, " "), out)
		if !strings.Contains(out, `\x1b`) {
			t.Errorf("%s does not show the escaped text:\n%s", strings.Join(args, " "), out)
		}
	}
	_, _, stderr := h.run(t, "", "info", "--model", filepath.Join(dir, "broken\x1b[5m.gguf"))
	noEscapes(t, "info of a broken file (stderr)", stderr)
}

// FuzzTerminalSafe checks that whatever text comes in, what goes to the
// terminal is valid UTF-8 without control or bidi characters, and that
// text without them passes unchanged.
func FuzzTerminalSafe(f *testing.F) {
	for _, s := range []string{"plain", "\x1b]0;title\x07", "\u009b31m", "\xff\xfe", "a\u202eb", "tab\there", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := terminalSafe(s)
		if !utf8.ValidString(out) {
			t.Fatalf("terminalSafe(%q) = %q is not UTF-8", s, out)
		}
		for _, r := range out {
			if unsafeRune(r) {
				t.Fatalf("terminalSafe(%q) = %q keeps %U", s, out, r)
			}
		}
		if !needsEscape(s, false) && out != s {
			t.Fatalf("terminalSafe changed harmless text %q to %q", s, out)
		}
		lines := terminalSafeLines(s)
		if strings.ReplaceAll(lines, "\n", `\n`) != out {
			t.Fatalf("terminalSafeLines(%q) = %q differs from terminalSafe %q but for line breaks", s, lines, out)
		}
	})
}
