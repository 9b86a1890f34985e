package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/session"
	"github.com/llamadesk/llamadesk/history"
)

// The OpenAI API (https://platform.openai.com/docs/api-reference): the
// requests' fields Llamadesk knows. Fields it cannot honour are refused
// with a 400 when set to anything but their default; fields that change
// nothing here (user, metadata, store…) are accepted and ignored. The
// handlers and responses are in openai.go.

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
	o.Sampling = samplerParams(history.Sampling{
		Temperature: f.Temperature, TopP: f.TopP, TopK: f.TopK, MinP: f.MinP, RepeatPenalty: f.RepeatPenalty,
		PresencePenalty: f.PresencePenalty, FrequencyPenalty: f.FrequencyPenalty, Seed: f.Seed,
	})
	o.Stop = f.Stop
	return o, nil
}

// includeUsage reports whether a stream should end with the usage.
func (f *samplingFields) includeUsage() bool {
	return f.StreamOptions != nil && f.StreamOptions.IncludeUsage
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

// check validates a completion request and returns its options.
func (req *completionRequest) check() (session.Options, *requestError) {
	opts, rerr := req.samplingFields.check()
	if rerr != nil {
		return opts, rerr
	}
	switch {
	case !req.Prompt.set || req.Prompt.text == "":
		return opts, badRequest("prompt", "prompt is missing or empty")
	case req.Logprobs != nil && *req.Logprobs != 0:
		return opts, badRequest("logprobs", "logprobs are not supported")
	case req.BestOf != nil && *req.BestOf != 1:
		return opts, badRequest("best_of", "best_of %d: only 1 is supported", *req.BestOf)
	case req.Suffix != nil && *req.Suffix != "":
		return opts, badRequest("suffix", "suffix (fill in the middle) is not supported")
	}
	limit := req.MaxTokens
	if limit == nil {
		limit = history.Ptr(16) // OpenAI's default for completions
	}
	rerr = maxTokens(&opts, "max_tokens", limit)
	return opts, rerr
}
