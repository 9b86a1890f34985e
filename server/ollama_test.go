package server

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/engine/chat"
)

type ollamaOut struct {
	Model     string `json:"model"`
	CreatedAt string `json:"created_at"`
	Message   *struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"message"`
	Response           string `json:"response"`
	Done               bool   `json:"done"`
	DoneReason         string `json:"done_reason"`
	TotalDuration      int64  `json:"total_duration"`
	LoadDuration       int64  `json:"load_duration"`
	PromptEvalCount    int    `json:"prompt_eval_count"`
	PromptEvalDuration int64  `json:"prompt_eval_duration"`
	EvalCount          int    `json:"eval_count"`
	EvalDuration       int64  `json:"eval_duration"`
	Error              string `json:"error"`
}

// ndjson reads the lines of a streamed Ollama response.
func ndjson(t *testing.T, resp *http.Response) []ollamaOut {
	t.Helper()
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("content type %q, want application/x-ndjson", ct)
	}
	var out []ollamaOut
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		out = append(out, decode[ollamaOut](t, sc.Bytes()))
	}
	return out
}

func TestOllamaListings(t *testing.T) {
	s := start(t, testConfig(t))
	_, body := do(t, "GET", s.URL+"/api/version", nil)
	if v := decode[map[string]string](t, body)["version"]; v == "" {
		t.Fatalf("version: %s", body)
	}
	_, body = do(t, "GET", s.URL+"/api/tags", nil)
	tags := decode[struct {
		Models []ollamaModel `json:"models"`
	}](t, body).Models
	if len(tags) != 2 || tags[0].Name != chatRef || tags[0].Details.Format != "gguf" || tags[0].Details.Family != "llama" ||
		tags[0].Details.QuantizationLevel != "Q4_K_M" || tags[0].Details.ParameterSize != "18M" || tags[0].Size != 13085056 || len(tags[0].Digest) != 64 {
		t.Fatalf("tags %+v", tags)
	}
	resp, body := do(t, "POST", s.URL+"/api/show", map[string]any{"model": chatRef})
	show := decode[struct {
		Template     string         `json:"template"`
		Details      ollamaDetails  `json:"details"`
		ModelInfo    map[string]any `json:"model_info"`
		Capabilities []string       `json:"capabilities"`
	}](t, body)
	if resp.StatusCode != 200 || !strings.Contains(show.Template, "[INST]") || show.ModelInfo["llama.context_length"] != 4096.0 ||
		show.ModelInfo["llama.block_count"] != 2.0 || show.Details.QuantizationLevel != "Q4_K_M" {
		t.Fatalf("show: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "POST", s.URL+"/api/show", map[string]any{"name": "nope"})
	if resp.StatusCode != 404 || !strings.Contains(decode[map[string]string](t, body)["error"], "does not exist") {
		t.Fatalf("show of an unknown model: %d %s", resp.StatusCode, body)
	}
	_, body = do(t, "GET", s.URL+"/api/ps", nil)
	if !strings.Contains(string(body), `"models":[]`) {
		t.Fatalf("ps before any request: %s", body)
	}
}

func TestOllamaChat(t *testing.T) {
	s := start(t, testConfig(t))
	want := reference(t, poetConv, greedy(12))
	req := map[string]any{
		"model": chatRef,
		"messages": []map[string]any{
			{"role": "system", "content": "You are a poet."},
			{"role": "user", "content": "Tell me of the zephyr"},
		},
		"options": map[string]any{"temperature": 0, "num_predict": 12, "num_ctx": 8192, "seed": 42},
	}
	// Streaming is Ollama's default.
	resp, err := http.Post(s.URL+"/api/chat", "application/json", strings.NewReader(mustJSON(t, req)))
	if err != nil {
		t.Fatal(err)
	}
	lines := ndjson(t, resp)
	var text strings.Builder
	for _, l := range lines[:len(lines)-1] {
		if l.Done || l.Message == nil || l.Message.Role != "assistant" || l.Model != chatRef || l.CreatedAt == "" {
			t.Fatalf("line %+v", l)
		}
		text.WriteString(l.Message.Content)
	}
	last := lines[len(lines)-1]
	if text.String() != want.Text {
		t.Errorf("streamed %q, want %q", text.String(), want.Text)
	}
	if !last.Done || last.DoneReason != ollamaDoneReason(want.Reason) || last.EvalCount != want.Stats.GeneratedTokens ||
		last.PromptEvalCount != 34 || last.EvalDuration <= 0 || last.PromptEvalDuration <= 0 || last.TotalDuration < last.EvalDuration || last.LoadDuration <= 0 {
		t.Errorf("final line %+v", last)
	}

	req["stream"] = false
	resp, body := do(t, "POST", s.URL+"/api/chat", req)
	out := decode[ollamaOut](t, body)
	if resp.StatusCode != 200 || !out.Done || out.Message.Content != want.Text || out.LoadDuration != 0 {
		t.Fatalf("not streamed: %d %s (want %q, no load time)", resp.StatusCode, body, want.Text)
	}
	if out.PromptEvalCount != 1 {
		t.Errorf("prompt_eval_count %d on a repeated prompt, want 1 (the rest from the cache)", out.PromptEvalCount)
	}
}

func TestOllamaGenerate(t *testing.T) {
	s := start(t, testConfig(t))
	want := reference(t, chat.Conversation{System: "You are a poet.", Messages: []chat.Message{{Role: chat.User, Content: "Tell me of the zephyr"}}}, greedy(8))
	resp, body := do(t, "POST", s.URL+"/api/generate", map[string]any{
		"model": "tiny-chat:latest", "system": "You are a poet.", "prompt": "Tell me of the zephyr", "stream": false,
		"options": map[string]any{"temperature": 0, "num_predict": 8}, "keep_alive": "1m",
	})
	out := decode[ollamaOut](t, body)
	if resp.StatusCode != 200 || out.Response != want.Text || out.DoneReason != ollamaDoneReason(want.Reason) {
		t.Fatalf("generate: %d %s, want %q", resp.StatusCode, body, want.Text)
	}
	// raw: the prompt as it is, streamed.
	resp, err := http.Post(s.URL+"/api/generate", "application/json",
		strings.NewReader(`{"model":"chat-q4_k_m","prompt":"[INST] hi [/INST]","raw":true,"options":{"temperature":0,"num_predict":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	lines := ndjson(t, resp)
	if last := lines[len(lines)-1]; !last.Done || last.EvalCount != 3 || last.DoneReason != "length" {
		t.Fatalf("raw: %+v", last)
	}
}

func TestOllamaLoadAndUnload(t *testing.T) {
	s := start(t, testConfig(t))
	_, body := do(t, "POST", s.URL+"/api/generate", map[string]any{"model": chatRef})
	if out := decode[ollamaOut](t, body); !out.Done || out.DoneReason != "load" || out.LoadDuration <= 0 {
		t.Fatalf("empty generate: %s", body)
	}
	if got := s.Status().Loaded; len(got) != 1 || got[0] != chatRef {
		t.Fatalf("loaded %v", got)
	}
	_, body = do(t, "GET", s.URL+"/api/ps", nil)
	if !strings.Contains(string(body), chatRef) {
		t.Fatalf("ps: %s", body)
	}
	_, body = do(t, "POST", s.URL+"/api/chat", map[string]any{"model": chatRef, "messages": []any{}, "keep_alive": 0})
	if out := decode[ollamaOut](t, body); out.DoneReason != "unload" {
		t.Fatalf("unload: %s", body)
	}
	if got := s.Status().Loaded; len(got) != 0 {
		t.Fatalf("still loaded: %v", got)
	}
	// keep_alive 0 on a real request unloads after it.
	do(t, "POST", s.URL+"/api/generate", map[string]any{"model": chatRef, "prompt": "hi", "stream": false, "keep_alive": 0,
		"options": map[string]any{"num_predict": 2}})
	if got := s.Status().Loaded; len(got) != 0 {
		t.Fatalf("loaded after keep_alive 0: %v", got)
	}
}

func TestOllamaErrors(t *testing.T) {
	s := start(t, testConfig(t))
	cases := []struct {
		name, path, body string
		status           int
		says             string
	}{
		{"malformed", "/api/chat", `{"model":`, 400, "malformed JSON"},
		{"unknown field", "/api/chat", `{"model":"tiny-chat","messages":[],"keepalive":5}`, 400, "unknown field"},
		{"unknown option", "/api/chat", `{"model":"tiny-chat","messages":[{"role":"user","content":"hi"}],"options":{"temprature":0}}`, 400, "unknown field"},
		{"wrong type", "/api/generate", `{"model":"tiny-chat","prompt":5}`, 400, `"prompt"`},
		{"bad keep_alive", "/api/generate", `{"model":"tiny-chat","prompt":"hi","keep_alive":"forever"}`, 400, "keep_alive"},
		{"mirostat", "/api/generate", `{"model":"tiny-chat","prompt":"hi","options":{"mirostat":2}}`, 400, "mirostat"},
		{"format", "/api/chat", `{"model":"tiny-chat","messages":[{"role":"user","content":"hi"}],"format":"json"}`, 400, "not supported"},
		{"images", "/api/chat", `{"model":"tiny-chat","messages":[{"role":"user","content":"hi","images":["aGk="]}]}`, 400, "images"},
		{"negative temperature", "/api/chat", `{"model":"tiny-chat","messages":[{"role":"user","content":"hi"}],"options":{"temperature":-1}}`, 400, "temperature"},
		{"unknown model", "/api/chat", `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`, 404, "does not exist"},
		{"no endpoint", "/api/embed", `{}`, 404, "no endpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do(t, "POST", s.URL+c.path, c.body)
			msg := decode[map[string]string](t, body)["error"]
			if resp.StatusCode != c.status || !strings.Contains(msg, c.says) {
				t.Fatalf("%d %s, want %d saying %q", resp.StatusCode, body, c.status, c.says)
			}
		})
	}
}

func TestOllamaDropsOldTurnsToFit(t *testing.T) {
	s := start(t, testConfig(t))
	var msgs []map[string]any
	for range 6 {
		msgs = append(msgs, map[string]any{"role": "user", "content": strings.Repeat("tell me more ", 30)},
			map[string]any{"role": "assistant", "content": strings.Repeat("there is more ", 30)})
	}
	msgs = append(msgs, map[string]any{"role": "user", "content": "and the end?"})
	begin := time.Now()
	resp, body := do(t, "POST", s.URL+"/api/chat", map[string]any{"model": chatRef, "messages": msgs, "stream": false,
		"options": map[string]any{"num_predict": 4}})
	out := decode[ollamaOut](t, body)
	if resp.StatusCode != 200 || !out.Done || out.PromptEvalCount >= testCtx {
		t.Fatalf("%d %s after %v: want older turns dropped to fit", resp.StatusCode, body, time.Since(begin))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
