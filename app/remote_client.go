package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/llamadesk/llamadesk/engine/chat"
)

// remoteClient speaks the OpenAI API to one remote server.
type remoteClient struct {
	remote Remote
	base   string // the base URL, ending in /v1 (or the path the person gave)
	key    string
	http   *http.Client
}

// defaultRemoteHTTP is the HTTP client for remote servers: bounded
// connection and header waits, no bound on a streamed reply's length.
var defaultRemoteHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 10 * time.Minute, // a busy server may queue the request
	IdleConnTimeout:       90 * time.Second,
	MaxIdleConnsPerHost:   4,
}}

func newRemoteClient(rm Remote, key string, hc *http.Client) (*remoteClient, error) {
	u, err := url.Parse(rm.URL)
	if err != nil {
		return nil, fmt.Errorf("remote %s: URL %q: %w", rm.Name, rm.URL, err)
	}
	if u.Path == "" {
		u.Path = "/v1"
	}
	if hc == nil {
		hc = defaultRemoteHTTP
	}
	return &remoteClient{remote: rm, base: u.String(), key: key, http: hc}, nil
}

// maxRemoteError bounds how much of an error body is read.
const maxRemoteError = 64 << 10

// do sends a request to the remote's path (such as "/models") and returns
// the response when its status is 2xx, else an error in words.
func (c *remoteClient) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", c.remote.Name, err)
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	req.Header.Set("User-Agent", "Llamadesk/"+Version)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.networkError(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxRemoteError))
		return nil, c.statusError(resp, data)
	}
	return resp, nil
}

// RemoteError is a remote server's refusal: its HTTP status, its message,
// and the code and type its JSON error named. A refusal of a conversation
// too long for the model's context unwraps to chat.ErrContextFull.
type RemoteError struct {
	Remote  string
	Status  int
	Message string
	// Code and Type are the error body's error.code (when a string) and
	// error.type, "" when it has none.
	Code, Type string
	hint       string
}

// contextFullCodes are the error codes and types with which servers refuse
// a conversation that does not fit the context: OpenAI's and Llamadesk's
// code, and llama.cpp's type.
var contextFullCodes = map[string]bool{
	"context_length_exceeded":   true,
	"exceed_context_size_error": true,
}

// Unwrap returns chat.ErrContextFull when the server refused a conversation
// too long for the model's context (so that errors.Is matches it), else nil.
func (e *RemoteError) Unwrap() error {
	if contextFullCodes[e.Code] || contextFullCodes[e.Type] {
		return chat.ErrContextFull
	}
	return nil
}

// newRemoteError reads a refusal's body: its message, code and type.
func newRemoteError(remote string, status int, body []byte) *RemoteError {
	e := &RemoteError{Remote: remote, Status: status, Message: errorMessage(body)}
	e.Code, e.Type = errorKind(body)
	return e
}

// Error gives the status, the server's message and a hint when there is one.
func (e *RemoteError) Error() string {
	msg := fmt.Sprintf("remote %s answered %d %s", e.Remote, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.hint != "" {
		msg += " (" + e.hint + ")"
	}
	return msg
}

// statusError turns a non-2xx response into words: the server's own
// message (OpenAI's {"error":{"message"}}, Ollama's {"error":"…"}, or text).
func (c *remoteClient) statusError(resp *http.Response, body []byte) error {
	e := newRemoteError(c.remote.Name, resp.StatusCode, body)
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		if c.key == "" {
			e.hint = "it wants an API key: llamadesk remote add " + c.remote.Name + " --url " + c.remote.URL + " --api-key-file FILE --replace"
		} else {
			e.hint = "check the API key stored for it"
		}
	case http.StatusNotFound:
		if e.Message == "" {
			e.hint = "is " + c.base + " its OpenAI base URL?"
		}
	}
	return e
}

// errorMessage finds the message in an error body (OpenAI's
// {"error":{"message"}}, Ollama's {"error":"…"}, FastAPI's {"detail"}, or
// text), at most maxMessage bytes of it.
func errorMessage(body []byte) string {
	var shaped struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  any             `json:"detail"`
	}
	msg := ""
	if json.Unmarshal(body, &shaped) == nil {
		var inner struct {
			Message string `json:"message"`
		}
		var text string
		switch {
		case json.Unmarshal(shaped.Error, &inner) == nil && inner.Message != "":
			msg = inner.Message
		case json.Unmarshal(shaped.Error, &text) == nil && text != "":
			msg = text
		case shaped.Message != "":
			msg = shaped.Message
		case shaped.Detail != nil:
			msg = fmt.Sprint(shaped.Detail)
		}
	}
	if msg == "" {
		msg = string(body)
	}
	msg = strings.ToValidUTF8(strings.TrimSpace(msg), "\uFFFD")
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// errorKind returns the code and the type of OpenAI's error body
// ({"error":{"code","type"}}); the code only when it is a string (llama.cpp
// sends the HTTP status there), "" for what the body does not have.
func errorKind(body []byte) (code, typ string) {
	var shaped struct {
		Error struct {
			Code json.RawMessage `json:"code"`
			Type json.RawMessage `json:"type"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &shaped) != nil {
		return "", ""
	}
	// Either may be null, a number or a string: only a string is kept.
	_ = json.Unmarshal(shaped.Error.Code, &code)
	_ = json.Unmarshal(shaped.Error.Type, &typ)
	return strings.ToValidUTF8(code, ""), strings.ToValidUTF8(typ, "")
}

// maxMessage bounds a remote's error message as shown.
const maxMessage = 300

// networkError says in words why the remote could not be reached.
func (c *remoteClient) networkError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	where := fmt.Sprintf("cannot reach remote %s at %s", c.remote.Name, c.remote.URL)
	var dns *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dns):
		return fmt.Errorf("%s: the host name %q is unknown: %w", where, dns.Name, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: connection refused (is the server running?): %w", where, err)
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return fmt.Errorf("%s: it did not answer in time: %w", where, err)
	case errors.As(err, &opErr):
		return fmt.Errorf("%s: %v: %w", where, opErr.Err, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// models lists the remote's model ids.
func (c *remoteClient) models(ctx context.Context) ([]string, error) {
	resp, err := c.do(ctx, "GET", "/models", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&list); err != nil {
		return nil, fmt.Errorf("remote %s sent a model list that is not OpenAI's: %v", c.remote.Name, err)
	}
	ids := make([]string, 0, len(list.Data))
	for _, m := range list.Data {
		if m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	return ids, nil
}

// remoteChunk is one chunk of a streamed chat completion (or a whole
// completion from a server that does not stream).
type remoteChunk struct {
	Choices []struct {
		Delta struct {
			Content *string `json:"content"`
		} `json:"delta"`
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		PromptTokensDetails *struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// streamChat posts a chat completion with stream set and calls onChunk for
// each chunk until the stream ends ("data: [DONE]" or the end of the body).
// A server that answers with one JSON completion instead gets one call.
func (c *remoteClient) streamChat(ctx context.Context, body any, onChunk func(remoteChunk) error) error {
	resp, err := c.do(ctx, "POST", "/chat/completions", body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		var whole remoteChunk
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&whole); err != nil {
			return c.readError(ctx, err)
		}
		return onChunk(whole)
	}
	if err := c.readStream(resp.Body, onChunk); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return nil
}

// readStream reads server-sent events of chat completion chunks, calling
// onChunk for each, until "data: [DONE]" or the end of r.
func (c *remoteClient) readStream(r io.Reader, onChunk func(remoteChunk) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			continue // blank lines, comments, event: and id: fields
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			return nil
		}
		var chunk remoteChunk
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			return fmt.Errorf("remote %s sent a chunk that is not OpenAI's: %v", c.remote.Name, err)
		}
		if len(chunk.Error) > 0 && string(chunk.Error) != "null" {
			return newRemoteError(c.remote.Name, http.StatusOK, []byte(data))
		}
		if err := onChunk(chunk); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("remote %s: the reply broke off: %w", c.remote.Name, err)
	}
	return nil
}

// readError says why reading a response failed.
func (c *remoteClient) readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("remote %s: the reply broke off: %w", c.remote.Name, err)
}
