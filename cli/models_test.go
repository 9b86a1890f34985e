package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/internal/testenv"
	"github.com/llamadesk/llamadesk/models/download"
)

// modelsCLI runs commands with a private data folder and hub endpoint.
type modelsCLI struct {
	home string
	vars map[string]string
}

func newModelsCLI(t *testing.T) *modelsCLI {
	t.Helper()
	home := t.TempDir()
	return &modelsCLI{home: home, vars: map[string]string{"LLAMADESK_HOME": home}}
}

// run executes one command and returns its exit status, stdout and stderr.
func (c *modelsCLI) run(ctx context.Context, stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return c.vars[k] }}
	code := Run(ctx, env, args)
	return code, out.String(), errOut.String()
}

// serveFile serves data at /file with Range support; each read of the
// body waits delay.
func serveFile(t *testing.T, data []byte, delay time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, &slowReader{bytes.NewReader(data), delay})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// slowReader delays every Read.
type slowReader struct {
	*bytes.Reader
	delay time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.delay)
	return s.Reader.Read(p[:min(len(p), 16<<10)])
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func testData(n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	return data
}

func TestPullURLGoodChecksum(t *testing.T) {
	c := newModelsCLI(t)
	data := testData(300 << 10)
	srv := serveFile(t, data, 0)
	out := filepath.Join(t.TempDir(), "model.gguf")
	code, stdout, stderr := c.run(context.Background(), "", "pull", "--url", srv.URL+"/file", "--sha256", strings.ToUpper(sha(data)), "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatal("the file at --out differs")
	}
	if strings.TrimSpace(stdout) != out {
		t.Errorf("stdout %q, want the path", stdout)
	}
	if !strings.Contains(stderr, "done") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	for _, p := range []string{download.PartialPath(out), download.StatePath(out)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}

func TestPullURLBadChecksum(t *testing.T) {
	c := newModelsCLI(t)
	data := testData(200 << 10)
	srv := serveFile(t, data, 0)
	out := filepath.Join(t.TempDir(), "model.gguf")
	wrong := sha([]byte("something else"))
	code, _, stderr := c.run(context.Background(), "", "pull", "--url", srv.URL+"/file", "--sha256", wrong, "--out", out)
	if code == 0 {
		t.Fatal("exit 0 for a checksum mismatch")
	}
	if !strings.Contains(stderr, "checksum mismatch (SHA-256 "+sha(data)) || !strings.Contains(stderr, wrong) {
		t.Errorf("stderr %q does not report the mismatch", stderr)
	}
	for _, p := range []string{out, download.PartialPath(out), download.StatePath(out)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists after a mismatch", filepath.Base(p))
		}
	}
}

func TestPullUsage(t *testing.T) {
	c := newModelsCLI(t)
	for _, args := range [][]string{
		{"pull"},
		{"pull", "--url", "http://127.0.0.1:1/x", "--out", "f"},
		{"pull", "--url", "http://127.0.0.1:1/x", "--sha256", sha(nil)},
		{"pull", "llama-2-7b-chat", "--url", "http://127.0.0.1:1/x", "--sha256", sha(nil), "--out", "f"},
		{"pull", "llama-2-7b-chat", "--out", "f"},
		{"pull", "--limit", "fast", "llama-2-7b-chat"},
		{"pull", "a", "b"},
		{"rm"},
		{"login"},
		{"login", "--token", "a", "--token-file", "b"},
		{"models", "--ctx", "-1"},
	} {
		if code, _, stderr := c.run(context.Background(), "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
	if code, _, stderr := c.run(context.Background(), "", "pull", "llama-9"); code != 1 || !strings.Contains(stderr, "unknown model") {
		t.Errorf("unknown model: exit %d: %s", code, stderr)
	}
}

func TestPullInterruptedThenResumed(t *testing.T) {
	c := newModelsCLI(t)
	data := testData(2 << 20)
	slow := serveFile(t, data, 25*time.Millisecond)
	out := filepath.Join(t.TempDir(), "model.gguf")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Ctrl-C once some bytes are on disk.
		for ctx.Err() == nil {
			if st, err := os.ReadFile(download.StatePath(out)); err == nil && bytes.Contains(st, []byte(`"done": `)) && !bytes.Contains(st, []byte(`"done": 0`)) {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	code, _, stderr := c.run(ctx, "", "pull", "--url", slow.URL+"/file", "--sha256", sha(data), "--out", out)
	cancel()
	if code == 0 || !strings.Contains(stderr, "paused") || !strings.Contains(stderr, "again") {
		t.Fatalf("interrupted pull: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a file at --out after an interruption")
	}
	if _, err := os.Stat(download.PartialPath(out)); err != nil {
		t.Fatalf("the partial file was not kept: %v", err)
	}
	fast := serveFile(t, data, 0)
	code, _, stderr = c.run(context.Background(), "", "pull", "--url", fast.URL+"/file", "--sha256", sha(data), "--out", out)
	if code != 0 {
		t.Fatalf("resumed pull: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatal("resumed file differs")
	}
}

// fakeHub serves one catalog file of TheBloke/Llama-2-7B-Chat-GGUF with
// the given content, and counts API calls.
func fakeHub(t *testing.T, file string, data []byte) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var api atomic.Int32
	repo := "TheBloke/Llama-2-7B-Chat-GGUF"
	mux := http.NewServeMux()
	mux.HandleFunc("/api/models/"+repo+"/tree/main", func(w http.ResponseWriter, r *http.Request) {
		api.Add(1)
		fmt.Fprintf(w, `[{"type":"file","path":%q,"size":134,"lfs":{"oid":%q,"size":%d}}]`, file, sha(data), len(data))
	})
	mux.HandleFunc("/"+repo+"/resolve/main/"+file, func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &api
}

func TestPullNameListAndRemove(t *testing.T) {
	c := newModelsCLI(t)
	data, err := os.ReadFile(testenv.Path(t, "models", "tiny-q4_k_m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	hub, api := fakeHub(t, "llama-2-7b-chat.Q4_K_M.gguf", data)
	c.vars["HF_ENDPOINT"] = hub.URL
	code, stdout, stderr := c.run(context.Background(), "", "pull", "llama-2-7b-chat:q4_k_m")
	if code != 0 {
		t.Fatalf("pull: exit %d: %s", code, stderr)
	}
	want := filepath.Join(c.home, "models", "llama-2-7b-chat.Q4_K_M.gguf")
	if strings.TrimSpace(stdout) != want || api.Load() != 1 {
		t.Fatalf("stdout %q, %d API calls", stdout, api.Load())
	}
	if !strings.Contains(stderr, "Llama 2 Community License") {
		t.Errorf("the licence is not mentioned: %s", stderr)
	}

	code, stdout, stderr = c.run(context.Background(), "", "models", "--json")
	if code != 0 {
		t.Fatalf("models --json: exit %d: %s", code, stderr)
	}
	var list struct {
		Memory  struct{ Total uint64 }
		Catalog []struct {
			Ref        string `json:"ref"`
			Downloaded bool   `json:"downloaded"`
			SizeExact  bool   `json:"size_exact"`
			Size       int64  `json:"size"`
			FitSummary string `json:"fit_summary"`
			Fit        struct {
				Verdict string `json:"verdict"`
			} `json:"fit"`
		}
		Local []struct {
			File         string `json:"file"`
			Ref          string `json:"ref"`
			Quantization string `json:"quantization"`
			FitSummary   string `json:"fit_summary"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatalf("models --json: %v\n%s", err, stdout)
	}
	if len(list.Catalog) != 72 || list.Memory.Total == 0 {
		t.Fatalf("%d catalog entries, memory %d", len(list.Catalog), list.Memory.Total)
	}
	verdicts := map[string]bool{"fits on GPU": true, "CPU only": true, "won't fit": true, "partial offload": true}
	for _, e := range list.Catalog {
		if !verdicts[e.Fit.Verdict] || e.FitSummary == "" {
			t.Errorf("%s: verdict %q", e.Ref, e.Fit.Verdict)
		}
		if e.Ref == "llama-2-7b-chat:Q4_K_M" && (!e.Downloaded || !e.SizeExact || e.Size != int64(len(data))) {
			t.Errorf("pulled entry %+v", e)
		}
	}
	if len(list.Local) != 1 || list.Local[0].Ref != "llama-2-7b-chat:Q4_K_M" || list.Local[0].Quantization != "Q4_K_M" || list.Local[0].FitSummary == "" {
		t.Fatalf("local %+v", list.Local)
	}

	code, stdout, _ = c.run(context.Background(), "", "models")
	if code != 0 || !strings.Contains(stdout, "llama-2-70b-chat:Q4_K_M *") || !strings.Contains(stdout, "downloaded") ||
		!strings.Contains(stdout, "Local models:") || strings.Contains(stdout, "llama-2-7b:Q2_K") {
		t.Errorf("models: exit %d\n%s", code, stdout)
	}
	if _, stdout, _ = c.run(context.Background(), "", "models", "--all"); !strings.Contains(stdout, "llama-2-7b:Q2_K") {
		t.Errorf("models --all misses quantizations:\n%s", stdout)
	}

	code, stdout, stderr = c.run(context.Background(), "", "rm", "llama-2-7b-chat:Q4_K_M")
	if code != 0 || !strings.Contains(stdout, "removed llama-2-7b-chat.Q4_K_M.gguf") {
		t.Fatalf("rm: exit %d: %s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(want); err == nil {
		t.Fatal("rm left the file")
	}
	if code, _, _ := c.run(context.Background(), "", "rm", "llama-2-7b-chat:Q4_K_M"); code != 1 {
		t.Errorf("rm of a missing model: exit %d", code)
	}
}

func TestLoginLogout(t *testing.T) {
	c := newModelsCLI(t)
	tokenPath := filepath.Join(c.home, "hf_token")
	check := func(want string) {
		t.Helper()
		data, err := os.ReadFile(tokenPath)
		if err != nil || strings.TrimSpace(string(data)) != want {
			t.Fatalf("token file %q (%v), want %q", data, err, want)
		}
		if fi, _ := os.Stat(tokenPath); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("token file mode %v", fi.Mode().Perm())
		}
	}
	if code, _, stderr := c.run(context.Background(), "", "login", "--token", "hf_one"); code != 0 {
		t.Fatalf("login: %s", stderr)
	}
	check("hf_one")
	file := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(file, []byte("hf_two\n"), 0o600)
	if code, stdout, stderr := c.run(context.Background(), "", "login", "--token-file", file); code != 0 || !strings.Contains(stdout, "readable only by you") {
		t.Fatalf("login --token-file: %s%s", stdout, stderr)
	}
	check("hf_two")
	if code, _, stderr := c.run(context.Background(), "hf_three\n", "login", "--token-file", "-"); code != 0 {
		t.Fatalf("login from stdin: %s", stderr)
	}
	check("hf_three")
	if code, _, _ := c.run(context.Background(), "", "login", "--token", "has space"); code != 1 {
		t.Error("a token with a space was accepted")
	}
	if code, _, _ := c.run(context.Background(), "", "logout"); code != 0 {
		t.Fatal("logout failed")
	}
	if _, err := os.Stat(tokenPath); err == nil {
		t.Error("logout kept the token")
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{
		"": 0, "0": 0, "1000": 1000, "500k": 500_000, "5M": 5_000_000, "2Mi": 2 << 20,
		"1.5MB/s": 1_500_000, "1G": 1_000_000_000, "64KiB": 64 << 10,
	} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"fast", "-5M", "5X", "1e20"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) accepted", bad)
		}
	}
}

func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	bar := &progressBar{w: &buf, every: time.Hour, lastState: -1}
	p := download.Progress{Name: "m", State: download.StateDownloading, Done: 500, Total: 1000, Speed: 100, ETA: 5 * time.Second}
	bar.update(p)
	bar.update(p) // within the interval: not drawn
	p.State, p.Done = download.StateVerifying, 250
	bar.update(p)
	p.State, p.Done = download.StateDone, 1000
	bar.update(p)
	bar.finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "50.0%") || !strings.Contains(lines[0], "ETA 5s") ||
		!strings.Contains(lines[1], "verifying SHA-256") || !strings.Contains(lines[2], "done") {
		t.Errorf("progress lines:\n%s", buf.String())
	}
	buf.Reset()
	tty := &progressBar{w: &buf, tty: true, every: time.Hour, lastState: -1}
	tty.update(download.Progress{Name: "a-long-name", State: download.StateQueued})
	tty.update(download.Progress{Name: "a-long-name", State: download.StateDone, Total: 1})
	tty.finish()
	if s := buf.String(); strings.Count(s, "\r") != 2 || !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("terminal output %q: want lines rewritten in place", s)
	}
}
