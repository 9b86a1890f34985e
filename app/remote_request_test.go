package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/app"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/history"
)

// hello is a one-message conversation.
var hello = chat.Conversation{Messages: []chat.Message{{Role: chat.User, Content: "Hello"}}}

// remoteResponder returns the Responder of model on a remote at url.
func remoteResponder(t *testing.T, url, model string) *app.RemoteResponder {
	t.Helper()
	a := openTestApp(t)
	if _, err := a.Remotes().Add("box", url, "", false); err != nil {
		t.Fatal(err)
	}
	r, err := a.Remotes().Responder("remote:box/" + model)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A reply without a token limit (chat -n -1) leaves max_tokens out, so that
// the server's own limit applies; a limit is sent as it is.
func TestRemoteNoTokenLimitLeavesMaxTokensOut(t *testing.T) {
	bodies := make(chan map[string]any, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(data, &body); err != nil {
			t.Errorf("request body %s: %v", data, err)
		}
		bodies <- body
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	r := remoteResponder(t, srv.URL, "m")
	for _, c := range []struct {
		name      string
		maxTokens *int
		want      any // the max_tokens sent; nil: none
	}{
		{"unset", nil, nil},
		{"a limit", history.Ptr(12), 12.0},
		{"no limit (-n -1)", history.Ptr(math.MaxInt32), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := r.Respond(context.Background(), app.ReplyRequest{Conversation: hello,
				Sampling: history.Sampling{MaxTokens: c.maxTokens}}, func(app.Delta) {})
			if err != nil {
				t.Fatal(err)
			}
			body := <-bodies
			if got, sent := body["max_tokens"]; got != c.want || (c.want == nil && sent) {
				t.Errorf("max_tokens %v (sent: %v), want %v", got, sent, c.want)
			}
		})
	}

	// Our own server refuses a max_tokens over its context, as OpenAI does:
	// with no limit the reply starts.
	_, url := serveModels(t, "")
	ours := remoteResponder(t, url, "chat-q4_k_m.gguf")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := ours.Respond(ctx, app.ReplyRequest{Conversation: hello,
		Sampling: history.Sampling{Temperature: history.Ptr(0.0), MaxTokens: history.Ptr(math.MaxInt32)}},
		func(d app.Delta) {
			if d.Text != "" {
				cancel()
			}
		})
	if err != nil || res.Text == "" {
		t.Fatalf("no limit on our server: %+v (%v)", res, err)
	}
}

// A remote's refusal of a conversation too long for its context unwraps to
// chat.ErrContextFull and keeps the server's message; other refusals do not.
func TestRemoteContextFullIsErrContextFull(t *testing.T) {
	bodies := map[string]string{
		"/openai/v1/chat/completions":   `{"error":{"message":"This model's maximum context length is 4097 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
		"/llamacpp/v1/chat/completions": `{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}`,
		"/other/v1/chat/completions":    `{"error":{"code":400,"message":"bad temperature","type":"invalid_request_error"}}`,
		"/ollama/v1/chat/completions":   `{"error":"model is required"}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, bodies[r.URL.Path])
	}))
	defer srv.Close()
	_, ourURL := serveModels(t, "")
	long := strings.Repeat("The wind blows over the hills and far away. ", 80)
	for _, c := range []struct {
		name, url, model string
		full             bool
		says             string
	}{
		{"our server", ourURL, "chat-q4_k_m.gguf", true, "maximum context length is 512 tokens"},
		{"OpenAI", srv.URL + "/openai/v1", "m", true, "maximum context length is 4097 tokens"},
		{"llama.cpp", srv.URL + "/llamacpp/v1", "m", true, "exceeds the available context size"},
		{"another refusal", srv.URL + "/other/v1", "m", false, "bad temperature"},
		{"Ollama's shape", srv.URL + "/ollama/v1", "m", false, "model is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := remoteResponder(t, c.url, c.model)
			conv := chat.Conversation{Messages: []chat.Message{{Role: chat.User, Content: long}}}
			_, err := r.Respond(context.Background(), app.ReplyRequest{Conversation: conv}, func(app.Delta) {})
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, chat.ErrContextFull) != c.full {
				t.Errorf("errors.Is(%q, chat.ErrContextFull) = %v, want %v", err, !c.full, c.full)
			}
			var re *app.RemoteError
			if !errors.As(err, &re) || re.Status != http.StatusBadRequest || !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %q (%#v): want a 400 RemoteError saying %q", err, re, c.says)
			}
		})
	}
}
