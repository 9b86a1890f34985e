package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/engine/session"
)

func TestFairQueueRoundRobin(t *testing.T) {
	q := newFairQueue(0)
	release, err := q.acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan string, 10)
	wait := func(name, client string) {
		n := q.waiting()
		go func() {
			rel, err := q.acquire(context.Background(), client)
			if err != nil {
				t.Error(err)
				return
			}
			served <- name
			rel()
		}()
		for q.waiting() == n {
			time.Sleep(time.Millisecond)
		}
	}
	wait("a1", "a")
	wait("a2", "a")
	wait("a3", "a")
	wait("b1", "b")
	wait("c1", "c")
	wait("b2", "b")
	// A waiter that gives up leaves no trace.
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { _, err := q.acquire(ctx, "d"); gaveUp <- err }()
	for q.waiting() != 7 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-gaveUp; err == nil || q.waiting() != 6 {
		t.Fatalf("cancelled waiter: %v, %d waiting", err, q.waiting())
	}
	release()
	var order []string
	for range 6 {
		order = append(order, <-served)
	}
	if got := strings.Join(order, " "); got != "a1 b1 c1 a2 b2 a3" {
		t.Fatalf("served %s, want a1 b1 c1 a2 b2 a3", got)
	}
	// Free again: the next acquire is immediate.
	rel, err := q.acquire(context.Background(), "z")
	if err != nil {
		t.Fatal(err)
	}
	rel()
	rel() // releasing twice is harmless
}

func TestFairQueueLimit(t *testing.T) {
	q := newFairQueue(1)
	release, _ := q.acquire(context.Background(), "a")
	go q.acquire(context.Background(), "b")
	for q.waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := q.acquire(context.Background(), "c"); err != errQueueFull {
		t.Fatalf("over the limit: %v", err)
	}
	release()
}

func TestKeepAliveValues(t *testing.T) {
	for _, c := range []struct {
		json string
		want time.Duration
		bad  bool
	}{
		{`"5m"`, 5 * time.Minute, false}, {`300`, 5 * time.Minute, false}, {`"300"`, 5 * time.Minute, false},
		{`0`, 0, false}, {`"-1s"`, -time.Second, false}, {`-1`, -time.Second, false},
		{`"forever"`, 0, true}, {`true`, 0, true}, {`1e300`, 0, true},
	} {
		var d duration
		err := d.UnmarshalJSON([]byte(c.json))
		if (err != nil) != c.bad || (!c.bad && (d.d != c.want || !d.set)) {
			t.Errorf("keep_alive %s: %v %v, want %v (error %v)", c.json, d.d, err, c.want, c.bad)
		}
	}
}

// FuzzDecodeRequest feeds any bytes to the decoding and checking of every
// request body: each must end in a request or a 400-class error, never a
// panic.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"temperature":0.5,"stop":["a","b"],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"m","prompt":["once"],"max_tokens":3,"echo":true,"stop":"x"}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":-2,"stop":["x"],"top_k":-1},"keep_alive":"5m"}`,
		`{"model":"m","prompt":"p","system":"s","raw":true,"keep_alive":0}`,
		`{"model":"m","messages":[{"role":"assistant","content":null,"refusal":null,"tool_calls":[]}]}`,
		`{"max_tokens":-1}`, `[]`, `{"messages":{}}`, `{"stop":[1]}`, `{"temperature":1e999}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err *requestError) {
			if err != nil && (err.status < 400 || err.status >= 500 || err.message == "") {
				t.Fatalf("error %+v for %q", err, body)
			}
		}
		var chatReq chatCompletionRequest
		if err := decodeBody(body, &chatReq); err != nil {
			check(err)
		} else {
			_, _, err := chatReq.check()
			check(err)
		}
		var compReq completionRequest
		if err := decodeBody(body, &compReq); err != nil {
			check(err)
		} else {
			_, err := compReq.samplingFields.check()
			check(err)
			check(maxTokens(new(session.Options), "max_tokens", compReq.MaxTokens))
		}
		var oc ollamaChatRequest
		if err := decodeBody(body, &oc); err != nil {
			check(err)
		} else {
			_, err := oc.Options.check()
			check(err)
			_, err = ollamaConversation(oc.Messages)
			check(err)
			check(checkNoExtras(oc.Format, nil, oc.Tools, oc.Think))
		}
		var og ollamaGenerateRequest
		if err := decodeBody(body, &og); err != nil {
			check(err)
		} else {
			_, err := og.Options.check()
			check(err)
		}
		var show ollamaShowRequest
		check(decodeBody(body, &show))
	})
}
