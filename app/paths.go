// Package app holds the services the window and the command line share:
// where data lives, loading models, chatting, the model manager, history and
// settings. It imports no Fyne package.
package app

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// HomeEnv names the environment variable that moves the whole data folder
// (database, models, settings).
const HomeEnv = "LLAMADESK_HOME"

// DataDir returns the data folder: $LLAMADESK_HOME when set, otherwise the
// platform's per-user data folder (~/.local/share/llamadesk on Linux,
// ~/Library/Application Support/Llamadesk on macOS, %LOCALAPPDATA%\Llamadesk
// on Windows). getenv is os.Getenv outside tests.
func DataDir(getenv func(string) string) (string, error) {
	if h := getenv(HomeEnv); h != "" {
		return filepath.Abs(h)
	}
	switch runtime.GOOS {
	case "windows":
		if d := getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "Llamadesk"), nil
		}
	case "darwin":
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, "Library", "Application Support", "Llamadesk"), nil
		}
	default:
		if d := getenv("XDG_DATA_HOME"); d != "" {
			return filepath.Join(d, "llamadesk"), nil
		}
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".local", "share", "llamadesk"), nil
		}
	}
	return "", fmt.Errorf("cannot find a data folder: set %s", HomeEnv)
}

// EnsureDir creates dir (and its parents) when missing, readable only by the user.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	return nil
}
