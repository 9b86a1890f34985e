package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/history"
)

func TestAPIKey(t *testing.T) {
	cfg := testConfig(t)
	cfg.APIKey = "s3cret-key"
	s := start(t, cfg)
	for _, c := range []struct {
		path, auth string
		status     int
	}{
		{"/v1/models", "", 401},
		{"/v1/models", "Bearer wrong", 401},
		{"/v1/models", "Basic s3cret-key", 401},
		{"/v1/models", "Bearer s3cret-key", 200},
		{"/api/tags", "", 401},
		{"/api/tags", "bearer s3cret-key", 200},
		{"/", "", 401},
	} {
		var header []string
		if c.auth != "" {
			header = []string{"Authorization", c.auth}
		}
		resp, body := do(t, "GET", s.URL+c.path, nil, header...)
		if resp.StatusCode != c.status {
			t.Errorf("GET %s with %q: %d %s, want %d", c.path, c.auth, resp.StatusCode, body, c.status)
		}
		if c.status == 401 && c.path == "/v1/models" {
			e := decode[map[string]map[string]any](t, body)["error"]
			if e["code"] != "invalid_api_key" || e["type"] != "authentication_error" || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 body %s", body)
			}
		}
		if c.status == 401 && c.path == "/api/tags" && !strings.Contains(string(body), `"error"`) {
			t.Errorf("Ollama 401 body %s", body)
		}
	}
	// The key guards generation too.
	if resp, _ := do(t, "POST", s.URL+"/v1/chat/completions", poetRequest(chatRef, nil)); resp.StatusCode != 401 {
		t.Errorf("chat without the key: %d", resp.StatusCode)
	}
}

func TestBrowserOriginsAndHosts(t *testing.T) {
	cfg := testConfig(t)
	cfg.AllowedOrigins = []string{"https://allowed.example"}
	s := start(t, cfg)
	for _, c := range []struct {
		origin string
		status int
	}{
		{"https://evil.example", 403},
		{"null", 403},
		{"http://localhost:3000", 200},
		{"http://127.0.0.1:8080", 200},
		{"https://allowed.example", 200},
	} {
		resp, body := do(t, "GET", s.URL+"/v1/models", nil, "Origin", c.origin)
		if resp.StatusCode != c.status {
			t.Errorf("origin %s: %d %s, want %d", c.origin, resp.StatusCode, body, c.status)
		}
		if c.status == 200 && resp.Header.Get("Access-Control-Allow-Origin") != c.origin {
			t.Errorf("origin %s: no CORS header", c.origin)
		}
	}
	// A page's simple POST (no preflight) from another origin never reaches the model.
	resp, _ := do(t, "POST", s.URL+"/api/generate", `{"model":"tiny-chat","prompt":"hi"}`, "Origin", "https://evil.example", "Content-Type", "text/plain")
	if resp.StatusCode != 403 {
		t.Errorf("cross-origin POST: %d, want 403", resp.StatusCode)
	}
	resp, _ = do(t, "OPTIONS", s.URL+"/v1/chat/completions", nil, "Origin", "http://localhost:3000", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	// The headers a client library adds are allowed for an allowed origin.
	asked := "authorization, content-type, x-stainless-helper-method, openai-beta"
	resp, _ = do(t, "OPTIONS", s.URL+"/v1/chat/completions", nil, "Origin", "http://localhost:3000", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", asked)
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Headers") != asked {
		t.Errorf("preflight asking for %q: %d %v", asked, resp.StatusCode, resp.Header)
	}
	// DNS rebinding: a name that resolves to 127.0.0.1 but is not this machine's.
	req, _ := http.NewRequest("GET", s.URL+"/v1/models", nil)
	req.Host = "attacker.example:11435"
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 403 {
		t.Errorf("Host attacker.example: %d, want 403", r.StatusCode)
	}
	req.Host = "localhost:11435"
	if r, err = http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Errorf("Host localhost: %v %v", r, err)
	}
	r.Body.Close()
}

// streamUntilFirstChunk starts a streamed chat request and returns once its
// first content chunk arrived, with the function that hangs up.
func streamUntilFirstChunk(t *testing.T, url string, maxTokens int, local string) (hangUp func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	body := mustJSON(t, map[string]any{"model": chatRef, "stream": true, "temperature": 0, "max_tokens": maxTokens,
		"messages": []map[string]any{{"role": "user", "content": "Write a long story about the wind."}}})
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", strings.NewReader(body))
	client := clientFrom(local)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"content":"`) && !strings.Contains(sc.Text(), `"content":""`) {
			break
		}
	}
	return func() {
		cancel()
		resp.Body.Close()
	}
}

// clientFrom returns an HTTP client whose connections come from the local
// address ip ("" for any), so that a test can be two clients.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{}
	if ip != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

func TestDisconnectStopsGeneration(t *testing.T) {
	cfg := testConfig(t)
	store := saveHistory(t, &cfg)
	s := start(t, cfg)
	hangUp := streamUntilFirstChunk(t, s.URL, 450, "")
	begin := time.Now()
	hangUp()
	if !waitFor(5*time.Second, func() bool { return s.Status().InFlight == 0 }) {
		t.Fatal("the generation still runs 5 s after the client left")
	}
	stopped := time.Since(begin)
	t.Logf("generation stopped %v after the client hung up", stopped)
	if stopped > 500*time.Millisecond {
		t.Errorf("stopping took %v, want well under 100 ms", stopped)
	}
	convs, err := store.Conversations(context.Background())
	if err != nil || len(convs) != 1 {
		t.Fatalf("conversations %v (%v)", convs, err)
	}
	msgs, err := store.ActivePath(context.Background(), convs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	reply := msgs[len(msgs)-1]
	if reply.Status != history.StatusCancelled || reply.Stats.GeneratedTokens >= 450 || reply.Content == "" {
		t.Fatalf("reply %s after %d tokens (%q), want cancelled early with its partial text", reply.Status, reply.Stats.GeneratedTokens, reply.Content)
	}
	// The engine is free again at once.
	if resp, body := do(t, "POST", s.URL+"/v1/chat/completions", poetRequest(chatRef, nil)); resp.StatusCode != 200 {
		t.Fatalf("next request: %d %s", resp.StatusCode, body)
	}
}

func TestFairQueueingAcrossClients(t *testing.T) {
	s := start(t, testConfig(t))
	hangUp := streamUntilFirstChunk(t, s.URL, 450, "127.0.0.1")
	var mu sync.Mutex
	var order []string
	names := map[int]string{2: "a2", 3: "a3", 4: "b1"}
	s.runner.mu.Lock()
	s.runner.started = func(j job) {
		mu.Lock()
		order = append(order, names[j.opts.MaxTokens])
		mu.Unlock()
	}
	s.runner.mu.Unlock()
	var wg sync.WaitGroup
	send := func(name, ip string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tokens := map[string]int{"a2": 2, "a3": 3, "b1": 4}[name]
			body := mustJSON(t, poetRequest(chatRef, map[string]any{"max_tokens": tokens}))
			resp, err := clientFrom(ip).Post(s.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s: status %d", name, resp.StatusCode)
			}
		}()
	}
	queued := func(n int) {
		t.Helper()
		if !waitFor(5*time.Second, func() bool { return s.Status().Queued == n }) {
			t.Fatalf("%d requests queued, want %d", s.Status().Queued, n)
		}
	}
	send("a2", "127.0.0.1")
	queued(1)
	send("a3", "127.0.0.1")
	queued(2)
	send("b1", "127.0.0.2")
	queued(3)
	if st := s.Status(); st.InFlight != 4 {
		t.Errorf("in flight %d, want 4", st.InFlight)
	}
	hangUp()
	wg.Wait()
	if got := strings.Join(order, " "); got != "a2 b1 a3" {
		t.Fatalf("served %s, want a2 b1 a3 (round-robin across clients)", got)
	}
}

func TestQueueFull(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxQueue = 1
	s := start(t, cfg)
	hangUp := streamUntilFirstChunk(t, s.URL, 450, "")
	defer hangUp()
	done := make(chan int, 1)
	go func() {
		resp, _ := http.Post(s.URL+"/api/generate", "application/json", strings.NewReader(`{"model":"tiny-chat","prompt":"hi","stream":false,"options":{"num_predict":1}}`))
		if resp != nil {
			resp.Body.Close()
			done <- resp.StatusCode
		}
	}()
	if !waitFor(5*time.Second, func() bool { return s.Status().Queued == 1 }) {
		t.Fatal("nothing queued")
	}
	resp, body := do(t, "POST", s.URL+"/v1/chat/completions", poetRequest(chatRef, nil))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "busy") {
		t.Fatalf("over the queue limit: %d %s", resp.StatusCode, body)
	}
	hangUp()
	if status := <-done; status != 200 {
		t.Fatalf("the queued request: %d", status)
	}
}

func TestConcurrentClientsGetTheirOwnReplies(t *testing.T) {
	s := start(t, testConfig(t))
	want := reference(t, poetConv, greedy(12))
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := i%2 == 0
			resp, err := http.Post(s.URL+"/v1/chat/completions", "application/json",
				strings.NewReader(mustJSON(t, poetRequest(chatRef, map[string]any{"stream": stream}))))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var text string
			if stream {
				for _, e := range sseEvents(t, resp.Body) {
					if e != "[DONE]" && len(decode[chatCompletionOut](t, []byte(e)).Choices) > 0 {
						if c := decode[chatCompletionOut](t, []byte(e)).Choices[0].Delta.Content; c != nil {
							text += *c
						}
					}
				}
			} else {
				var buf strings.Builder
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					buf.WriteString(sc.Text())
				}
				text = decode[chatCompletionOut](t, []byte(buf.String())).Choices[0].Message.Content
			}
			if text != want.Text {
				t.Errorf("client %d got %q, want %q", i, text, want.Text)
			}
		}()
	}
	wg.Wait()
}

func TestIdleModelsUnload(t *testing.T) {
	cfg := testConfig(t)
	cfg.KeepAlive = 100 * time.Millisecond
	s := start(t, cfg)
	do(t, "POST", s.URL+"/v1/chat/completions", poetRequest(chatRef, map[string]any{"max_tokens": 1}))
	if !waitFor(5*time.Second, func() bool { return len(s.Status().Loaded) == 0 }) {
		t.Fatalf("still loaded after the keep-alive: %v", s.Status().Loaded)
	}
	// One model resident at a time: asking for another unloads the first.
	cfg.KeepAlive = -1
	s = start(t, cfg)
	do(t, "POST", s.URL+"/v1/chat/completions", poetRequest(chatRef, map[string]any{"max_tokens": 1}))
	resp, body := do(t, "POST", s.URL+"/v1/completions", map[string]any{"model": "tiny-f16.gguf", "prompt": "a", "max_tokens": 1})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if got := s.Status().Loaded; len(got) != 1 || got[0] != "tiny-f16.gguf" {
		t.Fatalf("loaded %v, want only tiny-f16.gguf", got)
	}
}

func TestSaveHistory(t *testing.T) {
	cfg := testConfig(t)
	store := saveHistory(t, &cfg)
	s := start(t, cfg)
	_, body := do(t, "POST", s.URL+"/v1/chat/completions", poetRequest(chatRef, nil))
	first := decode[chatCompletionOut](t, body).Choices[0].Message.Content
	second := poetRequest(chatRef, nil)
	second["messages"] = append(second["messages"].([]map[string]any),
		map[string]any{"role": "assistant", "content": first}, map[string]any{"role": "user", "content": "And the sea?"})
	do(t, "POST", s.URL+"/v1/chat/completions", second)
	ctx := context.Background()
	convs, err := store.Conversations(ctx)
	if err != nil || len(convs) != 1 {
		t.Fatalf("conversations %+v (%v), want one", convs, err)
	}
	c := convs[0]
	msgs, err := store.ActivePath(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, string(m.Role)+":"+m.Content)
	}
	want := []string{"user:Tell me of the zephyr", "assistant:" + first, "user:And the sea?"}
	if c.SystemPrompt != "You are a poet." || len(msgs) != 4 || strings.Join(got[:3], "|") != strings.Join(want, "|") ||
		msgs[3].Status != history.StatusDone || msgs[3].Model != chatRef {
		t.Fatalf("saved %q (system %q, last %+v)", got, c.SystemPrompt, msgs[len(msgs)-1])
	}
}

func TestConnectionLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxConnections = 2
	s := start(t, cfg)
	addr := strings.TrimPrefix(s.URL, "http://")
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	// Give the server time to accept both.
	time.Sleep(100 * time.Millisecond)
	quick := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := quick.Get(s.URL + "/api/version"); err == nil {
		resp.Body.Close()
		t.Fatal("a third connection was served while two were open")
	}
	idle[0].Close()
	slow := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := slow.Get(s.URL + "/api/version")
	if err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	resp.Body.Close()
}

func TestDefaultModel(t *testing.T) {
	cfg := testConfig(t)
	cfg.Library = nil
	cfg.Model = filepathOf(t, chatFile)
	s := start(t, cfg)
	if _, err := s.Preload(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, body := do(t, "GET", s.URL+"/v1/models", nil)
	if !strings.Contains(string(body), `"id":"tiny-chat:Q4_K_M"`) {
		t.Fatalf("models %s", body)
	}
	// A request without a model gets the default one.
	resp, body := do(t, "POST", s.URL+"/api/generate", `{"prompt":"hi","stream":false,"options":{"num_predict":2}}`)
	if resp.StatusCode != 200 || decode[ollamaOut](t, body).Model != chatRef {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if _, err := New(Config{Model: "/nonexistent.gguf"}); err == nil || !strings.Contains(err.Error(), "--model") {
		t.Fatalf("a missing --model file: %v", err)
	}
}

func TestTimeoutsEndWithTheirIO(t *testing.T) {
	s := start(t, testConfig(t))
	s.writeTimeout, s.bodyTimeout = 100*time.Millisecond, 150*time.Millisecond
	// A reply that takes longer than both timeouts is not cut by them.
	resp, body := do(t, "POST", s.URL+"/v1/chat/completions", poetRequest(chatRef, map[string]any{"max_tokens": 120, "stream": true}))
	events := sseEvents(t, bytes.NewReader(body))
	if resp.StatusCode != 200 || events[len(events)-1] != "[DONE]" || !strings.Contains(string(body), `"finish_reason":"length"`) {
		t.Fatalf("long streamed reply: %d, %d events, last %q", resp.StatusCode, len(events), events[len(events)-1])
	}
	// A kept-alive connection still answers after the write timeout passed.
	time.Sleep(250 * time.Millisecond)
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", s.URL+"/api/version", nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("second request on the kept-alive connection: %v", err)
	}
	r.Body.Close()
	if !reused || r.StatusCode != 200 {
		t.Fatalf("reused %v, status %d", reused, r.StatusCode)
	}
	// A body that stops coming gets 408.
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, "408") {
		t.Fatalf("slow body: %q %v", line, err)
	}
}

func TestStartAndStop(t *testing.T) {
	r, err := Start(testConfig(t), "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, "GET", r.URL()+"/api/version", nil); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// A generation in flight when the server stops ends, and Stop returns.
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Post(r.URL()+"/v1/chat/completions", "application/json",
			strings.NewReader(mustJSON(t, poetRequest(chatRef, map[string]any{"max_tokens": 450}))))
		if err == nil {
			resp.Body.Close()
		}
	}()
	if !waitFor(5*time.Second, func() bool { return r.Status().InFlight == 1 && len(r.Status().Loaded) == 1 }) {
		t.Fatalf("status %+v", r.Status())
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	<-done
	if st := r.Status(); st.InFlight != 0 || len(st.Loaded) != 0 {
		t.Fatalf("after Stop: %+v", st)
	}
	if _, err := http.Get(r.URL() + "/api/version"); err == nil {
		t.Fatal("still answering after Stop")
	}
	if err := r.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	// The port is free again; a busy port is an error that says so.
	r2, err := Start(testConfig(t), "127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Stop()
	port := r2.URL()[strings.LastIndex(r2.URL(), ":")+1:]
	p, _ := strconv.Atoi(port)
	if _, err := Start(testConfig(t), "127.0.0.1", p); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("a busy port: %v", err)
	}
}
