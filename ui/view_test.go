package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/llamadesk/llamadesk/history"
)

func TestGroupConversations(t *testing.T) {
	loc := time.FixedZone("test", 2*3600)
	now := time.Date(2026, 3, 20, 15, 0, 0, 0, loc)
	conv := func(id string, pinned bool, t time.Time) history.Conversation {
		return history.Conversation{ID: id, Pinned: pinned, UpdatedAt: t.UTC()}
	}
	convs := []history.Conversation{
		conv("p", true, now.AddDate(-1, 0, 0)),
		conv("today", false, now.Add(-time.Hour)),
		conv("midnight", false, time.Date(2026, 3, 20, 0, 0, 0, 0, loc)),
		conv("yesterday", false, time.Date(2026, 3, 19, 23, 59, 0, 0, loc)),
		conv("week", false, now.AddDate(0, 0, -5)),
		conv("month", false, now.AddDate(0, 0, -20)),
		conv("old1", false, time.Date(2025, 12, 5, 10, 0, 0, 0, loc)),
		conv("old2", false, time.Date(2025, 12, 1, 10, 0, 0, 0, loc)),
		conv("older", false, time.Date(2025, 11, 30, 10, 0, 0, 0, loc)),
	}
	var got []string
	for _, e := range groupConversations(convs, now) {
		if e.header != "" {
			got = append(got, "#"+e.header)
		} else {
			got = append(got, e.conv.ID)
		}
	}
	want := "#Pinned p #Today today midnight #Yesterday yesterday #Previous 7 days week #Previous 30 days month " +
		"#December 2025 old1 old2 #November 2025 older"
	if strings.Join(got, " ") != want {
		t.Fatalf("groups:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestFooterAndNotice(t *testing.T) {
	stats := history.Stats{GeneratedTokens: 42, TokensPerSecond: 12.34, TimeToFirstTokenMs: 1500, Backend: "cpu"}
	tests := []struct {
		name      string
		v         msgView
		footer    string
		danger    bool
		noticeHas string
		noNotice  bool
	}{
		{"user", msgView{role: history.RoleUser}, "", false, "", true},
		{"streaming", msgView{role: history.RoleAssistant, streaming: true}, "Generating…", false, "", true},
		{"done", msgView{role: history.RoleAssistant, status: history.StatusDone, stats: stats},
			"42 tokens · 12.3 tokens/s · first token 1.5 s · cpu", false, "", true},
		{"seed", msgView{role: history.RoleAssistant, status: history.StatusDone, stats: stats, seed: history.Ptr(int64(7781))},
			"42 tokens · 12.3 tokens/s · first token 1.5 s · cpu · seed 7781", false, "", true},
		{"stopped", msgView{role: history.RoleAssistant, status: history.StatusCancelled, stats: stats},
			"42 tokens · 12.3 tokens/s · first token 1.5 s · cpu · stopped", false, "", true},
		{"failed", msgView{role: history.RoleAssistant, status: history.StatusError, errText: "boom"}, "failed: boom", true, "", true},
		{"dropped turns", msgView{role: history.RoleAssistant, status: history.StatusDone, stats: history.Stats{DroppedTurns: 2}},
			"", false, "2 earlier turns were left out", false},
		{"note from the reply", msgView{role: history.RoleAssistant, status: history.StatusDone, note: "dropped 1 turn"},
			"", false, "dropped 1 turn", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			footer, danger := footerText(tt.v)
			if footer != tt.footer || danger != tt.danger {
				t.Errorf("footer = %q (danger %v), want %q (%v)", footer, danger, tt.footer, tt.danger)
			}
			n := noticeText(tt.v)
			if tt.noNotice && n != "" || !tt.noNotice && !strings.Contains(n, tt.noticeHas) {
				t.Errorf("notice = %q, want one containing %q", n, tt.noticeHas)
			}
		})
	}
}

func TestSamplingForm(t *testing.T) {
	base := history.Sampling{Seed: history.Ptr(int64(7)), Temperature: history.Ptr(0.5)}
	f := newSamplingForm(base)
	if f.temperature.Text != "0.5" || f.topK.Text != "" || f.topK.PlaceHolder != "40" {
		t.Fatalf("form shows temperature %q, top-k %q (placeholder %q)", f.temperature.Text, f.topK.Text, f.topK.PlaceHolder)
	}
	f.temperature.SetText("")
	f.topK.SetText("20")
	f.maxTokens.SetText("256")
	s, err := f.sampling(base)
	if err != nil {
		t.Fatal(err)
	}
	if s.Temperature != nil || *s.TopK != 20 || *s.MaxTokens != 256 || *s.Seed != 7 {
		t.Fatalf("sampling = %s, want temperature unset, top_k 20, max 256, seed kept", s)
	}
	for _, bad := range []struct {
		field      *widget.Entry
		text, want string
	}{
		{f.topP, "lots", "top-p"},
		{f.topP, "1.5", "top_p"},
		{f.maxTokens, "0", "max_tokens"},
	} {
		old := bad.field.Text
		bad.field.SetText(bad.text)
		if _, err := f.sampling(base); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want one about %s", bad.text, err, bad.want)
		}
		bad.field.SetText(old)
	}
}

// TestRowHeightMatchesLayout checks that the height measured for a message
// is the height its row needs when the list lays it out at that width.
func TestRowHeightMatchesLayout(t *testing.T) {
	test.NewTempApp(t)
	long := strings.Repeat("A fairly long sentence that wraps across the width of the row. ", 12)
	views := []msgView{
		{role: history.RoleUser, content: "Short question?", id: 1},
		{role: history.RoleAssistant, content: "# Title\n\n" + long + "\n\n```go\nfunc main() {\n\tprintln(\"hi\")\n}\n```\n\n- one\n- two", status: history.StatusDone,
			stats: history.Stats{GeneratedTokens: 10, TokensPerSecond: 5}, id: 2, versions: 2, version: 1},
		{role: history.RoleAssistant, content: long, status: history.StatusDone, stats: history.Stats{DroppedTurns: 1}, id: 3},
	}
	acts := rowActions{copy: func(string) {}, edit: func(msgView) {}, regenerate: func(msgView) {}, switchTo: func(msgView, int) {}}
	measurer := newMessageRow(acts)
	for _, width := range []float32{360, 720, 1100} {
		for i, v := range views {
			want := measurer.measure(v, width)
			row := newMessageRow(acts)
			w := test.NewTempWindow(t, row)
			w.Resize(fyne.NewSize(width, want))
			row.set(v)
			row.Resize(fyne.NewSize(width, want))
			if got := row.layoutAt(width); got != want {
				t.Errorf("width %v, row %d: laid out at %v, measured %v", width, i, got, want)
			}
			if i > 0 && width == 360 && want < 100 {
				t.Errorf("row %d measured only %v high at width 360", i, want)
			}
		}
	}
	narrow := measurer.measure(views[2], 360)
	wide := measurer.measure(views[2], 1100)
	if narrow <= wide {
		t.Errorf("a wrapped reply is %v high at 360 and %v at 1100: narrower should be taller", narrow, wide)
	}
}

func TestSplitLong(t *testing.T) {
	sentence := "This is a sentence of words. "
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{"short", "Short text.", 20, []string{"Short text."}},
		{"at a sentence", strings.Repeat(sentence, 3), 40, []string{"This is a sentence of words.", "This is a sentence of words.", "This is a sentence of words. "}},
		{"at a line break", "first line here\nsecond line\n  indented more", 30, []string{"first line here", "second line\n  indented more"}},
		{"at a space", "aaaa bbbb cccc dddd", 10, []string{"aaaa bbbb", "cccc dddd"}},
		{"no space", "abcdefghijkl", 5, []string{"abcde", "fghij", "kl"}},
		{"on a character boundary", "ééééé", 3, []string{"é", "é", "é", "é", "é"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitLong(tt.text, tt.limit)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("splitLong(%q, %d) = %q, want %q", tt.text, tt.limit, got, tt.want)
			}
			for _, part := range got {
				if len(part) > tt.limit {
					t.Errorf("part %q is longer than %d bytes", part, tt.limit)
				}
			}
		})
	}
}

// Continue is offered under a reply that was cut short only when the
// model in use can continue it (a remote model cannot).
func TestContinueOfferedOnlyWhereTheModelCan(t *testing.T) {
	test.NewTempApp(t)
	stopped := msgView{id: 2, role: history.RoleAssistant, content: "Once upon", status: history.StatusCancelled}
	done := msgView{id: 3, role: history.RoleAssistant, content: "The end.", status: history.StatusDone}
	for _, tt := range []struct {
		name        string
		v           msgView
		canContinue func() bool
		want        bool
	}{
		{"stopped, local model", stopped, func() bool { return true }, true},
		{"stopped, remote model", stopped, func() bool { return false }, false},
		{"stopped, no model yet", stopped, nil, true},
		{"finished, local model", done, func() bool { return true }, false},
	} {
		r := newMessageRow(rowActions{copy: func(string) {}, edit: func(msgView) {}, regenerate: func(msgView) {},
			switchTo: func(msgView, int) {}, resume: func(msgView) {}, canContinue: tt.canContinue})
		r.set(tt.v)
		if got := r.resumeBtn.Visible(); got != tt.want {
			t.Errorf("%s: Continue shown %v, want %v", tt.name, got, tt.want)
		}
	}
}
