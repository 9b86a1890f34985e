package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/llamadesk/llamadesk/internal/atomicfile"
)

// DefaultEndpoint is the Hugging Face hub.
const DefaultEndpoint = "https://huggingface.co"

// EndpointEnv names the environment variable that points the hub client at
// a mirror, as the Hugging Face tools do.
const EndpointEnv = "HF_ENDPOINT"

// TokenEnv names the environment variable that supplies an access token
// instead of the stored one.
const TokenEnv = "HF_TOKEN"

// Endpoint returns the hub endpoint to use: configured when not empty, else
// $HF_ENDPOINT, else DefaultEndpoint; without a trailing slash.
func Endpoint(configured string, getenv func(string) string) string {
	e := configured
	if e == "" && getenv != nil {
		e = getenv(EndpointEnv)
	}
	if e == "" {
		e = DefaultEndpoint
	}
	return strings.TrimRight(e, "/")
}

// RepoFile is one file of a hub repository as the hub's API lists it.
type RepoFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// SHA256 is the file's checksum (hex) for files kept in Git LFS; empty otherwise.
	SHA256 string `json:"sha256,omitempty"`
}

// Hub talks to a Hugging Face hub: it lists repository files with their
// exact sizes and checksums (cached on disk) and builds download URLs.
type Hub struct {
	// Endpoint is the hub's base URL, such as https://huggingface.co.
	Endpoint string
	// Token is sent as a bearer token when not empty (for gated repositories).
	Token string
	// Client makes the requests (http.DefaultClient when nil).
	Client *http.Client
	// CacheDir keeps the file lists fetched (no cache when empty).
	CacheDir string
}

// repoPattern is what a repository name may look like.
var repoPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)

// FileURL returns the download URL of a file in a repository's main branch.
func (h *Hub) FileURL(repo, file string) string {
	return h.Endpoint + "/" + repo + "/resolve/main/" + url.PathEscape(file)
}

// Header returns the request headers for the hub: the bearer token, if any.
// Use it only for URLs on the endpoint's host (see HeaderFor).
func (h *Hub) Header() http.Header {
	hdr := http.Header{}
	if h.Token != "" {
		hdr.Set("Authorization", "Bearer "+h.Token)
	}
	return hdr
}

// HeaderFor returns the request headers for rawURL: the bearer token only
// when rawURL is on the endpoint's own host (same scheme, host and port),
// never for a link or mirror elsewhere, nor over plain HTTP when the
// endpoint is HTTPS.
func (h *Hub) HeaderFor(rawURL string) http.Header {
	if !h.SameHost(rawURL) {
		return http.Header{}
	}
	return h.Header()
}

// SameHost reports whether rawURL has the endpoint's scheme, host and port.
func (h *Hub) SameHost(rawURL string) bool {
	e, err1 := url.Parse(h.Endpoint)
	u, err2 := url.Parse(rawURL)
	if err1 != nil || err2 != nil || e.Host == "" {
		return false
	}
	return strings.EqualFold(u.Scheme, e.Scheme) && strings.EqualFold(hostPort(u), hostPort(e))
}

// hostPort returns u's host with its port, the scheme's default when none.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.TrimSuffix(u.Hostname(), ".") + ":" + port
}

// treeEntry is one element of the hub's tree API answer.
type treeEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	Size int64  `json:"size"`
	LFS  *struct {
		OID  string `json:"oid"`
		Size int64  `json:"size"`
	} `json:"lfs"`
}

// Files lists the files of a repository's main branch from the hub's API
// (GET {endpoint}/api/models/{repo}/tree/main) and caches the list.
func (h *Hub) Files(ctx context.Context, repo string) ([]RepoFile, error) {
	if !repoPattern.MatchString(repo) {
		return nil, fmt.Errorf("list %q: not a repository name (owner/name)", repo)
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	next := h.Endpoint + "/api/models/" + repo + "/tree/main"
	var files []RepoFile
	for page := 0; next != "" && page < 100; page++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", repo, err)
		}
		req.Header = h.HeaderFor(next) // the token stays on the endpoint's host
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("list %s on %s: %w", repo, h.Endpoint, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", repo, err)
		}
		if resp.StatusCode != http.StatusOK {
			msg := fmt.Sprintf("list %s on %s: HTTP %d", repo, h.Endpoint, resp.StatusCode)
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				msg += " (the repository may be gated: accept its licence on the website, then store a token with `llamadesk login`)"
			}
			return nil, errors.New(msg)
		}
		page, err := parseTree(body)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", repo, err)
		}
		files = append(files, page...)
		next = ""
		if link := nextLink(resp.Header.Get("Link")); link != "" {
			u, err := resp.Request.URL.Parse(link) // relative links are relative to this page
			if err != nil {
				return nil, fmt.Errorf("list %s: bad next page link %q: %w", repo, link, err)
			}
			next = u.String()
		}
	}
	if h.CacheDir != "" {
		if err := h.saveCache(repo, files); err != nil {
			return files, err
		}
	}
	return files, nil
}

// parseTree decodes one page of the tree API.
func parseTree(body []byte) ([]RepoFile, error) {
	var entries []treeEntry
	if err := json.Unmarshal(body, &entries); err != nil {
		return nil, fmt.Errorf("decode file list: %w", err)
	}
	var files []RepoFile
	for _, e := range entries {
		if e.Type != "file" {
			continue
		}
		if e.Path == "" || e.Size < 0 {
			return nil, fmt.Errorf("file list has a bad entry %q (size %d)", e.Path, e.Size)
		}
		f := RepoFile{Path: e.Path, Size: e.Size}
		if e.LFS != nil {
			oid := strings.ToLower(strings.TrimPrefix(e.LFS.OID, "sha256:"))
			if len(oid) != 64 || strings.Trim(oid, "0123456789abcdef") != "" {
				return nil, fmt.Errorf("file list: %s has a bad LFS oid %q", e.Path, e.LFS.OID)
			}
			f.SHA256 = oid
			if e.LFS.Size > 0 {
				f.Size = e.LFS.Size
			}
		}
		files = append(files, f)
	}
	return files, nil
}

// nextLink returns the rel="next" URL of a Link header, or "".
func nextLink(link string) string {
	for part := range strings.SplitSeq(link, ",") {
		target, params, ok := strings.Cut(part, ";")
		if !ok || !strings.Contains(params, `rel="next"`) {
			continue
		}
		target = strings.TrimSpace(target)
		if strings.HasPrefix(target, "<") && strings.HasSuffix(target, ">") {
			return target[1 : len(target)-1]
		}
	}
	return ""
}

// hubCache is the on-disk form of a cached file list.
type hubCache struct {
	Endpoint string     `json:"endpoint"`
	Repo     string     `json:"repo"`
	Fetched  time.Time  `json:"fetched"`
	Files    []RepoFile `json:"files"`
}

func (h *Hub) cachePath(repo string) string {
	return filepath.Join(h.CacheDir, strings.ReplaceAll(repo, "/", "--")+".json")
}

func (h *Hub) saveCache(repo string, files []RepoFile) error {
	data, err := json.MarshalIndent(hubCache{Endpoint: h.Endpoint, Repo: repo, Fetched: time.Now().UTC(), Files: files}, "", " ")
	if err != nil {
		return fmt.Errorf("cache %s: %w", repo, err)
	}
	if err := os.MkdirAll(h.CacheDir, 0o700); err != nil {
		return fmt.Errorf("cache %s: %w", repo, err)
	}
	if err := atomicfile.WriteFile(h.cachePath(repo), data, 0o600); err != nil {
		return fmt.Errorf("cache %s: %w", repo, err)
	}
	return nil
}

// CachedFiles returns the file list last fetched for repo, and when it was
// fetched. It returns os.ErrNotExist (wrapped) when there is none.
func (h *Hub) CachedFiles(repo string) ([]RepoFile, time.Time, error) {
	if h.CacheDir == "" || !repoPattern.MatchString(repo) {
		return nil, time.Time{}, fmt.Errorf("cached list of %s: %w", repo, os.ErrNotExist)
	}
	data, err := os.ReadFile(h.cachePath(repo))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("cached list of %s: %w", repo, err)
	}
	var c hubCache
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, time.Time{}, fmt.Errorf("cached list of %s: %w", repo, err)
	}
	if c.Repo != repo {
		return nil, time.Time{}, fmt.Errorf("cached list of %s: %w", repo, os.ErrNotExist)
	}
	return c.Files, c.Fetched, nil
}

// FindRepoFile returns the entry for path in files.
func FindRepoFile(files []RepoFile, path string) (RepoFile, bool) {
	for _, f := range files {
		if f.Path == path {
			return f, true
		}
	}
	return RepoFile{}, false
}

// tokenFile is the name of the access token file inside the data folder.
const tokenFile = "hf_token"

// TokenPath returns where the access token is kept in a data folder.
func TokenPath(dataDir string) string { return filepath.Join(dataDir, tokenFile) }

// SaveToken stores a hub access token in the data folder, in a file only the
// user can read (mode 0600), never in a database.
func SaveToken(dataDir, token string) error {
	token = strings.TrimSpace(token)
	if err := checkToken(token); err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	if err := atomicfile.WriteFile(TokenPath(dataDir), []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	return nil
}

// checkToken refuses what cannot be a token: empty, too long, or holding
// spaces or control characters.
func checkToken(token string) error {
	if token == "" {
		return errors.New("the access token is empty")
	}
	if len(token) > 4096 || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("the access token has spaces or control characters, or is too long")
	}
	return nil
}

// LoadToken returns the access token: $HF_TOKEN when set, else the stored
// one, else "". A stored token readable by others is made private again.
func LoadToken(dataDir string, getenv func(string) string) (string, error) {
	if getenv != nil {
		if t := strings.TrimSpace(getenv(TokenEnv)); t != "" {
			return t, checkToken(t)
		}
	}
	p := TokenPath(dataDir)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	if err := keepPrivate(p); err != nil {
		return "", err
	}
	t := strings.TrimSpace(string(data))
	if err := checkToken(t); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return t, nil
}

// DeleteToken removes the stored access token; there being none is fine.
func DeleteToken(dataDir string) error {
	if err := os.Remove(TokenPath(dataDir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete token: %w", err)
	}
	return nil
}
