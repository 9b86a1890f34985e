package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/llamadesk/llamadesk/internal/atomicfile"
)

// The window's own server (Settings → Server): whether it runs, on which
// port, and whether other machines may connect. They are kept in the
// settings table; the API key it then requires is a file of the data
// folder (mode 0600), never in the database.

// Keys of the server's settings.
const (
	serverEnabledKey = "server.enabled"
	serverPortKey    = "server.port"
	serverNetworkKey = "server.network"
)

// serverKeyFile is the window server's API key in the data folder.
const serverKeyFile = "server_key"

// DefaultServerPort is the server's port unless set: Ollama's plus one.
const DefaultServerPort = 11435

// ServerSettings say how the window serves the models to other programs.
type ServerSettings struct {
	// Enabled starts the server with the window.
	Enabled bool
	// Port is the TCP port (1 to 65535).
	Port int
	// Network lets other machines connect (all addresses instead of
	// loopback); the server then requires the API key (ServerKey).
	Network bool
}

// Validate reports a port out of range.
func (s ServerSettings) Validate() error {
	if s.Port < 1 || s.Port > 65535 {
		return fmt.Errorf("server port %d: want 1 to 65535", s.Port)
	}
	return nil
}

// LoadServerSettings reads the server's settings (defaults: off, port
// 11435, loopback only). An unreadable value takes its default.
func (a *App) LoadServerSettings(ctx context.Context) (ServerSettings, error) {
	s := ServerSettings{Port: DefaultServerPort}
	store, err := a.History()
	if err != nil {
		return s, err
	}
	stored, err := store.Settings(ctx)
	if err != nil {
		return s, err
	}
	s.Enabled = stored[serverEnabledKey] == "true"
	s.Network = stored[serverNetworkKey] == "true"
	if p, err := strconv.Atoi(stored[serverPortKey]); err == nil && p >= 1 && p <= 65535 {
		s.Port = p
	}
	return s, nil
}

// SaveServerSettings stores the server's settings.
func (a *App) SaveServerSettings(ctx context.Context, s ServerSettings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	store, err := a.History()
	if err != nil {
		return err
	}
	for k, v := range map[string]string{
		serverEnabledKey: strconv.FormatBool(s.Enabled),
		serverPortKey:    strconv.Itoa(s.Port),
		serverNetworkKey: strconv.FormatBool(s.Network),
	} {
		if err := store.SetSetting(ctx, k, v); err != nil {
			return fmt.Errorf("save the server settings: %w", err)
		}
	}
	return nil
}

// ServerKeyPath is where the window server's API key is kept.
func (a *App) ServerKeyPath() string { return filepath.Join(a.Home, serverKeyFile) }

// ServerKey returns the window server's API key, creating a random one
// (in a file only the user can read) the first time.
func (a *App) ServerKey() (string, error) {
	path := a.ServerKeyPath()
	key, _, err := ReadKeyFile(path)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make an API key: %w", err)
	}
	key = "ld-" + base64.RawURLEncoding.EncodeToString(b[:])
	if err := EnsureDir(a.Home); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save the API key: %w", err)
	}
	return key, nil
}
