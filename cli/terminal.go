package cli

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// terminalSafe returns s with everything a terminal would act on instead
// of showing shown escaped, Go style: control characters (C0, DEL and C1,
// which start escape sequences: colours, cursor moves, window titles,
// hyperlinks), the bidirectional overrides that make text read in another
// order than it is stored, and bytes that are not UTF-8. Titles, file
// names, metadata and error messages come from files, imports and models,
// so everything such is printed through it.
func terminalSafe(s string) string { return escapeTerminal(s, false) }

// terminalSafeLines is terminalSafe keeping line breaks (for messages of
// several lines).
func terminalSafeLines(s string) string { return escapeTerminal(s, true) }

func escapeTerminal(s string, keepNewlines bool) string {
	if !needsEscape(s, keepNewlines) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && keepNewlines:
			b.WriteByte('\n')
		case unsafeRune(r):
			switch r {
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				if r < 0x100 {
					fmt.Fprintf(&b, `\x%02x`, r)
				} else {
					fmt.Fprintf(&b, `\u%04x`, r)
				}
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// needsEscape reports whether s holds anything escapeTerminal changes.
func needsEscape(s string, keepNewlines bool) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || (unsafeRune(r) && !(r == '\n' && keepNewlines)) {
			return true
		}
		i += size
	}
	return false
}

// unsafeRune reports a control character or a bidirectional formatting
// character.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}
