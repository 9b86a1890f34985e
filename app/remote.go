package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/llamadesk/llamadesk/internal/atomicfile"
)

// Remote servers: OpenAI-compatible servers (llama.cpp's llama-server,
// vLLM, Ollama, another Llamadesk, a hosted API) whose models can be
// chatted with like local ones. Their list is the file remotes.json in the
// data folder; each key is a file of the folder remote-keys (mode 0600),
// never in the database or in a log.

// remotesFile and remoteKeysDir are where remote servers are kept in the data folder.
const (
	remotesFile   = "remotes.json"
	remoteKeysDir = "remote-keys"
)

// RemotePrefix starts a remote model's name: "remote:NAME/MODEL".
const RemotePrefix = "remote:"

// Remote is a remote server.
type Remote struct {
	// Name is what the person calls it; remote models are NAME/MODEL.
	Name string `json:"name"`
	// URL is its OpenAI base URL, such as http://box:8080/v1 (a URL
	// without a path gets /v1).
	URL string `json:"url"`
	// HasKey says whether an API key is stored for it.
	HasKey bool `json:"has_key"`
}

// Remotes manages the remote servers of a data folder. Get it from App.Remotes.
type Remotes struct {
	home string
	// Client makes the requests (a default with timeouts when nil).
	Client *http.Client
}

// Remotes returns the remote servers of the App's data folder.
func (a *App) Remotes() *Remotes { return &Remotes{home: a.Home} }

// NewRemotes returns the remote servers kept in the data folder home.
func NewRemotes(home string) *Remotes { return &Remotes{home: home} }

// ErrNoRemote is wrapped by the errors for a remote name that is not set up.
var ErrNoRemote = errors.New("no such remote server")

var remoteName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckRemoteName refuses a name that cannot name a remote: it must start
// with a letter or digit and hold only letters, digits, '.', '_' and '-'
// (at most 64), so that NAME/MODEL splits at the first '/' and the key's
// file name is safe.
func CheckRemoteName(name string) error {
	if !remoteName.MatchString(name) {
		return fmt.Errorf("remote name %q: use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)", name)
	}
	return nil
}

// NormalizeRemoteURL checks a base URL and returns it in the form kept:
// http or https, a host, no credentials, query or fragment, no trailing
// slash.
func NormalizeRemoteURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("URL %q: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("URL %q: want http:// or https://", raw)
	case u.Host == "":
		return "", fmt.Errorf("URL %q has no host", raw)
	case u.User != nil:
		return "", fmt.Errorf("URL %q holds credentials: give the key with --api-key-file instead, so that it is kept private", raw)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("URL %q: a base URL has no query or fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// ParseRemoteRef splits "remote:NAME/MODEL" into NAME and MODEL; ok is
// false when s is not a remote model's name.
func ParseRemoteRef(s string) (name, model string, ok bool) {
	rest, found := strings.CutPrefix(s, RemotePrefix)
	if !found {
		return "", "", false
	}
	name, model, found = strings.Cut(rest, "/")
	if !found || name == "" || model == "" {
		return "", "", false
	}
	return name, model, true
}

// RemoteRef returns the name of a remote model: "remote:NAME/MODEL".
func RemoteRef(name, model string) string { return RemotePrefix + name + "/" + model }

func (r *Remotes) listPath() string { return filepath.Join(r.home, remotesFile) }

func (r *Remotes) keyPath(name string) string { return filepath.Join(r.home, remoteKeysDir, name) }

// load reads the list of remotes (empty when there is none yet).
func (r *Remotes) load() ([]Remote, error) {
	data, err := os.ReadFile(r.listPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read remote servers: %w", err)
	}
	var file struct {
		Remotes []Remote `json:"remotes"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("read remote servers: %s is damaged (%v); fix or delete it", r.listPath(), err)
	}
	var out []Remote
	for _, rm := range file.Remotes {
		if CheckRemoteName(rm.Name) != nil {
			continue
		}
		if u, err := NormalizeRemoteURL(rm.URL); err == nil {
			rm.URL = u
			_, err := os.Stat(r.keyPath(rm.Name))
			rm.HasKey = err == nil
			out = append(out, rm)
		}
	}
	return out, nil
}

// save writes the list of remotes.
func (r *Remotes) save(list []Remote) error {
	type entry struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	}
	file := struct {
		Remotes []entry `json:"remotes"`
	}{Remotes: []entry{}}
	for _, rm := range list {
		file.Remotes = append(file.Remotes, entry{rm.Name, rm.URL})
	}
	data, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return err
	}
	if err := EnsureDir(r.home); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(r.listPath(), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save remote servers: %w", err)
	}
	return nil
}

// List returns the remote servers, sorted by name.
func (r *Remotes) List() ([]Remote, error) {
	list, err := r.load()
	slices.SortFunc(list, func(a, b Remote) int { return strings.Compare(a.Name, b.Name) })
	return list, err
}

// Get returns the remote server called name.
func (r *Remotes) Get(name string) (Remote, error) {
	list, err := r.load()
	if err != nil {
		return Remote{}, err
	}
	for _, rm := range list {
		if rm.Name == name {
			return rm, nil
		}
	}
	return Remote{}, fmt.Errorf("%w %q (see `llamadesk remote list`)", ErrNoRemote, name)
}

// Add sets up a remote server with an API key ("" for none), replacing one
// of the same name only when replace is set. The key goes to a file only
// the user can read.
func (r *Remotes) Add(name, rawURL, key string, replace bool) (Remote, error) {
	if err := CheckRemoteName(name); err != nil {
		return Remote{}, err
	}
	u, err := NormalizeRemoteURL(rawURL)
	if err != nil {
		return Remote{}, err
	}
	if key != "" {
		if err := CheckAPIKey(key); err != nil {
			return Remote{}, err
		}
	}
	list, err := r.load()
	if err != nil {
		return Remote{}, err
	}
	i := slices.IndexFunc(list, func(rm Remote) bool { return rm.Name == name })
	if i >= 0 && !replace {
		return Remote{}, fmt.Errorf("a remote server called %q exists already (at %s); remove it first or replace it", name, list[i].URL)
	}
	rm := Remote{Name: name, URL: u, HasKey: key != ""}
	if key != "" {
		if err := os.MkdirAll(filepath.Join(r.home, remoteKeysDir), 0o700); err != nil {
			return Remote{}, fmt.Errorf("save the key: %w", err)
		}
		if err := atomicfile.WriteFile(r.keyPath(name), []byte(key+"\n"), 0o600); err != nil {
			return Remote{}, fmt.Errorf("save the key: %w", err)
		}
	} else if err := os.Remove(r.keyPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Remote{}, fmt.Errorf("remove the old key: %w", err)
	}
	if i >= 0 {
		list[i] = rm
	} else {
		list = append(list, rm)
	}
	return rm, r.save(list)
}

// Remove forgets a remote server and deletes its key.
func (r *Remotes) Remove(name string) error {
	list, err := r.load()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(rm Remote) bool { return rm.Name == name })
	if i < 0 {
		return fmt.Errorf("%w %q", ErrNoRemote, name)
	}
	if err := os.Remove(r.keyPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the key of %s: %w", name, err)
	}
	return r.save(slices.Delete(list, i, i+1))
}

// key reads a remote's API key ("" when it has none).
func (r *Remotes) key(name string) (string, error) {
	key, _, err := ReadKeyFile(r.keyPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return key, err
}

// client returns the remote server called name and the client that talks
// to it.
func (r *Remotes) client(name string) (Remote, *remoteClient, error) {
	rm, err := r.Get(name)
	if err != nil {
		return rm, nil, err
	}
	key, err := r.key(rm.Name)
	if err != nil {
		return rm, nil, err
	}
	c, err := newRemoteClient(rm, key, r.Client)
	return rm, c, err
}

// Models lists the models a remote server offers (its /v1/models).
func (r *Remotes) Models(ctx context.Context, name string) ([]string, error) {
	_, c, err := r.client(name)
	if err != nil {
		return nil, err
	}
	return c.models(ctx)
}

// RemoteModels are one remote server's models, or why they could not be listed.
type RemoteModels struct {
	Remote Remote `json:"remote"`
	// Models are the remote models' full names, "remote:NAME/MODEL".
	Models []string `json:"models"`
	Err    string   `json:"error,omitempty"`
}

// AllModels lists the models of every remote server, asking them at once
// (for the model picker). A server that cannot be reached has Err set.
func (r *Remotes) AllModels(ctx context.Context) ([]RemoteModels, error) {
	list, err := r.List()
	if err != nil {
		return nil, err
	}
	out := make([]RemoteModels, len(list))
	done := make(chan struct{})
	for i, rm := range list {
		go func() {
			defer func() { done <- struct{}{} }()
			out[i] = RemoteModels{Remote: rm, Models: []string{}}
			names, err := r.Models(ctx, rm.Name)
			if err != nil {
				out[i].Err = err.Error()
				return
			}
			for _, m := range names {
				out[i].Models = append(out[i].Models, RemoteRef(rm.Name, m))
			}
		}()
	}
	for range list {
		<-done
	}
	return out, nil
}

// Responder returns a Responder for the remote model ref
// ("remote:NAME/MODEL"). It checks the name but does not go online: the
// first reply does.
func (r *Remotes) Responder(ref string) (*RemoteResponder, error) {
	name, model, ok := ParseRemoteRef(ref)
	if !ok {
		return nil, fmt.Errorf("%q is not a remote model: want remote:NAME/MODEL", ref)
	}
	rm, c, err := r.client(name)
	if err != nil {
		return nil, err
	}
	return &RemoteResponder{remote: rm, model: model, client: c}, nil
}
