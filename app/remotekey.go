package app

import (
	"errors"
	"fmt"
	"strings"

	"github.com/llamadesk/llamadesk/internal/inputfile"
)

// maxKeyBytes bounds an API key file.
const maxKeyBytes = 4096

// ReadKeyFile reads an API key from a file (the server's --api-key-file, a
// remote server's key): its first line, without surrounding space. It
// refuses an empty key, or one with spaces or control characters, and
// returns a warning when other users can read the file.
func ReadKeyFile(path string) (key, warning string, err error) {
	f, fi, err := inputfile.Open(path) // never waits on a named pipe
	if err != nil {
		return "", "", fmt.Errorf("read API key: %w", err)
	}
	defer f.Close()
	data, err := inputfile.ReadAll(f, maxKeyBytes)
	if errors.Is(err, inputfile.ErrTooLarge) {
		return "", "", fmt.Errorf("read API key: %s is longer than %d bytes", path, maxKeyBytes)
	} else if err != nil {
		return "", "", fmt.Errorf("read API key %s: %w", path, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	key = strings.TrimSpace(line)
	if err := CheckAPIKey(key); err != nil {
		return "", "", fmt.Errorf("%s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		warning = fmt.Sprintf("the key file %s can be read by other users (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	return key, warning, nil
}

// CheckAPIKey refuses what cannot be an API key: empty, too long, or with
// spaces or control characters.
func CheckAPIKey(key string) error {
	switch {
	case key == "":
		return errors.New("the API key is empty")
	case len(key) > maxKeyBytes || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return errors.New("the API key has spaces or control characters, or is too long")
	}
	return nil
}
