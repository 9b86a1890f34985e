package history

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/llamadesk/llamadesk/internal/atomicfile"
)

// Format is an export format.
type Format string

// Export formats.
const (
	FormatMarkdown Format = "md"
	FormatJSON     Format = "json"
	FormatHTML     Format = "html"
	FormatText     Format = "txt"
)

// ParseFormat reads a format name: md (markdown), json, html, txt (text).
func ParseFormat(name string) (Format, error) {
	switch strings.ToLower(strings.TrimPrefix(name, ".")) {
	case "md", "markdown":
		return FormatMarkdown, nil
	case "json":
		return FormatJSON, nil
	case "html", "htm":
		return FormatHTML, nil
	case "txt", "text":
		return FormatText, nil
	}
	return "", fmt.Errorf("%w: unknown export format %q (use md, json, html or txt)", ErrInvalid, name)
}

// Ext returns the file extension for f, with its dot.
func (f Format) Ext() string { return "." + string(f) }

// ConversationFormat names the JSON export format.
const ConversationFormat = "llamadesk.conversation"

// conversationFileVersion is the JSON export version this build writes; it
// reads it and every earlier one. Version 2 added the conversation's
// overflow_policy and each reply's seed.
const conversationFileVersion = 2

// conversationFile is the JSON export of one conversation: complete, every
// version of every message included, so that Import restores it exactly.
type conversationFile struct {
	Format       string             `json:"format"`
	Version      int                `json:"version"`
	Conversation exportConversation `json:"conversation"`
}

type exportConversation struct {
	ID           string   `json:"id"`
	Title        string   `json:"title"`
	TitleEdited  bool     `json:"title_edited"`
	Persona      string   `json:"persona"`
	SystemPrompt string   `json:"system_prompt"`
	Model        string   `json:"model"`
	Sampling     Sampling `json:"sampling"`
	// OverflowPolicy is the conversation's context overflow policy ("" for
	// the default).
	OverflowPolicy string    `json:"overflow_policy,omitempty"`
	Pinned         bool      `json:"pinned"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// ActiveMessage is the id (within this file) of the active path's last
	// message; 0 when there are no messages.
	ActiveMessage int             `json:"active_message"`
	Messages      []exportMessage `json:"messages"`
}

// exportMessage is one message; ids are numbered 1, 2, 3... within the
// file and a parent always comes before its children.
type exportMessage struct {
	ID         int       `json:"id"`
	Parent     int       `json:"parent"`
	Role       Role      `json:"role"`
	Content    string    `json:"content"`
	Status     Status    `json:"status"`
	Error      string    `json:"error,omitempty"`
	TokenCount int       `json:"token_count"`
	Model      string    `json:"model"`
	Stats      Stats     `json:"stats"`
	Seed       *int64    `json:"seed,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// loadExport reads a conversation with every message from one snapshot.
func (s *Store) loadExport(ctx context.Context, id string) (Conversation, []Message, error) {
	var c Conversation
	var all []Message
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = getConversation(ctx, tx, id); err != nil {
			return err
		}
		all, err = allMessages(ctx, tx, id)
		return err
	})
	return c, all, err
}

// Export writes conversation id to w in format f. JSON holds every version
// of every message; Markdown, HTML and text show the active path.
func (s *Store) Export(ctx context.Context, w io.Writer, id string, f Format) error {
	c, all, err := s.loadExport(ctx, id)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	switch f {
	case FormatJSON:
		err = writeJSON(bw, c, all)
	case FormatMarkdown:
		err = writeMarkdown(bw, c, pathTo(all, c.LeafID))
	case FormatHTML:
		err = writeHTML(bw, c, pathTo(all, c.LeafID))
	case FormatText:
		err = writeText(bw, c, pathTo(all, c.LeafID))
	default:
		return fmt.Errorf("%w: unknown export format %q", ErrInvalid, f)
	}
	if err != nil {
		return fmt.Errorf("export %s as %s: %w", id, f, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export %s as %s: %w", id, f, err)
	}
	return nil
}

// ExportFile writes conversation id to the file path in format f. A file
// appears complete or not at all (written beside it, then renamed; through
// a symbolic link, its target), keeps its permissions when it existed, and
// is created with 0666 less the umask otherwise; a device or a named pipe
// is written in place (see atomicfile.WriteOutput).
func (s *Store) ExportFile(ctx context.Context, path, id string, f Format) error {
	return atomicfile.WriteOutput(path, func(w io.Writer) error { return s.Export(ctx, w, id, f) })
}

// ExportStream writes every conversation to w in format f, one after
// another (newest first, as Conversations lists them): JSON as one complete
// document per conversation, the other formats separated by a blank line.
func (s *Store) ExportStream(ctx context.Context, w io.Writer, f Format) error {
	if _, err := ParseFormat(string(f)); err != nil {
		return err
	}
	convs, err := s.Conversations(ctx)
	if err != nil {
		return err
	}
	for i, c := range convs {
		if i > 0 && f != FormatJSON {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return fmt.Errorf("export all: %w", err)
			}
		}
		if err := s.Export(ctx, w, c.ID, f); err != nil {
			return err
		}
	}
	return nil
}

// ExportAll writes every conversation into dir (created when missing), one
// file per conversation named <date>-<title>-<id><ext>, and returns the
// paths written.
func (s *Store) ExportAll(ctx context.Context, dir string, f Format) ([]string, error) {
	if _, err := ParseFormat(string(f)); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o777); err != nil { // less the umask
		return nil, fmt.Errorf("export all: %w", err)
	}
	convs, err := s.Conversations(ctx)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, c := range convs {
		p := filepath.Join(dir, ExportFileName(c, f))
		if err := s.ExportFile(ctx, p, c.ID, f); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// ExportFileName names the export file of c: <created date>-<title>-<id><ext>,
// the title reduced to at most 40 lower-case ASCII letters, digits and dashes.
func ExportFileName(c Conversation, f Format) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(c.Title) {
		if b.Len() >= 40 {
			break
		}
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	slug := strings.Trim(b.String(), "-")
	name := c.CreatedAt.UTC().Format("2006-01-02") + "-"
	if slug != "" {
		name += slug + "-"
	}
	return name + c.ID + f.Ext()
}

// writeJSON writes the complete JSON export.
func writeJSON(w io.Writer, c Conversation, all []Message) error {
	ec := exportConversation{
		ID: c.ID, Title: c.Title, TitleEdited: c.TitleEdited, Persona: c.Persona, SystemPrompt: c.SystemPrompt,
		Model: c.Model, Sampling: c.Sampling, OverflowPolicy: c.OverflowPolicy, Pinned: c.Pinned,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Messages: make([]exportMessage, 0, len(all)),
	}
	local := make(map[int64]int, len(all))
	for i, m := range all {
		local[m.ID] = i + 1
	}
	for i, m := range all {
		ec.Messages = append(ec.Messages, exportMessage{
			ID: i + 1, Parent: local[m.ParentID], Role: m.Role, Content: m.Content, Status: m.Status,
			Error: m.Error, TokenCount: m.TokenCount, Model: m.Model, Stats: m.Stats, Seed: m.Seed,
			CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
		})
	}
	if path := pathTo(all, c.LeafID); len(path) > 0 {
		ec.ActiveMessage = local[path[len(path)-1].ID]
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep <, > and & readable; the file is data, not HTML
	enc.SetIndent("", "  ")
	return enc.Encode(conversationFile{Format: ConversationFormat, Version: conversationFileVersion, Conversation: ec})
}

// timeLabel formats a time for the human-readable exports.
func timeLabel(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// roleLabel is the heading of a message in the human-readable exports.
func roleLabel(r Role) string {
	if r == RoleUser {
		return "User"
	}
	return "Assistant"
}

// messageNotes describes a message beyond its text: version, status,
// tokens and speed.
func messageNotes(m Message) []string {
	var notes []string
	if m.Versions > 1 {
		notes = append(notes, fmt.Sprintf("version %d of %d", m.Version, m.Versions))
	}
	if m.Status != StatusDone {
		s := string(m.Status)
		if m.Error != "" {
			s += ": " + m.Error
		}
		notes = append(notes, s)
	}
	if m.Role == RoleAssistant {
		if m.TokenCount > 0 {
			notes = append(notes, fmt.Sprintf("%d tokens", m.TokenCount))
		}
		if m.Stats.TokensPerSecond > 0 {
			notes = append(notes, fmt.Sprintf("%.1f tokens/s", m.Stats.TokensPerSecond))
		}
		if m.Seed != nil {
			notes = append(notes, fmt.Sprintf("seed %d", *m.Seed))
		}
	}
	return notes
}

// headerFacts are the conversation's details shown at the top of the
// human-readable exports.
func headerFacts(c Conversation) [][2]string {
	facts := [][2]string{{"Conversation", c.ID}}
	if c.Persona != "" {
		facts = append(facts, [2]string{"Persona", c.Persona})
	}
	if c.Model != "" {
		facts = append(facts, [2]string{"Model", c.Model})
	}
	if !c.Sampling.IsZero() {
		facts = append(facts, [2]string{"Sampling", c.Sampling.String()})
	}
	if c.OverflowPolicy != "" {
		facts = append(facts, [2]string{"Context overflow", c.OverflowPolicy})
	}
	facts = append(facts, [2]string{"Created", timeLabel(c.CreatedAt)}, [2]string{"Updated", timeLabel(c.UpdatedAt)})
	return facts
}

// displayTitle is the title shown in exports.
func displayTitle(c Conversation) string {
	if c.Title == "" {
		return "Untitled conversation"
	}
	return c.Title
}

// writeMarkdown writes the active path as Markdown. Message text is
// written as is (replies are usually Markdown themselves).
func writeMarkdown(w *bufio.Writer, c Conversation, path []Message) error {
	fmt.Fprintf(w, "# %s\n\n", displayTitle(c))
	for _, f := range headerFacts(c) {
		fmt.Fprintf(w, "- **%s:** %s\n", f[0], f[1])
	}
	if c.SystemPrompt != "" {
		w.WriteString("\n## System prompt\n\n")
		for _, line := range strings.Split(c.SystemPrompt, "\n") {
			if line == "" {
				w.WriteString(">\n")
			} else {
				fmt.Fprintf(w, "> %s\n", line)
			}
		}
	}
	for _, m := range path {
		heading := roleLabel(m.Role) + " · " + timeLabel(m.CreatedAt)
		if notes := messageNotes(m); len(notes) > 0 {
			heading += " · " + strings.Join(notes, ", ")
		}
		fmt.Fprintf(w, "\n## %s\n\n%s\n", heading, strings.TrimRight(m.Content, "\n"))
	}
	return nil
}

// writeText writes the active path as plain text.
func writeText(w *bufio.Writer, c Conversation, path []Message) error {
	title := displayTitle(c)
	fmt.Fprintf(w, "%s\n%s\n\n", title, strings.Repeat("=", max(3, len([]rune(title)))))
	for _, f := range headerFacts(c) {
		fmt.Fprintf(w, "%s: %s\n", f[0], f[1])
	}
	if c.SystemPrompt != "" {
		w.WriteString("\nSystem prompt:\n")
		for _, line := range strings.Split(c.SystemPrompt, "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
	for _, m := range path {
		label := roleLabel(m.Role) + ", " + timeLabel(m.CreatedAt)
		if notes := messageNotes(m); len(notes) > 0 {
			label += ", " + strings.Join(notes, ", ")
		}
		fmt.Fprintf(w, "\n[%s]\n%s\n", label, strings.TrimRight(m.Content, "\n"))
	}
	return nil
}

// htmlPage is the standalone HTML export; html/template escapes every value.
var htmlPage = template.Must(template.New("conversation").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Llamadesk">
<title>{{.Title}}</title>
<style>
:root { color-scheme: light dark; --bg: #f7f7f8; --fg: #1d1d1f; --muted: #6b6b75; --user: #e3ecfb; --assistant: #ffffff; --border: #d9d9e0; }
@media (prefers-color-scheme: dark) { :root { --bg: #18181b; --fg: #ececf1; --muted: #a1a1aa; --user: #1e3a5f; --assistant: #26262b; --border: #3f3f46; } }
body { margin: 0; background: var(--bg); color: var(--fg); font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 52rem; margin: 0 auto; padding: 2rem 1rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; color: var(--muted); font-size: .9rem; margin: 0 0 1.5rem; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.system { border-left: 4px solid var(--border); padding: .5rem 1rem; margin: 0 0 1.5rem; color: var(--muted); }
.system h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; margin: 0 0 .3rem; }
.message { border: 1px solid var(--border); border-radius: 12px; padding: .8rem 1rem; margin: 0 0 1rem; }
.message.user { background: var(--user); } .message.assistant { background: var(--assistant); }
.meta { font-size: .8rem; color: var(--muted); margin: 0 0 .4rem; } .meta .role { font-weight: 700; color: var(--fg); }
.content { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font: inherit; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<dl class="facts">{{range .Facts}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}</dl>
{{- if .SystemPrompt}}
<section class="system"><h2>System prompt</h2><pre class="content">{{.SystemPrompt}}</pre></section>
{{- end}}
{{- range .Messages}}
<article class="message {{.Class}}">
<p class="meta"><span class="role">{{.Role}}</span> · <time datetime="{{.ISOTime}}">{{.Time}}</time>{{range .Notes}} · {{.}}{{end}}</p>
<pre class="content">{{.Content}}</pre>
</article>
{{- end}}
</main>
</body>
</html>
`))

// htmlMessage is one message as the HTML template sees it.
type htmlMessage struct {
	Class, Role, Time, ISOTime, Content string
	Notes                               []string
}

// writeHTML writes the active path as a standalone, styled HTML page.
func writeHTML(w *bufio.Writer, c Conversation, path []Message) error {
	data := struct {
		Title, SystemPrompt string
		Facts               [][2]string
		Messages            []htmlMessage
	}{Title: displayTitle(c), SystemPrompt: c.SystemPrompt, Facts: headerFacts(c)}
	for _, m := range path {
		class := "assistant"
		if m.Role == RoleUser {
			class = "user"
		}
		data.Messages = append(data.Messages, htmlMessage{
			Class: class, Role: roleLabel(m.Role), Time: timeLabel(m.CreatedAt),
			ISOTime: m.CreatedAt.UTC().Format(time.RFC3339), Content: m.Content, Notes: messageNotes(m),
		})
	}
	return htmlPage.Execute(w, data)
}
