package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/session"
	"github.com/llamadesk/llamadesk/history"
)

// The Ollama API's responses and handlers: tags, version, ps, show, chat
// and generate, streamed as NDJSON. Its requests are in ollama_request.go.

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
		s.writeError(w, r, internalError(err))
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
		s.writeError(w, r, internalError(err))
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
			om.SizeVRAM = history.Ptr(int64(0))
			out = append(out, om)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
}

func (s *Server) ollamaShow(w http.ResponseWriter, r *http.Request) {
	var req ollamaShowRequest
	if !s.decodeRequest(w, r, &req) {
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
		s.writeError(w, r, internalError(err))
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
	if !s.decodeRequest(w, r, &req) {
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
		s.ollamaLoad(w, r, m, req.KeepAlive, start, func(st ollamaStats) any {
			return ollamaChatResponse{Model: m.Name, CreatedAt: nowStamp(), Message: ollamaMessage{Role: "assistant"}, Done: true, ollamaStats: st}
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
	res := s.runJob(w, r, stream, j)
	if res == nil {
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
	if !s.decodeRequest(w, r, &req) {
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
		s.ollamaLoad(w, r, m, req.KeepAlive, start, func(st ollamaStats) any {
			return ollamaGenerateResponse{Model: m.Name, CreatedAt: nowStamp(), Done: true, ollamaStats: st}
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
	res := s.runJob(w, r, stream, j)
	if res == nil {
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
// ("unload"). reply makes the response of the request that came at start
// from its numbers.
func (s *Server) ollamaLoad(w http.ResponseWriter, r *http.Request, m model, keepAlive duration, start time.Time, reply func(ollamaStats) any) {
	stats := func(reason string, load time.Duration) ollamaStats {
		return ollamaStats{DoneReason: reason, LoadDuration: load.Nanoseconds(), TotalDuration: time.Since(start).Nanoseconds()}
	}
	if keepAlive.set && keepAlive.d == 0 {
		s.runner.unloadNamed(m)
		writeJSON(w, http.StatusOK, reply(stats("unload", 0)))
		return
	}
	d, err := s.runner.preload(r.Context(), m, clientOf(r), keepAliveOf(keepAlive))
	if err != nil {
		s.failJob(w, r, nil, err)
		return
	}
	writeJSON(w, http.StatusOK, reply(stats("load", d)))
}
