package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/session"
)

// The OpenAI API (https://platform.openai.com/docs/api-reference): the
// requests' fields Llamadesk knows. Fields it cannot honour are refused
// with a 400 when set to anything but their default; fields that change
// nothing here (user, metadata, store…) are accepted and ignored.

// openAIMessage is one message of a chat completion request.
type openAIMessage struct {
	Role    string         `json:"role"`
	Content messageContent `json:"content"`
	Name    string         `json:"name,omitempty"`
	// What clients send back of an assistant message they received; only
	// empty values are accepted.
	Refusal      json.RawMessage `json:"refusal,omitempty"`
	ToolCalls    json.RawMessage `json:"tool_calls,omitempty"`
	ToolCallID   json.RawMessage `json:"tool_call_id,omitempty"`
	FunctionCall json.RawMessage `json:"function_call,omitempty"`
	Annotations  json.RawMessage `json:"annotations,omitempty"`
	Audio        json.RawMessage `json:"audio,omitempty"`
}

// messageContent is a message's content: a string, an array of text parts,
// or null.
type messageContent struct {
	text string
}

// UnmarshalJSON reads a string or an array of {"type":"text","text":…} parts.
func (c *messageContent) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		c.text = ""
		return nil
	case len(data) > 0 && data[0] == '"':
		return json.Unmarshal(data, &c.text)
	}
	var parts []struct {
		Type     string          `json:"type"`
		Text     string          `json:"text"`
		ImageURL json.RawMessage `json:"image_url,omitempty"`
		Audio    json.RawMessage `json:"input_audio,omitempty"`
		File     json.RawMessage `json:"file,omitempty"`
		Refusal  string          `json:"refusal,omitempty"`
	}
	if err := strictUnmarshal(data, &parts); err != nil {
		return &fieldError{"content", "want a string or an array of {\"type\": \"text\", \"text\": …} parts"}
	}
	var sb strings.Builder
	for _, p := range parts {
		switch p.Type {
		case "text":
			sb.WriteString(p.Text)
		case "refusal":
			sb.WriteString(p.Refusal)
		default:
			return &fieldError{"content", fmt.Sprintf("content parts of type %q are not supported: Llama 2 reads text only", p.Type)}
		}
	}
	c.text = sb.String()
	return nil
}

// MarshalJSON writes the content as a string.
func (c messageContent) MarshalJSON() ([]byte, error) { return json.Marshal(c.text) }

type streamOptions struct {
	IncludeUsage       bool `json:"include_usage"`
	IncludeObfuscation bool `json:"include_obfuscation"`
}

type responseFormat struct {
	Type       string          `json:"type"`
	JSONSchema json.RawMessage `json:"json_schema,omitempty"`
}

// samplingFields are the sampling parameters both endpoints take, with
// llama.cpp's server's extensions (top_k, min_p, repeat_penalty).
type samplingFields struct {
	Temperature      *float64           `json:"temperature"`
	TopP             *float64           `json:"top_p"`
	TopK             *int               `json:"top_k"`
	MinP             *float64           `json:"min_p"`
	RepeatPenalty    *float64           `json:"repeat_penalty"`
	PresencePenalty  *float64           `json:"presence_penalty"`
	FrequencyPenalty *float64           `json:"frequency_penalty"`
	Seed             *int64             `json:"seed"`
	Stop             stringList         `json:"stop"`
	LogitBias        map[string]float64 `json:"logit_bias"`
	N                *int               `json:"n"`
	Stream           bool               `json:"stream"`
	StreamOptions    *streamOptions     `json:"stream_options"`
	User             string             `json:"user"`
	// Accepted and ignored.
	Store            *bool             `json:"store"`
	Metadata         map[string]string `json:"metadata"`
	ServiceTier      string            `json:"service_tier"`
	PromptCacheKey   string            `json:"prompt_cache_key"`
	SafetyIdentifier string            `json:"safety_identifier"`
}

type chatCompletionRequest struct {
	Model               string          `json:"model"`
	Messages            []openAIMessage `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Logprobs            *bool           `json:"logprobs"`
	TopLogprobs         *int            `json:"top_logprobs"`
	ResponseFormat      *responseFormat `json:"response_format"`
	Tools               json.RawMessage `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	Functions           json.RawMessage `json:"functions"`
	FunctionCall        json.RawMessage `json:"function_call"`
	Modalities          []string        `json:"modalities"`
	samplingFields
}

// promptValue is a completion request's prompt: a string or an array of
// one string.
type promptValue struct {
	text string
	set  bool
}

// UnmarshalJSON reads a string or an array holding one string.
func (p *promptValue) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		p.set = true
		return json.Unmarshal(data, &p.text)
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return &fieldError{"prompt", "want a string (prompts of token ids are not supported)"}
	}
	if len(many) != 1 {
		return &fieldError{"prompt", fmt.Sprintf("want one prompt, got %d (send one request per prompt)", len(many))}
	}
	p.text, p.set = many[0], true
	return nil
}

type completionRequest struct {
	Model     string      `json:"model"`
	Prompt    promptValue `json:"prompt"`
	MaxTokens *int        `json:"max_tokens"`
	Echo      bool        `json:"echo"`
	Logprobs  *int        `json:"logprobs"`
	BestOf    *int        `json:"best_of"`
	Suffix    *string     `json:"suffix"`
	samplingFields
}

// isEmptyJSON reports whether a raw value is absent or empty (null, "", [], {}).
func isEmptyJSON(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case "", "null", `""`, "[]", "{}":
		return true
	}
	return false
}

// check validates the sampling fields and returns the session options.
func (f *samplingFields) check() (session.Options, *requestError) {
	var o session.Options
	inRange := func(name string, v *float64, lo, hi float64) *requestError {
		if v != nil && (math.IsNaN(*v) || *v < lo || *v > hi) {
			return badRequest(name, "%s %v: want a number from %g to %g", name, *v, lo, hi)
		}
		return nil
	}
	for _, c := range []struct {
		name   string
		v      *float64
		lo, hi float64
	}{
		{"temperature", f.Temperature, 0, 2}, {"top_p", f.TopP, 0, 1}, {"min_p", f.MinP, 0, 1},
		{"repeat_penalty", f.RepeatPenalty, 0, 10},
		{"presence_penalty", f.PresencePenalty, -2, 2}, {"frequency_penalty", f.FrequencyPenalty, -2, 2},
	} {
		if err := inRange(c.name, c.v, c.lo, c.hi); err != nil {
			return o, err
		}
	}
	if f.TopK != nil && *f.TopK < 0 {
		return o, badRequest("top_k", "top_k %d: want 0 (all tokens) or more", *f.TopK)
	}
	if f.N != nil && *f.N != 1 {
		return o, badRequest("n", "n %d: only one choice per request is supported", *f.N)
	}
	if len(f.LogitBias) > 0 {
		return o, badRequest("logit_bias", "logit_bias is not supported")
	}
	if len(f.Stop) > maxStops {
		return o, badRequest("stop", "stop has %d strings: at most %d", len(f.Stop), maxStops)
	}
	p := sampling{
		temperature: f.Temperature, topP: f.TopP, topK: f.TopK, minP: f.MinP, repeatPenalty: f.RepeatPenalty,
		presence: f.PresencePenalty, frequency: f.FrequencyPenalty, seed: f.Seed,
	}
	o.Sampling = p.params()
	o.Stop = f.Stop
	return o, nil
}

// maxStops bounds the stop strings of a request.
const maxStops = 16

// maxTokens checks a max_tokens value and sets it in o (with the room the
// prompt must leave for it).
func maxTokens(o *session.Options, name string, v *int) *requestError {
	if v == nil {
		o.Reserve = 1
		return nil
	}
	if *v < 1 {
		return badRequest(name, "%s %d: want 1 or more", name, *v)
	}
	o.MaxTokens, o.Reserve = *v, *v
	return nil
}

// toConversation turns OpenAI messages into a Llama 2 conversation: the
// system (and developer) messages at the start become the system prompt;
// then user and assistant messages, ending with the user's.
func toConversation(msgs []openAIMessage) (chat.Conversation, *requestError) {
	var conv chat.Conversation
	if len(msgs) == 0 {
		return conv, badRequest("messages", "messages is empty: send at least one user message")
	}
	var system []string
	for i, m := range msgs {
		param := fmt.Sprintf("messages[%d]", i)
		for _, extra := range []json.RawMessage{m.Refusal, m.ToolCalls, m.ToolCallID, m.FunctionCall, m.Audio} {
			if !isEmptyJSON(extra) {
				return conv, badRequest(param, "%s: tool calls, audio and refusals are not supported", param)
			}
		}
		switch m.Role {
		case "system", "developer":
			if len(conv.Messages) > 0 {
				return conv, badRequest(param, "%s: a system message must come before the user and assistant messages (Llama 2 has one system prompt)", param)
			}
			system = append(system, m.Content.text)
		case "user":
			conv.Messages = append(conv.Messages, chat.Message{Role: chat.User, Content: m.Content.text})
		case "assistant":
			if len(conv.Messages) == 0 || conv.Messages[len(conv.Messages)-1].Role != chat.User {
				return conv, badRequest(param, "%s: an assistant message must follow a user message", param)
			}
			conv.Messages = append(conv.Messages, chat.Message{Role: chat.Assistant, Content: m.Content.text})
		case "tool", "function":
			return conv, badRequest(param, "%s: role %q: tools are not supported", param, m.Role)
		case "":
			return conv, badRequest(param, "%s: role is missing (want system, user or assistant)", param)
		default:
			return conv, badRequest(param, "%s: unknown role %q (want system, user or assistant)", param, m.Role)
		}
	}
	conv.System = strings.Join(system, "\n\n")
	if len(conv.Messages) == 0 {
		return conv, badRequest("messages", "messages holds only system messages: add a user message")
	}
	if conv.Messages[len(conv.Messages)-1].Role != chat.User {
		return conv, badRequest("messages", "the last message must be the user's: the model answers it")
	}
	return conv, nil
}

// check validates a chat completion request and returns its conversation
// and options.
func (req *chatCompletionRequest) check() (chat.Conversation, session.Options, *requestError) {
	opts, rerr := req.samplingFields.check()
	if rerr != nil {
		return chat.Conversation{}, opts, rerr
	}
	switch {
	case req.Logprobs != nil && *req.Logprobs, req.TopLogprobs != nil && *req.TopLogprobs != 0:
		return chat.Conversation{}, opts, badRequest("logprobs", "logprobs are not supported")
	case req.ResponseFormat != nil && req.ResponseFormat.Type != "" && req.ResponseFormat.Type != "text":
		return chat.Conversation{}, opts, badRequest("response_format", "response_format %q is not supported (only text)", req.ResponseFormat.Type)
	case !isEmptyJSON(req.Tools) || !isEmptyJSON(req.Functions):
		return chat.Conversation{}, opts, badRequest("tools", "tools are not supported")
	}
	for _, m := range req.Modalities {
		if m != "text" {
			return chat.Conversation{}, opts, badRequest("modalities", "modality %q is not supported (only text)", m)
		}
	}
	limit, name := req.MaxTokens, "max_tokens"
	if req.MaxCompletionTokens != nil {
		limit, name = req.MaxCompletionTokens, "max_completion_tokens"
	}
	if rerr := maxTokens(&opts, name, limit); rerr != nil {
		return chat.Conversation{}, opts, rerr
	}
	opts.Policy = chat.StopAtLimit
	conv, rerr := toConversation(req.Messages)
	return conv, opts, rerr
}

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

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []chatChoice `json:"choices"`
	Usage             *openAIUsage `json:"usage,omitempty"`
}

type textChoice struct {
	Text         string    `json:"text"`
	Index        int       `json:"index"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type textCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []textChoice `json:"choices"`
	Usage             *openAIUsage `json:"usage,omitempty"`
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

func ptr[T any](v T) *T { return &v }

// Handlers.

func (s *Server) openAIModels(w http.ResponseWriter, r *http.Request) {
	list, err := s.models.list()
	if err != nil {
		s.writeError(w, r, &requestError{status: http.StatusInternalServerError, message: err.Error()})
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
	if rerr := decodeJSON(w, r, s.cfg.MaxBody, s.bodyTimeout, &req); rerr != nil {
		s.writeError(w, r, rerr)
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
	chunk := func(delta *chatMessageOut, finish *string) chatCompletion {
		return chatCompletion{ID: id, Object: "chat.completion.chunk", Created: created, Model: m.Name,
			SystemFingerprint: s.fingerprint(s.backendHint()),
			Choices:           []chatChoice{{Delta: delta, FinishReason: finish}}}
	}
	var stream *streamWriter
	j := job{model: m, client: clientOf(r), conv: &conv, opts: opts}
	if req.Stream {
		stream = s.newStreamWriter(w, true)
		j.onText = func(text string) error {
			if !stream.started {
				if err := stream.send(chunk(&chatMessageOut{Role: "assistant", Content: ptr("")}, nil)); err != nil {
					return err
				}
			}
			return stream.send(chunk(&chatMessageOut{Content: &text}, nil))
		}
	}
	rec := s.recorder.start(r.Context(), m.Name, conv)
	res, err := s.runner.run(r.Context(), j)
	rec.finish(res, err)
	if err != nil {
		s.failJob(w, r, stream, err)
		return
	}
	reply := res.reply
	if s.replyWasCut(reply) {
		s.failJob(w, r, stream, s.base.Err())
		return
	}
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
	if !stream.started {
		stream.send(chunk(&chatMessageOut{Role: "assistant", Content: ptr("")}, nil))
	}
	if stream.send(chunk(&chatMessageOut{}, &finish)) != nil {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		usage := chunk(nil, nil)
		usage.Choices, usage.Usage = []chatChoice{}, usageOf(reply)
		if stream.send(usage) != nil {
			return
		}
	}
	stream.sendRaw([]byte("[DONE]"))
}

func (s *Server) openAICompletion(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if rerr := decodeJSON(w, r, s.cfg.MaxBody, s.bodyTimeout, &req); rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	opts, rerr := req.samplingFields.check()
	if rerr == nil {
		switch {
		case !req.Prompt.set || req.Prompt.text == "":
			rerr = badRequest("prompt", "prompt is missing or empty")
		case req.Logprobs != nil && *req.Logprobs != 0:
			rerr = badRequest("logprobs", "logprobs are not supported")
		case req.BestOf != nil && *req.BestOf != 1:
			rerr = badRequest("best_of", "best_of %d: only 1 is supported", *req.BestOf)
		case req.Suffix != nil && *req.Suffix != "":
			rerr = badRequest("suffix", "suffix (fill in the middle) is not supported")
		}
	}
	if rerr == nil {
		limit := req.MaxTokens
		if limit == nil {
			limit = ptr(16) // OpenAI's default for completions
		}
		rerr = maxTokens(&opts, "max_tokens", limit)
	}
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
	chunk := func(text string, finish *string) textCompletion {
		return textCompletion{ID: id, Object: "text_completion", Created: created, Model: m.Name,
			SystemFingerprint: s.fingerprint(s.backendHint()),
			Choices:           []textChoice{{Text: text, FinishReason: finish}}}
	}
	var stream *streamWriter
	j := job{model: m, client: clientOf(r), prompt: req.Prompt.text, opts: opts}
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
	res, err := s.runner.run(r.Context(), j)
	if err != nil {
		s.failJob(w, r, stream, err)
		return
	}
	reply := res.reply
	if s.replyWasCut(reply) {
		s.failJob(w, r, stream, s.base.Err())
		return
	}
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
	if !stream.started && req.Echo {
		stream.send(chunk(req.Prompt.text, nil))
	}
	if stream.send(chunk("", &finish)) != nil {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		usage := chunk("", nil)
		usage.Choices, usage.Usage = []textChoice{}, usageOf(reply)
		if stream.send(usage) != nil {
			return
		}
	}
	stream.sendRaw([]byte("[DONE]"))
}

// failJob answers a failed generation: with an error status when nothing
// was sent yet, else as a last event of the stream.
func (s *Server) failJob(w http.ResponseWriter, r *http.Request, stream *streamWriter, err error) {
	rerr := s.jobError(r.Context(), err)
	if rerr.status == 499 {
		return
	}
	if rerr.status >= 500 {
		s.log.Error("generation failed", "path", r.URL.Path, "error", rerr.message)
	}
	if stream == nil || !stream.started {
		if rerr.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
		s.writeError(w, r, rerr)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		stream.send(map[string]string{"error": rerr.message})
		return
	}
	stream.send(openAIErrorBody(rerr))
}

// backendHint names the backend of the most recently loaded model, for
// fingerprints of chunks sent before the generation finished.
func (s *Server) backendHint() string {
	s.runner.mu.Lock()
	defer s.runner.mu.Unlock()
	if n := len(s.runner.loaded); n > 0 {
		return s.runner.loaded[n-1].lm.Model.Backends()[0].Name()
	}
	return "cpu"
}
