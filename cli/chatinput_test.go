package cli

import (
	"strings"
	"testing"
)

func TestInputAssembler(t *testing.T) {
	for _, c := range []struct {
		name  string
		lines []string
		want  []string // inputs completed, in order
		block []bool
	}{
		{"plain lines", []string{"hello", "world"}, []string{"hello", "world"}, []bool{false, false}},
		{"block", []string{`"""`, "line one", "", "line three", `"""`}, []string{"line one\n\nline three"}, []bool{true}},
		{"text on the fences", []string{`"""first`, "second", `third"""`}, []string{"first\nsecond\nthird"}, []bool{true}},
		{"one-line block", []string{`"""/help is text here"""`}, []string{"/help is text here"}, []bool{true}},
		{"block then line", []string{`"""`, "a", `"""`, "b"}, []string{"a", "b"}, []bool{true, false}},
		{"quotes inside a line", []string{`say """hi"""`}, []string{`say """hi"""`}, []bool{false}},
	} {
		var a inputAssembler
		var got []string
		var blocks []bool
		for _, l := range c.lines {
			if in, block, done := a.add(l); done {
				got = append(got, in)
				blocks = append(blocks, block)
			}
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(blocks) != len(c.block) {
			t.Errorf("%s: inputs %q, want %q", c.name, got, c.want)
			continue
		}
		for i := range blocks {
			if blocks[i] != c.block[i] {
				t.Errorf("%s: input %d block = %v", c.name, i, blocks[i])
			}
		}
		if a.pending() {
			t.Errorf("%s: a block is left open", c.name)
		}
	}
	var a inputAssembler
	a.add(`"""`)
	if a.prompt() != "… " || !a.pending() {
		t.Error("an open block is not shown")
	}
}

func TestParseCommand(t *testing.T) {
	for _, c := range []struct {
		line, name, arg string
		ok              bool
	}{
		{"/bye", "/bye", "", true},
		{"  /SYSTEM  Talk like a pirate. ", "/system", "Talk like a pirate.", true},
		{"/persona Shakespearean poet", "/persona", "Shakespearean poet", true},
		{"hello /bye", "", "", false},
		{"", "", "", false},
	} {
		name, arg, ok := parseCommand(c.line)
		if name != c.name || arg != c.arg || ok != c.ok {
			t.Errorf("parseCommand(%q) = %q %q %v", c.line, name, arg, ok)
		}
	}
	for _, cmd := range []string{"/help", "/bye", "/clear", "/system", "/persona", "/save", `"""`} {
		if !strings.Contains(chatHelp(), cmd) {
			t.Errorf("/help does not mention %s", cmd)
		}
	}
}

func TestDescribeDropped(t *testing.T) {
	for _, c := range []struct {
		dropped []int
		want    string
	}{
		{nil, ""},
		{[]int{0, 1}, "turn 1"},
		{[]int{0, 1, 2, 3, 4, 5}, "turns 1–3"},
		{[]int{2, 3}, "turn 2"},
		{[]int{0, 1, 2, 3, 8, 9}, "turns 1, 2 and 5"},
		{[]int{0, 1, 4, 5, 6, 7, 8, 9}, "turns 1 and 3–5"},
	} {
		if got := describeDropped(c.dropped); got != c.want {
			t.Errorf("describeDropped(%v) = %q, want %q", c.dropped, got, c.want)
		}
	}
}
