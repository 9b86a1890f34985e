package history

import (
	"crypto/rand"
	"strings"
)

// idAlphabet spells conversation ids: lower-case letters and digits without
// the look-alikes 0, 1, l and o. 32 symbols, so each carries 5 bits.
const idAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// idLength gives 80 random bits per id.
const idLength = 16

// newID returns a random, URL-safe conversation id that never starts with
// a dash (so that command lines do not take it for a flag).
func newID() string {
	var b [idLength]byte
	rand.Read(b[:]) // never fails (crypto/rand panics on a broken source)
	for i := range b {
		b[i] = idAlphabet[b[i]&31]
	}
	return string(b[:])
}

// validID reports whether id looks like a conversation id: 1 to 64
// characters from [A-Za-z0-9_-], not starting with '-'. Imported files may
// carry ids made by other builds; anything else gets a new id.
func validID(id string) bool {
	if id == "" || len(id) > 64 || strings.HasPrefix(id, "-") {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
