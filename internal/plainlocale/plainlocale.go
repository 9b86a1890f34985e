// Package plainlocale gives the process a locale name that toolkits can
// parse when the environment's is the plain C locale. Debian containers
// and CI machines run with LANG=C.UTF-8, which Fyne's locale lookup cannot
// parse: it would log "Fyne error: Error parsing user locale C" at start-up
// of every command. Setting LANGUAGE (consulted by gettext-style lookups
// only for message translations, and ignored under the C locale by gettext
// itself) to English avoids that without changing how text is encoded or
// sorted. Import it for its side effect from package main, before Fyne: it
// has no dependencies outside the standard library, so Go initialises it
// first.
package plainlocale

import (
	"os"
	"strings"
)

func init() {
	if os.Getenv("LANGUAGE") != "" {
		return
	}
	locale := ""
	for _, key := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if locale = os.Getenv(key); locale != "" {
			break
		}
	}
	base, _, _ := strings.Cut(locale, ".")
	if base == "C" || base == "POSIX" {
		os.Setenv("LANGUAGE", "en")
	}
}
