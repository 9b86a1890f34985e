package server

import (
	"net/http"
	"time"

	"github.com/llamadesk/llamadesk/engine/session"
	"github.com/llamadesk/llamadesk/history"
)

// The OpenAI API's responses and handlers: models, chat completions and
// (legacy) completions, streamed as server-sent events. Its requests are
// in openai_request.go.

// Responses.

type openAIUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func usageOf(r *session.Reply) *openAIUsage {
	u := &openAIUsage{PromptTokens: r.Stats.PromptTokens, CompletionTokens: r.Stats.GeneratedTokens}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	u.PromptTokensDetails.CachedTokens = r.Stats.PromptTokens - r.Stats.PromptEvaluated
	return u
}

type chatMessageOut struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      *chatMessageOut `json:"message,omitempty"`
	Delta        *chatMessageOut `json:"delta,omitempty"`
	Logprobs     *struct{}       `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

type textChoice struct {
	Text         string    `json:"text"`
	Index        int       `json:"index"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

// completion is a chat completion (C: chatChoice) or a text completion
// (C: textChoice), whole or one chunk of a stream.
type completion[C chatChoice | textChoice] struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []C          `json:"choices"`
	Usage             *openAIUsage `json:"usage,omitempty"`
}

type (
	chatCompletion = completion[chatChoice]
	textCompletion = completion[textChoice]
)

// usageChunk is the last chunk of a stream whose request asked for the
// usage (stream_options.include_usage): no choices, and the usage.
func (c completion[C]) usageChunk(u *openAIUsage) completion[C] {
	c.Choices, c.Usage = []C{}, u
	return c
}

// endOpenAIStream ends a stream after the reply: first, unless it is nil,
// where nothing went out yet; the last chunk (with the finish reason); the
// usage chunk, unless it is nil; then [DONE]. It stops at a failed write
// (the client is gone).
func endOpenAIStream(stream *streamWriter, first, last, usage any) {
	if !stream.started && first != nil {
		stream.send(first)
	}
	if stream.send(last) != nil {
		return
	}
	if usage != nil && stream.send(usage) != nil {
		return
	}
	stream.sendRaw([]byte("[DONE]"))
}

type openAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// openAIErrorBody is OpenAI's error shape.
func openAIErrorBody(e *requestError) map[string]any {
	typ := "invalid_request_error"
	switch {
	case e.status == http.StatusUnauthorized:
		typ = "authentication_error"
	case e.status == http.StatusForbidden:
		typ = "permission_error"
	case e.status == http.StatusNotFound:
		typ = "not_found_error"
	case e.status >= 500:
		typ = "server_error"
	}
	body := map[string]any{"message": e.message, "type": typ, "param": nil, "code": nil}
	if e.param != "" {
		body["param"] = e.param
	}
	if e.code != "" {
		body["code"] = e.code
	}
	return map[string]any{"error": body}
}

// Handlers.

func (s *Server) openAIModels(w http.ResponseWriter, r *http.Request) {
	list, err := s.models.list()
	if err != nil {
		s.writeError(w, r, internalError(err))
		return
	}
	data := make([]openAIModel, 0, len(list))
	for _, m := range list {
		data = append(data, s.openAIModelOf(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Server) openAIModel(w http.ResponseWriter, r *http.Request) {
	m, rerr := s.models.resolve(r.PathValue("model"))
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	writeJSON(w, http.StatusOK, s.openAIModelOf(m))
}

func (s *Server) openAIModelOf(m model) openAIModel {
	created := int64(0)
	if fi, err := statModTime(m.Path()); err == nil {
		created = fi.Unix()
	}
	return openAIModel{ID: m.Name, Object: "model", Created: created, OwnedBy: "llamadesk"}
}

func (s *Server) fingerprint(backend string) string {
	return "llamadesk-" + s.cfg.Version + "-" + backend
}

func (s *Server) openAIChat(w http.ResponseWriter, r *http.Request) {
	var req chatCompletionRequest
	if !s.decodeRequest(w, r, &req) {
		return
	}
	conv, opts, rerr := req.check()
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	m, rerr := s.models.resolve(req.Model)
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	id, created := newID("chatcmpl-"), time.Now().Unix()
	var fingerprint string // set once the backend is known, before the first chunk
	chunk := func(delta *chatMessageOut, finish *string) chatCompletion {
		return chatCompletion{ID: id, Object: "chat.completion.chunk", Created: created, Model: m.Name,
			SystemFingerprint: fingerprint,
			Choices:           []chatChoice{{Delta: delta, FinishReason: finish}}}
	}
	var stream *streamWriter
	j := job{model: m, client: clientOf(r), conv: &conv, opts: opts,
		onReady: func(backend string) { fingerprint = s.fingerprint(backend) }}
	if req.Stream {
		stream = s.newStreamWriter(w, true)
		j.onText = func(text string) error {
			if !stream.started {
				if err := stream.send(chunk(&chatMessageOut{Role: "assistant", Content: history.Ptr("")}, nil)); err != nil {
					return err
				}
			}
			return stream.send(chunk(&chatMessageOut{Content: &text}, nil))
		}
	}
	res := s.runJob(w, r, stream, j)
	if res == nil {
		return
	}
	reply := res.reply
	finish := finishReason(reply.Reason)
	if stream == nil {
		writeJSON(w, http.StatusOK, chatCompletion{ID: id, Object: "chat.completion", Created: created, Model: m.Name,
			SystemFingerprint: s.fingerprint(res.backend),
			Choices:           []chatChoice{{Message: &chatMessageOut{Role: "assistant", Content: &reply.Text}, FinishReason: &finish}},
			Usage:             usageOf(reply)})
		return
	}
	if res.interrupted {
		return
	}
	var usage any
	if req.includeUsage() {
		usage = chunk(nil, nil).usageChunk(usageOf(reply))
	}
	endOpenAIStream(stream, chunk(&chatMessageOut{Role: "assistant", Content: history.Ptr("")}, nil), chunk(&chatMessageOut{}, &finish), usage)
}

func (s *Server) openAICompletion(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if !s.decodeRequest(w, r, &req) {
		return
	}
	opts, rerr := req.check()
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	m, rerr := s.models.resolve(req.Model)
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	id, created := newID("cmpl-"), time.Now().Unix()
	var fingerprint string // set once the backend is known, before the first chunk
	chunk := func(text string, finish *string) textCompletion {
		return textCompletion{ID: id, Object: "text_completion", Created: created, Model: m.Name,
			SystemFingerprint: fingerprint,
			Choices:           []textChoice{{Text: text, FinishReason: finish}}}
	}
	var stream *streamWriter
	j := job{model: m, client: clientOf(r), prompt: req.Prompt.text, opts: opts,
		onReady: func(backend string) { fingerprint = s.fingerprint(backend) }}
	if req.Stream {
		stream = s.newStreamWriter(w, true)
		j.onText = func(text string) error {
			if !stream.started && req.Echo {
				if err := stream.send(chunk(req.Prompt.text, nil)); err != nil {
					return err
				}
			}
			return stream.send(chunk(text, nil))
		}
	}
	res := s.runJob(w, r, stream, j)
	if res == nil {
		return
	}
	reply := res.reply
	finish := finishReason(reply.Reason)
	if stream == nil {
		text := reply.Text
		if req.Echo {
			text = req.Prompt.text + text
		}
		writeJSON(w, http.StatusOK, textCompletion{ID: id, Object: "text_completion", Created: created, Model: m.Name,
			SystemFingerprint: s.fingerprint(res.backend),
			Choices:           []textChoice{{Text: text, FinishReason: &finish}}, Usage: usageOf(reply)})
		return
	}
	if res.interrupted {
		return
	}
	var echo, usage any
	if req.Echo {
		echo = chunk(req.Prompt.text, nil)
	}
	if req.includeUsage() {
		usage = chunk("", nil).usageChunk(usageOf(reply))
	}
	endOpenAIStream(stream, echo, chunk("", &finish), usage)
}
