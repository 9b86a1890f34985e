package cli

import (
	"fmt"
	"strings"
)

// blockQuote opens and closes a message of several lines in the terminal
// chat, as in Ollama.
const blockQuote = `"""`

// inputAssembler joins the lines a person types into inputs: each line is
// one, unless it starts with """, which opens a block that runs to the line
// ending with """ (text on the opening and closing lines included, line
// breaks kept). Text from a block is always a message, never a command.
type inputAssembler struct {
	open  bool
	lines []string
}

// add takes one line. It returns the input it completes, and whether that
// input came from a block.
func (a *inputAssembler) add(line string) (input string, block, done bool) {
	if !a.open {
		rest, ok := strings.CutPrefix(strings.TrimLeft(line, " \t"), blockQuote)
		if !ok {
			return line, false, true
		}
		if body, closed := strings.CutSuffix(strings.TrimRight(rest, " \t"), blockQuote); closed {
			return body, true, true // """one line"""
		}
		a.open, a.lines = true, nil
		if rest != "" {
			a.lines = append(a.lines, rest)
		}
		return "", false, false
	}
	if body, closed := strings.CutSuffix(strings.TrimRight(line, " \t"), blockQuote); closed {
		if body != "" {
			a.lines = append(a.lines, body)
		}
		text := strings.Join(a.lines, "\n")
		a.open, a.lines = false, nil
		return text, true, true
	}
	a.lines = append(a.lines, line)
	return "", false, false
}

// prompt is what to show before the next line: "> ", or "… " inside a block.
func (a *inputAssembler) prompt() string {
	if a.open {
		return "… "
	}
	return "> "
}

// pending reports whether a block is open (end of input then loses it).
func (a *inputAssembler) pending() bool { return a.open }

// chatCommand is one of the terminal chat's slash commands.
type chatCommand struct {
	name, args, help string
}

// chatCommands lists the terminal chat's commands, for /help.
func chatCommands() []chatCommand {
	return []chatCommand{
		{"/help", "", "show these commands (also /?)"},
		{"/bye", "", "leave the chat (also Ctrl-D)"},
		{"/clear", "", "start a new conversation with the same persona or system prompt (the current one stays saved)"},
		{"/system", "TEXT", "set the system prompt of this conversation (of the next one, before the first message)"},
		{"/persona", "NAME", "start a new conversation with persona NAME"},
		{"/save", "[FILE]", "say where the conversation is kept; with FILE, export it (md, json, html or txt by extension)"},
	}
}

// parseCommand splits a typed line into a slash command and its argument;
// ok is false for a message. A message may not start with "/" (use a """
// block to send one that does).
func parseCommand(line string) (name, arg string, ok bool) {
	t := strings.TrimSpace(line)
	if !strings.HasPrefix(t, "/") {
		return "", "", false
	}
	name, arg, _ = strings.Cut(t, " ")
	return strings.ToLower(name), strings.TrimSpace(arg), true
}

// chatHelp renders /help.
func chatHelp() string {
	var b strings.Builder
	b.WriteString("Commands:\n")
	for _, c := range chatCommands() {
		usage := c.name
		if c.args != "" {
			usage += " " + c.args
		}
		fmt.Fprintf(&b, "  %-15s %s\n", usage, c.help)
	}
	b.WriteString(`Type """ to start a message of several lines and """ again to end it. Ctrl-C stops a reply.` + "\n")
	return b.String()
}

// describeDropped says which turns (a person's message and its reply,
// numbered from 1) a prompt left out, from the indices of the messages
// dropped: "turn 2", "turns 1–3", "turns 1, 2 and 5–6".
func describeDropped(dropped []int) string {
	var turns []int
	for _, i := range dropped {
		t := i/2 + 1
		if len(turns) == 0 || turns[len(turns)-1] != t {
			turns = append(turns, t)
		}
	}
	if len(turns) == 0 {
		return ""
	}
	var parts []string
	for i := 0; i < len(turns); {
		j := i
		for j+1 < len(turns) && turns[j+1] == turns[j]+1 {
			j++
		}
		switch {
		case j == i:
			parts = append(parts, fmt.Sprint(turns[i]))
		case j == i+1:
			parts = append(parts, fmt.Sprint(turns[i]), fmt.Sprint(turns[j]))
		default:
			parts = append(parts, fmt.Sprintf("%d–%d", turns[i], turns[j]))
		}
		i = j + 1
	}
	noun := "turns "
	if len(turns) == 1 {
		noun = "turn "
	}
	if len(parts) == 1 {
		return noun + parts[0]
	}
	return noun + strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
