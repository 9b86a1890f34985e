package models

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const sumA = "08a5566d61d7cb6b420c3e4387a39e0078e1f2fe5f055f3a03887385304d4bfa"

func TestEndpoint(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EndpointEnv {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		configured, env, want string
	}{
		{"", "", DefaultEndpoint},
		{"", "https://hf-mirror.example/", "https://hf-mirror.example"},
		{"http://127.0.0.1:9/", "https://ignored", "http://127.0.0.1:9"},
	} {
		if got := Endpoint(tc.configured, env(tc.env)); got != tc.want {
			t.Errorf("Endpoint(%q, env %q) = %q, want %q", tc.configured, tc.env, got, tc.want)
		}
	}
}

func TestHubFilesPagesAndCaches(t *testing.T) {
	var auth []string
	mux := http.NewServeMux()
	mux.HandleFunc("/api/models/TheBloke/Llama-2-7B-Chat-GGUF/tree/main", func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		if r.URL.Query().Get("cursor") == "" {
			w.Header().Set("Link", fmt.Sprintf(`<http://%s%s?cursor=2>; rel="next"`, r.Host, r.URL.Path))
			fmt.Fprintf(w, `[{"type":"file","path":"README.md","size":100,"oid":"abc"},
				{"type":"directory","path":"sub","size":0},
				{"type":"file","path":"llama-2-7b-chat.Q4_K_M.gguf","size":135,"lfs":{"oid":"%s","size":4081004224,"pointerSize":135}}]`, sumA)
			return
		}
		fmt.Fprint(w, `[{"type":"file","path":"LICENSE.txt","size":7020}]`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	h := &Hub{Endpoint: srv.URL, Token: "hf_secret", CacheDir: t.TempDir()}
	files, err := h.Files(context.Background(), "TheBloke/Llama-2-7B-Chat-GGUF")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("files %+v", files)
	}
	f, ok := FindRepoFile(files, "llama-2-7b-chat.Q4_K_M.gguf")
	if !ok || f.Size != 4081004224 || f.SHA256 != sumA {
		t.Errorf("LFS file %+v", f)
	}
	if r, _ := FindRepoFile(files, "README.md"); r.SHA256 != "" || r.Size != 100 {
		t.Errorf("plain file %+v", r)
	}
	if len(auth) != 2 || auth[0] != "Bearer hf_secret" {
		t.Errorf("Authorization headers %q", auth)
	}
	cached, when, err := h.CachedFiles("TheBloke/Llama-2-7B-Chat-GGUF")
	if err != nil || len(cached) != 3 || when.IsZero() {
		t.Fatalf("cache: %v %d", err, len(cached))
	}
	if _, _, err := h.CachedFiles("TheBloke/Other"); !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing cache: %v", err)
	}
	if got := h.FileURL("TheBloke/Llama-2-7B-Chat-GGUF", "llama-2-7b-chat.Q4_K_M.gguf"); got != srv.URL+"/TheBloke/Llama-2-7B-Chat-GGUF/resolve/main/llama-2-7b-chat.Q4_K_M.gguf" {
		t.Errorf("FileURL %q", got)
	}
}

func TestHubFilesErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "gated"):
			http.Error(w, "no", http.StatusUnauthorized)
		case strings.Contains(r.URL.Path, "junk"):
			fmt.Fprint(w, `{"not":"a list"}`)
		default:
			fmt.Fprint(w, `[{"type":"file","path":"x.gguf","size":1,"lfs":{"oid":"zz","size":1}}]`)
		}
	}))
	defer srv.Close()
	h := &Hub{Endpoint: srv.URL}
	for repo, want := range map[string]string{
		"meta-llama/gated": "llamadesk login",
		"a/junk":           "decode",
		"a/badoid":         "bad LFS oid",
		"not a repo":       "not a repository",
		"../../etc":        "not a repository",
	} {
		if _, err := h.Files(context.Background(), repo); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", repo, err, want)
		}
	}
}

func TestToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	noEnv := func(string) string { return "" }
	if tok, err := LoadToken(dir, noEnv); err != nil || tok != "" {
		t.Fatalf("no token: %q %v", tok, err)
	}
	if err := SaveToken(dir, "  hf_abc123\n"); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(TokenPath(dir))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("token file mode %v (%v), want 0600", fi.Mode(), err)
		}
		os.Chmod(TokenPath(dir), 0o644)
	}
	if tok, err := LoadToken(dir, noEnv); err != nil || tok != "hf_abc123" {
		t.Fatalf("load: %q %v", tok, err)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(TokenPath(dir)); fi.Mode().Perm() != 0o600 {
			t.Errorf("a token readable by others was left so: %v", fi.Mode())
		}
	}
	env := func(k string) string {
		if k == TokenEnv {
			return "hf_fromenv"
		}
		return ""
	}
	if tok, _ := LoadToken(dir, env); tok != "hf_fromenv" {
		t.Errorf("HF_TOKEN not preferred: %q", tok)
	}
	for _, bad := range []string{"", "   ", "two words", "line\nbreak", strings.Repeat("x", 5000)} {
		if err := SaveToken(dir, bad); err == nil {
			t.Errorf("token %q accepted", bad)
		}
	}
	if err := DeleteToken(dir); err != nil {
		t.Fatal(err)
	}
	if err := DeleteToken(dir); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if tok, _ := LoadToken(dir, noEnv); tok != "" {
		t.Errorf("token after logout: %q", tok)
	}
}

func FuzzParseTree(f *testing.F) {
	f.Add([]byte(`[{"type":"file","path":"a.gguf","size":3,"lfs":{"oid":"` + sumA + `","size":3}}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := parseTree(data)
		if err != nil {
			return
		}
		for _, f := range files {
			if f.Path == "" || f.Size < 0 || (f.SHA256 != "" && len(f.SHA256) != 64) {
				t.Fatalf("accepted %+v", f)
			}
		}
	})
}

// TestTokenStaysOnTheEndpointHost checks that the access token is sent to
// the configured endpoint only: a next-page link to another host is
// followed without it.
func TestTokenStaysOnTheEndpointHost(t *testing.T) {
	var elsewhere []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere = append(elsewhere, r.Header.Get("Authorization"))
		fmt.Fprint(w, `[{"type":"file","path":"LICENSE.txt","size":7020}]`)
	}))
	defer other.Close()
	var home []string
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		home = append(home, r.Header.Get("Authorization"))
		w.Header().Set("Link", fmt.Sprintf(`<%s/api/models/o/r/tree/main?cursor=2>; rel="next"`, other.URL))
		fmt.Fprint(w, `[{"type":"file","path":"README.md","size":100}]`)
	}))
	defer hub.Close()
	h := &Hub{Endpoint: hub.URL, Token: "hf_secret"}
	files, err := h.Files(context.Background(), "o/r")
	if err != nil || len(files) != 2 {
		t.Fatalf("Files = %v, %v", files, err)
	}
	if len(home) != 1 || home[0] != "Bearer hf_secret" {
		t.Errorf("the endpoint got %q", home)
	}
	if len(elsewhere) != 1 || elsewhere[0] != "" {
		t.Errorf("another host got Authorization %q", elsewhere)
	}
	for _, c := range []struct {
		url  string
		want bool
	}{
		{hub.URL + "/o/r/resolve/main/x.gguf", true},
		{other.URL + "/o/r/resolve/main/x.gguf", false},
		{strings.Replace(hub.URL, "http://", "https://", 1) + "/x", false},
		{"http://evil.example/x", false},
	} {
		if got := h.HeaderFor(c.url).Get("Authorization") != ""; got != c.want {
			t.Errorf("HeaderFor(%s) carries the token: %v, want %v", c.url, got, c.want)
		}
	}
	https := &Hub{Endpoint: "https://huggingface.co", Token: "hf_secret"}
	if https.HeaderFor("https://huggingface.co:443/a").Get("Authorization") == "" || https.HeaderFor("http://huggingface.co/a").Get("Authorization") != "" {
		t.Error("default ports or a downgrade to http are misjudged")
	}
}

// FuzzNextLink feeds Link headers to nextLink: it never panics, and what it
// returns is a piece of the header between < and >.
func FuzzNextLink(f *testing.F) {
	for _, s := range []string{
		`<https://huggingface.co/api/models/x/y/tree/main?cursor=abc>; rel="next"`,
		`<a>; rel="prev", <b>; rel="next"`,
		`<>; rel="next"`, `rel="next"`, `<x; rel="next"`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, link string) {
		next := nextLink(link)
		if next != "" && !strings.Contains(link, "<"+next+">") {
			t.Fatalf("nextLink(%q) = %q, not a <...> part of the header", link, next)
		}
	})
}
