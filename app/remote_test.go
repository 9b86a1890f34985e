package app_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/history"
	"github.com/llamadesk/llamadesk/internal/testenv"
	"github.com/llamadesk/llamadesk/models"
	"github.com/llamadesk/llamadesk/server"
)

// openTestApp opens an App in a temporary data folder.
func openTestApp(t *testing.T) *app.App {
	t.Helper()
	home := t.TempDir()
	a, err := app.Open(func(k string) string {
		if k == app.HomeEnv {
			return home
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// serveModels runs a Llamadesk server (the remote) on a loopback port,
// serving the shared chat model, and returns its base URL.
func serveModels(t *testing.T, key string) (*server.Server, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(testenv.Path(t, "models", "chat-q4_k_m.gguf"), filepath.Join(dir, "chat-q4_k_m.gguf")); err != nil {
		t.Fatal(err)
	}
	r, err := server.Start(server.Config{Library: &models.Library{Dir: dir}, Load: app.LoadOptions{Backend: "cpu", Threads: 1},
		ContextSize: 512, APIKey: key}, "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop() })
	return r.Server, r.URL()
}

func TestRemotesAreKeptApartFromTheirKeys(t *testing.T) {
	a := openTestApp(t)
	r := a.Remotes()
	if _, err := r.Add("box", "http://box.lan:8080/", "sk-secret", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add("open", "https://api.example.com/v1", "", false); err != nil {
		t.Fatal(err)
	}
	list, err := r.List()
	if err != nil || len(list) != 2 || list[0] != (app.Remote{Name: "box", URL: "http://box.lan:8080", HasKey: true}) ||
		list[1] != (app.Remote{Name: "open", URL: "https://api.example.com/v1"}) {
		t.Fatalf("list %+v (%v)", list, err)
	}
	listFile, _ := os.ReadFile(filepath.Join(a.Home, "remotes.json"))
	if bytes.Contains(listFile, []byte("sk-secret")) {
		t.Fatalf("the key is in remotes.json: %s", listFile)
	}
	keyFile := filepath.Join(a.Home, "remote-keys", "box")
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v (%v), want mode 0600", fi, err)
	}
	db, _ := os.ReadFile(a.HistoryPath())
	if bytes.Contains(db, []byte("sk-secret")) {
		t.Fatal("the key is in the database")
	}
	if _, err := r.Add("box", "http://other:1", "", false); err == nil {
		t.Fatal("a second box was added without replace")
	}
	if _, err := r.Add("box", "http://other:1", "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("replacing without a key left the old key: %v", err)
	}
	if err := r.Remove("box"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("box"); !errors.Is(err, app.ErrNoRemote) {
		t.Fatalf("after rm: %v", err)
	}
	for _, c := range []struct{ name, url, says string }{
		{"../x", "http://a", "remote name"},
		{"a/b", "http://a", "remote name"},
		{"ok", "ftp://a", "http://"},
		{"ok", "http://user:pw@a", "credentials"},
		{"ok", "http://a/v1?x=1", "query"},
		{"ok", "http:///v1", "no host"},
	} {
		if _, err := r.Add(c.name, c.url, "", false); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("add %s %s: %v, want it to say %q", c.name, c.url, err, c.says)
		}
	}
	if err := os.WriteFile(filepath.Join(a.Home, "remotes.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.List(); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged list: %v", err)
	}
}

func TestParseRemoteRef(t *testing.T) {
	for _, c := range []struct {
		in, name, model string
		ok              bool
	}{
		{"remote:box/llama-2-70b-chat", "box", "llama-2-70b-chat", true},
		{"remote:box/meta-llama/Llama-2-7b-chat-hf", "box", "meta-llama/Llama-2-7b-chat-hf", true},
		{"remote:box/tiny-chat:Q4_K_M", "box", "tiny-chat:Q4_K_M", true},
		{"remote:box", "", "", false}, {"remote:/m", "", "", false}, {"box/m", "", "", false},
	} {
		name, model, ok := app.ParseRemoteRef(c.in)
		if name != c.name || model != c.model || ok != c.ok {
			t.Errorf("%q: %q %q %v", c.in, name, model, ok)
		}
	}
}

// localReply is the reply the engine gives here to a conversation, for
// comparing with what comes through the remote.
func localReply(t *testing.T, system, text string, opts app.ReplyOptions) *app.ReplyResult {
	t.Helper()
	a := openTestApp(t)
	lm, err := app.LoadModel(testenv.Path(t, "models", "chat-q4_k_m.gguf"), app.LoadOptions{Backend: "cpu", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := app.NewLocalResponder(lm, 512)
	if err != nil {
		t.Fatal(err)
	}
	a.Chat().SetResponder(r)
	res, err := a.Chat().Start(context.Background(), history.NewConversation{SystemPrompt: &system}, text, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRemoteModelIsANormalConversation(t *testing.T) {
	srv, url := serveModels(t, "k3y")
	a := openTestApp(t)
	if _, err := a.Remotes().Add("box", url, "k3y", false); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	all, err := a.Remotes().AllModels(ctx)
	if err != nil || len(all) != 1 || all[0].Err != "" || len(all[0].Models) != 1 || all[0].Models[0] != "remote:box/chat-q4_k_m.gguf" {
		t.Fatalf("models %+v (%v)", all, err)
	}
	r, err := a.Remotes().Responder("remote:box/chat-q4_k_m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	c := a.Chat()
	c.SetResponder(r)
	opts := app.ReplyOptions{Sampling: history.Sampling{Temperature: history.Ptr(0.0), MaxTokens: history.Ptr(12)}, Queue: true}
	system := "You are a poet."
	var streamed strings.Builder
	res, err := c.Start(ctx, history.NewConversation{SystemPrompt: &system}, "Tell me of the zephyr", opts, func(e app.ReplyEvent) {
		if e.Kind == app.EventText {
			streamed.WriteString(e.Text)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := localReply(t, system, "Tell me of the zephyr", opts)
	if res.Reply != want.Reply || streamed.String() != want.Reply || res.StopReason != want.StopReason {
		t.Errorf("remote reply %q (%s), streamed %q; the engine here says %q (%s)", res.Reply, res.StopReason, streamed.String(), want.Reply, want.StopReason)
	}
	if res.Model != "remote:box/chat-q4_k_m.gguf" || res.Stats.PromptTokens != 34 || res.Stats.GeneratedTokens != want.Stats.GeneratedTokens ||
		res.Stats.TimeToFirstMS <= 0 || res.Stats.TotalMS <= 0 {
		t.Errorf("result %+v", res)
	}
	// History, search and export work as for a local model.
	th, err := c.Open(ctx, res.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	if th.Conversation.Model != "remote:box/chat-q4_k_m.gguf" || len(th.Messages) != 2 || th.Messages[1].Content != want.Reply ||
		th.Messages[1].Status != history.StatusDone || th.Messages[1].Stats.GeneratedTokens != want.Stats.GeneratedTokens {
		t.Fatalf("saved %+v", th)
	}
	hits, err := c.Search(ctx, "zephyr", 10)
	if err != nil || len(hits) != 1 || hits[0].ConversationID != res.ConversationID {
		t.Fatalf("search: %+v (%v)", hits, err)
	}
	var md bytes.Buffer
	if err := c.Export(ctx, &md, res.ConversationID, history.FormatMarkdown); err != nil || !strings.Contains(md.String(), "You are a poet.") || !strings.Contains(md.String(), want.Reply) {
		t.Fatalf("export: %v\n%s", err, md.String())
	}
	// A second turn carries the first.
	res2, err := c.Send(ctx, res.ConversationID, "And of the sea?", opts, nil)
	if err != nil || res2.Stats.PromptTokens <= 34 {
		t.Fatalf("second turn: %+v (%v)", res2, err)
	}
	// The server's handlers end just after the streams they sent.
	if !waitUntil(2*time.Second, func() bool { return srv.Status().InFlight == 0 }) {
		t.Errorf("in flight after the replies: %d", srv.Status().InFlight)
	}
}

func TestRemoteStopClosesTheStream(t *testing.T) {
	srv, url := serveModels(t, "")
	a := openTestApp(t)
	a.Remotes().Add("box", url, "", false)
	r, err := a.Remotes().Responder("remote:box/chat-q4_k_m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	c := a.Chat()
	c.SetResponder(r)
	ctx, cancel := context.WithCancel(context.Background())
	var stoppedAt time.Time
	res, err := c.Start(ctx, history.NewConversation{}, "Write a long story.",
		app.ReplyOptions{Sampling: history.Sampling{Temperature: history.Ptr(0.0), MaxTokens: history.Ptr(450)}},
		func(e app.ReplyEvent) {
			if e.Kind == app.EventText && e.Live.Tokens == 3 {
				stoppedAt = time.Now()
				cancel()
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != app.StopCancelled || res.Reply == "" || res.Stats.GeneratedTokens >= 450 {
		t.Fatalf("stopped reply %+v", res)
	}
	// The server stopped generating: the stream was closed.
	if !waitUntil(2*time.Second, func() bool { return srv.Status().InFlight == 0 }) {
		t.Fatal("the remote still generates after Stop")
	}
	t.Logf("the remote stopped %v after Stop", time.Since(stoppedAt))
	th, _ := c.Open(context.Background(), res.ConversationID)
	if m := th.Messages[1]; m.Status != history.StatusCancelled || m.Content != res.Reply {
		t.Fatalf("saved %+v", m)
	}
}

func TestRemoteErrorsInWords(t *testing.T) {
	_, url := serveModels(t, "right")
	a := openTestApp(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + closed.Addr().String()
	closed.Close()
	a.Remotes().Add("down", deadURL, "", false)
	a.Remotes().Add("nokey", url, "", false)
	a.Remotes().Add("wrongkey", url, "wrong", false)
	a.Remotes().Add("ok", url, "right", false)
	for _, c := range []struct {
		ref  string
		says []string
	}{
		{"remote:down/m", []string{"cannot reach remote down", "connection refused"}},
		{"remote:nokey/chat-q4_k_m.gguf", []string{"answered 401 Unauthorized", "missing or wrong API key", "--api-key-file"}},
		{"remote:wrongkey/chat-q4_k_m.gguf", []string{"answered 401", "check the API key"}},
		{"remote:ok/llama-9000", []string{"answered 404 Not Found", "does not exist"}},
	} {
		t.Run(c.ref, func(t *testing.T) {
			r, err := a.Remotes().Responder(c.ref)
			if err != nil {
				t.Fatal(err)
			}
			chat := a.Chat()
			chat.SetResponder(r)
			_, err = chat.Start(context.Background(), history.NewConversation{}, "Hello, are you there?", app.ReplyOptions{Queue: true}, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "right") && c.ref != "remote:ok/llama-9000" {
				t.Errorf("the key is in the error: %v", err)
			}
		})
	}
	// Nothing typed was lost: each message is saved, with its failed reply.
	hits, err := a.Chat().Search(context.Background(), "there", 10)
	if err != nil || len(hits) != 4 {
		t.Fatalf("saved messages: %d (%v), want 4", len(hits), err)
	}
	if _, err := a.Remotes().Responder("remote:nobody/m"); !errors.Is(err, app.ErrNoRemote) {
		t.Fatalf("unknown remote: %v", err)
	}
}

func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return cond()
}
