package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/session"
)

// The Ollama API (https://github.com/ollama/ollama/blob/main/docs/api.md):
// tags, version, ps, chat, generate and show, with NDJSON streaming.

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
		o.TopK = ptr(0) // Ollama: top_k ≤ 0 keeps all tokens
	}
	s := sampling{
		temperature: o.Temperature, topP: o.TopP, topK: o.TopK, minP: o.MinP, repeatPenalty: o.RepeatPenalty,
		presence: o.PresencePenalty, frequency: o.FrequencyPenalty, seed: o.Seed, repeatLastN: o.RepeatLastN,
	}
	opts.Sampling = s.params()
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

// Responses.

type ollamaDetails struct {
	ParentModel       string   `json:"parent_model"`
	Format            string   `json:"format"`
	Family            string   `json:"family"`
	Families          []string `json:"families"`
	ParameterSize     string   `json:"parameter_size"`
	QuantizationLevel string   `json:"quantization_level"`
}

type ollamaModel struct {
	Name       string        `json:"name"`
	Model      string        `json:"model"`
	ModifiedAt time.Time     `json:"modified_at"`
	Size       int64         `json:"size"`
	Digest     string        `json:"digest"`
	Details    ollamaDetails `json:"details"`
	ExpiresAt  *time.Time    `json:"expires_at,omitempty"`
	SizeVRAM   *int64        `json:"size_vram,omitempty"`
}

// ollamaStats are the numbers of a final response, durations in ns.
type ollamaStats struct {
	DoneReason         string `json:"done_reason,omitempty"`
	TotalDuration      int64  `json:"total_duration,omitempty"`
	LoadDuration       int64  `json:"load_duration,omitempty"`
	PromptEvalCount    int    `json:"prompt_eval_count,omitempty"`
	PromptEvalDuration int64  `json:"prompt_eval_duration,omitempty"`
	EvalCount          int    `json:"eval_count,omitempty"`
	EvalDuration       int64  `json:"eval_duration,omitempty"`
}

type ollamaChatResponse struct {
	Model     string        `json:"model"`
	CreatedAt string        `json:"created_at"`
	Message   ollamaMessage `json:"message"`
	Done      bool          `json:"done"`
	ollamaStats
}

type ollamaGenerateResponse struct {
	Model     string `json:"model"`
	CreatedAt string `json:"created_at"`
	Response  string `json:"response"`
	Done      bool   `json:"done"`
	ollamaStats
}

func nowStamp() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// ollamaDoneReason is Ollama's name for why a reply ended.
func ollamaDoneReason(r session.StopReason) string {
	if finishReason(r) == "length" {
		return "length"
	}
	return "stop"
}

// statsOf returns the final numbers of a job that took total.
func statsOf(res *jobResult, total time.Duration) ollamaStats {
	st := res.reply.Stats
	ttft := time.Duration(st.TimeToFirstMS * float64(time.Millisecond))
	all := time.Duration(st.TotalMS * float64(time.Millisecond))
	return ollamaStats{
		DoneReason:         ollamaDoneReason(res.reply.Reason),
		TotalDuration:      total.Nanoseconds(),
		LoadDuration:       res.loaded.Nanoseconds(),
		PromptEvalCount:    st.PromptEvaluated,
		PromptEvalDuration: ttft.Nanoseconds(),
		EvalCount:          st.GeneratedTokens,
		EvalDuration:       max(all-ttft, 0).Nanoseconds(),
	}
}

// parameterSize writes a parameter count as Ollama does ("6.7B", "110M").
func parameterSize(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0fM", float64(n)/1e6)
	}
	return fmt.Sprint(n)
}

// ollamaModelOf describes a model for /api/tags. The digest identifies the
// file by name, size and time (hashing gigabytes for a listing would take
// minutes); it is not the file's SHA-256.
func ollamaModelOf(m model) ollamaModel {
	mod, _ := statModTime(m.Path())
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d", m.Path(), m.Local.Size, mod.UnixNano()))
	return ollamaModel{
		Name: m.Name, Model: m.Name, ModifiedAt: mod, Size: m.Local.Size, Digest: hex.EncodeToString(h[:]),
		Details: ollamaDetails{Format: "gguf", Family: m.Local.Architecture, Families: []string{m.Local.Architecture},
			ParameterSize: parameterSize(m.Local.Parameters), QuantizationLevel: m.Local.Quantization},
	}
}

// Handlers.

func (s *Server) ollamaVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": s.cfg.Version})
}

func (s *Server) ollamaTags(w http.ResponseWriter, r *http.Request) {
	list, err := s.models.list()
	if err != nil {
		s.writeError(w, r, &requestError{status: http.StatusInternalServerError, message: err.Error()})
		return
	}
	out := make([]ollamaModel, 0, len(list))
	for _, m := range list {
		out = append(out, ollamaModelOf(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
}

func (s *Server) ollamaPS(w http.ResponseWriter, r *http.Request) {
	list, err := s.models.list()
	if err != nil {
		s.writeError(w, r, &requestError{status: http.StatusInternalServerError, message: err.Error()})
		return
	}
	loaded := map[string]bool{}
	for _, n := range s.runner.residentNames() {
		loaded[n] = true
	}
	out := []ollamaModel{}
	for _, m := range list {
		if loaded[m.Name] {
			om := ollamaModelOf(m)
			om.SizeVRAM = ptr(int64(0))
			out = append(out, om)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
}

func (s *Server) ollamaShow(w http.ResponseWriter, r *http.Request) {
	var req ollamaShowRequest
	if rerr := decodeJSON(w, r, s.cfg.MaxBody, s.bodyTimeout, &req); rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	name := req.Model
	if name == "" {
		name = req.Name
	}
	if name == "" {
		s.writeError(w, r, badRequest("model", "model is required"))
		return
	}
	m, rerr := s.models.resolve(name)
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	f, err := gguf.Open(m.Path())
	if err != nil {
		s.writeError(w, r, &requestError{status: http.StatusInternalServerError, message: err.Error()})
		return
	}
	defer f.Close()
	format := chat.DetectNamed(f, m.Path())
	template := format.Template
	if template == "" && format.IsChat() {
		template = "[INST] <<SYS>>\n{{ .System }}\n<</SYS>>\n\n{{ .Prompt }} [/INST]"
	}
	l := m.Local
	info := map[string]any{
		"general.architecture":    l.Architecture,
		"general.parameter_count": l.Parameters,
		"general.name":            l.Name,
	}
	arch := l.Architecture
	if l.Shape.Layers > 0 {
		info[arch+".context_length"] = l.Shape.ContextLength
		info[arch+".embedding_length"] = l.Shape.Embedding
		info[arch+".block_count"] = l.Shape.Layers
		info[arch+".attention.head_count"] = l.Shape.Heads
		info[arch+".attention.head_count_kv"] = l.Shape.KVHeads
	}
	caps := []string{"completion"}
	writeJSON(w, http.StatusOK, map[string]any{
		"modelfile":    fmt.Sprintf("# Llamadesk: %s\nFROM %s\n", m.Name, m.Path()),
		"parameters":   "",
		"template":     template,
		"details":      ollamaModelOf(m).Details,
		"model_info":   info,
		"capabilities": caps,
		"modified_at":  ollamaModelOf(m).ModifiedAt,
		"license":      "",
	})
}

// keepAliveOf returns a request's keep_alive (nil when not set).
func keepAliveOf(d duration) *time.Duration {
	if !d.set {
		return nil
	}
	v := d.d
	if v < 0 {
		v = -1
	}
	return &v
}

func (s *Server) ollamaChat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req ollamaChatRequest
	if rerr := decodeJSON(w, r, s.cfg.MaxBody, s.bodyTimeout, &req); rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	if rerr := checkNoExtras(req.Format, nil, req.Tools, req.Think); rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	m, rerr := s.models.resolve(req.Model)
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	if len(req.Messages) == 0 {
		s.ollamaLoad(w, r, m, req.KeepAlive, func(reason string, load time.Duration) any {
			return ollamaChatResponse{Model: m.Name, CreatedAt: nowStamp(), Message: ollamaMessage{Role: "assistant"}, Done: true,
				ollamaStats: ollamaStats{DoneReason: reason, LoadDuration: load.Nanoseconds(), TotalDuration: time.Since(start).Nanoseconds()}}
		})
		return
	}
	opts, rerr := req.Options.check()
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	conv, rerr := ollamaConversation(req.Messages)
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	opts.Reserve = opts.MaxTokens // 0: the session's default room for the reply
	opts.Policy = chat.KeepSystemDropOldest
	var stream *streamWriter
	j := job{model: m, client: clientOf(r), conv: &conv, opts: opts, keepAlive: keepAliveOf(req.KeepAlive)}
	if req.Stream == nil || *req.Stream {
		stream = s.newStreamWriter(w, false)
		j.onText = func(text string) error {
			return stream.send(ollamaChatResponse{Model: m.Name, CreatedAt: nowStamp(),
				Message: ollamaMessage{Role: "assistant", Content: text}})
		}
	}
	rec := s.recorder.start(r.Context(), m.Name, conv)
	res, err := s.runner.run(r.Context(), j)
	rec.finish(res, err)
	if err != nil {
		s.failJob(w, r, stream, err)
		return
	}
	if s.replyWasCut(res.reply) {
		s.failJob(w, r, stream, s.base.Err())
		return
	}
	final := ollamaChatResponse{Model: m.Name, CreatedAt: nowStamp(), Message: ollamaMessage{Role: "assistant"}, Done: true,
		ollamaStats: statsOf(res, time.Since(start))}
	if stream == nil {
		final.Message.Content = res.reply.Text
		writeJSON(w, http.StatusOK, final)
		return
	}
	if !res.interrupted {
		stream.send(final)
	}
}

func (s *Server) ollamaGenerate(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req ollamaGenerateRequest
	if rerr := decodeJSON(w, r, s.cfg.MaxBody, s.bodyTimeout, &req); rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	if rerr := checkNoExtras(req.Format, req.Images, nil, req.Think); rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	switch {
	case req.Suffix != "":
		s.writeError(w, r, badRequest("suffix", "suffix (fill in the middle) is not supported"))
		return
	case req.Template != "":
		s.writeError(w, r, badRequest("template", "custom templates are not supported: the model's Llama 2 chat format is used (or raw)"))
		return
	case len(req.Context) > 0:
		s.writeError(w, r, badRequest("context", "context (token ids of an earlier reply) is not supported: use /api/chat"))
		return
	}
	m, rerr := s.models.resolve(req.Model)
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	if req.Prompt == "" {
		s.ollamaLoad(w, r, m, req.KeepAlive, func(reason string, load time.Duration) any {
			return ollamaGenerateResponse{Model: m.Name, CreatedAt: nowStamp(), Done: true,
				ollamaStats: ollamaStats{DoneReason: reason, LoadDuration: load.Nanoseconds(), TotalDuration: time.Since(start).Nanoseconds()}}
		})
		return
	}
	opts, rerr := req.Options.check()
	if rerr != nil {
		s.writeError(w, r, rerr)
		return
	}
	opts.Reserve = opts.MaxTokens
	opts.Policy = chat.StopAtLimit
	j := job{model: m, client: clientOf(r), opts: opts, keepAlive: keepAliveOf(req.KeepAlive)}
	if req.Raw {
		j.prompt = req.Prompt
	} else {
		j.conv = &chat.Conversation{System: req.System, Messages: []chat.Message{{Role: chat.User, Content: req.Prompt}}}
	}
	var stream *streamWriter
	if req.Stream == nil || *req.Stream {
		stream = s.newStreamWriter(w, false)
		j.onText = func(text string) error {
			return stream.send(ollamaGenerateResponse{Model: m.Name, CreatedAt: nowStamp(), Response: text})
		}
	}
	var rec *recording
	if j.conv != nil {
		rec = s.recorder.start(r.Context(), m.Name, *j.conv)
	}
	res, err := s.runner.run(r.Context(), j)
	rec.finish(res, err)
	if err != nil {
		s.failJob(w, r, stream, err)
		return
	}
	if s.replyWasCut(res.reply) {
		s.failJob(w, r, stream, s.base.Err())
		return
	}
	final := ollamaGenerateResponse{Model: m.Name, CreatedAt: nowStamp(), Done: true, ollamaStats: statsOf(res, time.Since(start))}
	if stream == nil {
		final.Response = res.reply.Text
		writeJSON(w, http.StatusOK, final)
		return
	}
	if !res.interrupted {
		stream.send(final)
	}
}

// ollamaLoad answers a request without messages or prompt as Ollama does:
// it loads the model (done_reason "load"), or with keep_alive 0 unloads it
// ("unload").
func (s *Server) ollamaLoad(w http.ResponseWriter, r *http.Request, m model, keepAlive duration, reply func(reason string, load time.Duration) any) {
	if keepAlive.set && keepAlive.d == 0 {
		s.runner.unloadNamed(m)
		writeJSON(w, http.StatusOK, reply("unload", 0))
		return
	}
	d, err := s.runner.preload(r.Context(), m, clientOf(r), keepAliveOf(keepAlive))
	if err != nil {
		s.failJob(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusOK, reply("load", d))
}
