package server

import (
	"encoding/json"
	"math"
	"strings"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/session"
	"github.com/llamadesk/llamadesk/history"
)

// The Ollama API (https://github.com/ollama/ollama/blob/main/docs/api.md):
// the requests of chat, generate and show, and their checks. The handlers
// and responses are in ollama.go.

// ollamaOptions are the "options" of a chat or generate request. Sampling
// options are honoured; load-time options (num_ctx, num_gpu, num_thread…)
// are accepted and ignored, since the server's flags decide them; options
// of samplers Llamadesk does not have are refused unless left at their
// neutral value.
type ollamaOptions struct {
	Seed             *int64     `json:"seed"`
	NumPredict       *int       `json:"num_predict"`
	TopK             *int       `json:"top_k"`
	TopP             *float64   `json:"top_p"`
	MinP             *float64   `json:"min_p"`
	RepeatLastN      *int       `json:"repeat_last_n"`
	Temperature      *float64   `json:"temperature"`
	RepeatPenalty    *float64   `json:"repeat_penalty"`
	PresencePenalty  *float64   `json:"presence_penalty"`
	FrequencyPenalty *float64   `json:"frequency_penalty"`
	Stop             stringList `json:"stop"`
	TypicalP         *float64   `json:"typical_p"`
	Mirostat         *int       `json:"mirostat"`
	MirostatTau      *float64   `json:"mirostat_tau"`
	MirostatEta      *float64   `json:"mirostat_eta"`
	TFSZ             *float64   `json:"tfs_z"`
	// Accepted and ignored.
	NumKeep         *int  `json:"num_keep"`
	PenalizeNewline *bool `json:"penalize_newline"`
	Numa            *bool `json:"numa"`
	NumCtx          *int  `json:"num_ctx"`
	NumBatch        *int  `json:"num_batch"`
	NumGPU          *int  `json:"num_gpu"`
	MainGPU         *int  `json:"main_gpu"`
	LowVRAM         *bool `json:"low_vram"`
	VocabOnly       *bool `json:"vocab_only"`
	UseMmap         *bool `json:"use_mmap"`
	UseMlock        *bool `json:"use_mlock"`
	NumThread       *int  `json:"num_thread"`
}

type ollamaMessage struct {
	Role      string          `json:"role"`
	Content   string          `json:"content"`
	Images    json.RawMessage `json:"images,omitempty"`
	ToolCalls json.RawMessage `json:"tool_calls,omitempty"`
	ToolName  string          `json:"tool_name,omitempty"`
	Thinking  string          `json:"thinking,omitempty"`
}

type ollamaChatRequest struct {
	Model     string          `json:"model"`
	Messages  []ollamaMessage `json:"messages"`
	Stream    *bool           `json:"stream"`
	Format    json.RawMessage `json:"format"`
	Options   *ollamaOptions  `json:"options"`
	KeepAlive duration        `json:"keep_alive"`
	Tools     json.RawMessage `json:"tools"`
	Think     json.RawMessage `json:"think"`
}

type ollamaGenerateRequest struct {
	Model     string          `json:"model"`
	Prompt    string          `json:"prompt"`
	Suffix    string          `json:"suffix"`
	System    string          `json:"system"`
	Template  string          `json:"template"`
	Context   []int           `json:"context"`
	Stream    *bool           `json:"stream"`
	Raw       bool            `json:"raw"`
	Format    json.RawMessage `json:"format"`
	Images    json.RawMessage `json:"images"`
	Options   *ollamaOptions  `json:"options"`
	KeepAlive duration        `json:"keep_alive"`
	Think     json.RawMessage `json:"think"`
}

type ollamaShowRequest struct {
	Model   string `json:"model"`
	Name    string `json:"name"`
	Verbose bool   `json:"verbose"`
}

// check validates the options and returns the session options.
func (o *ollamaOptions) check() (session.Options, *requestError) {
	var opts session.Options
	if o == nil {
		o = &ollamaOptions{}
	}
	neutral := func(name string, v *float64, want float64) *requestError {
		if v != nil && *v != want && !(want == 1 && *v == 0) {
			return badRequest("options."+name, "option %s is not supported (leave it at %g)", name, want)
		}
		return nil
	}
	for _, err := range []*requestError{neutral("typical_p", o.TypicalP, 1), neutral("tfs_z", o.TFSZ, 1)} {
		if err != nil {
			return opts, err
		}
	}
	if o.Mirostat != nil && *o.Mirostat != 0 {
		return opts, badRequest("options.mirostat", "option mirostat is not supported (leave it at 0)")
	}
	if o.TopK != nil && *o.TopK < 0 {
		o.TopK = history.Ptr(0) // Ollama: top_k ≤ 0 keeps all tokens
	}
	opts.Sampling = samplerParams(history.Sampling{
		Temperature: o.Temperature, TopP: o.TopP, TopK: o.TopK, MinP: o.MinP, RepeatPenalty: o.RepeatPenalty,
		PresencePenalty: o.PresencePenalty, FrequencyPenalty: o.FrequencyPenalty, Seed: o.Seed, RepeatLastN: o.RepeatLastN,
	})
	if err := opts.Sampling.Validate(); err != nil {
		return opts, badRequest("options", "options: %v", strings.TrimPrefix(err.Error(), "sampling: "))
	}
	for _, v := range []*float64{o.Temperature, o.TopP, o.MinP, o.RepeatPenalty, o.PresencePenalty, o.FrequencyPenalty} {
		if v != nil && math.Abs(*v) > 1e6 {
			return opts, badRequest("options", "options: %v is out of range", *v)
		}
	}
	if len(o.Stop) > maxStops {
		return opts, badRequest("options.stop", "stop has %d strings: at most %d", len(o.Stop), maxStops)
	}
	opts.Stop = o.Stop
	if n := o.NumPredict; n != nil {
		switch {
		case *n > 0:
			opts.MaxTokens = *n
		case *n < -2:
			return opts, badRequest("options.num_predict", "num_predict %d: want a positive number, or -1 (no limit) or -2 (fill the context)", *n)
		}
	}
	return opts, nil
}

// checkNoExtras refuses what the server cannot do: structured output
// formats, images, tools and thinking.
func checkNoExtras(format, images, tools, think json.RawMessage) *requestError {
	switch {
	case !isEmptyJSON(format):
		return badRequest("format", "format (structured output) is not supported")
	case !isEmptyJSON(images):
		return badRequest("images", "images are not supported: Llama 2 reads text only")
	case !isEmptyJSON(tools):
		return badRequest("tools", "tools are not supported")
	case !isEmptyJSON(think) && string(think) != "false":
		return badRequest("think", "thinking is not supported by Llama 2 models")
	}
	return nil
}

// ollamaConversation turns Ollama messages into a Llama 2 conversation.
func ollamaConversation(msgs []ollamaMessage) (chat.Conversation, *requestError) {
	conv := make([]openAIMessage, len(msgs))
	for i, m := range msgs {
		if !isEmptyJSON(m.Images) {
			return chat.Conversation{}, badRequest("messages", "messages[%d]: images are not supported: Llama 2 reads text only", i)
		}
		if !isEmptyJSON(m.ToolCalls) || m.ToolName != "" {
			return chat.Conversation{}, badRequest("messages", "messages[%d]: tools are not supported", i)
		}
		conv[i] = openAIMessage{Role: m.Role, Content: messageContent{text: m.Content}}
	}
	return toConversation(conv)
}
