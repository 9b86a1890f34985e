package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/llamadesk/llamadesk/engine/session"
)

// Defaults of the timeouts of a request's I/O: one write of a streamed
// response (a client that stops reading for this long is dropped, and its
// generation stops), and reading a request's body.
const (
	defaultWriteTimeout = 30 * time.Second
	defaultBodyTimeout  = 60 * time.Second
)

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"error":"encoding the response failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// streamWriter writes a streamed response one event at a time: server-sent
// events ("data: {json}\n\n") for OpenAI, NDJSON lines for Ollama. The
// headers go out with the first event, so that errors found before any
// text (a prompt that does not fit) can still get their status code.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	sse     bool
	started bool
	timeout time.Duration
}

func (s *Server) newStreamWriter(w http.ResponseWriter, sse bool) *streamWriter {
	return &streamWriter{w: w, rc: http.NewResponseController(w), sse: sse, timeout: s.writeTimeout}
}

// send writes one event and flushes it to the client.
func (s *streamWriter) send(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	return s.sendRaw(data)
}

// sendRaw writes one event's payload.
func (s *streamWriter) sendRaw(data []byte) error {
	if !s.started {
		h := s.w.Header()
		if s.sse {
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
		} else {
			h.Set("Content-Type", "application/x-ndjson")
		}
		h.Set("X-Accel-Buffering", "no")
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	// The deadline covers this write only: left set, it would fail the
	// next response on a kept-alive connection.
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	defer s.rc.SetWriteDeadline(time.Time{})
	var buf bytes.Buffer
	if s.sse {
		buf.WriteString("data: ")
		buf.Write(data)
		buf.WriteString("\n\n")
	} else {
		buf.Write(data)
		buf.WriteByte('\n')
	}
	if _, err := s.w.Write(buf.Bytes()); err != nil {
		return err
	}
	return s.rc.Flush()
}

// newID returns a response id such as "chatcmpl-3f9a…".
func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// finishReason is OpenAI's name for why a reply ended.
func finishReason(r session.StopReason) string {
	switch r {
	case session.StopMaxTokens, session.StopContextFull:
		return "length"
	}
	return "stop"
}

// jobError turns a generation's failure into the error to answer with.
func (s *Server) jobError(ctx context.Context, err error) *requestError {
	var re *requestError
	switch {
	case errors.As(err, &re):
		return re
	case errors.Is(err, errQueueFull):
		return &requestError{status: http.StatusServiceUnavailable, code: "server_busy",
			message: fmt.Sprintf("the server is busy: %d requests are already waiting; try again later", s.cfg.MaxQueue)}
	case s.base.Err() != nil:
		return &requestError{status: http.StatusServiceUnavailable, message: "the server is shutting down"}
	case ctx.Err() != nil:
		// The client went away; nobody reads this.
		return &requestError{status: 499, message: "the request was cancelled"}
	}
	return internalError(err)
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

// replyWasCut reports whether a reply ended because the server is closing
// (rather than the client leaving): then the client should hear of it.
func (s *Server) replyWasCut(r *session.Reply) bool {
	return r.Reason == session.StopCancelled && s.base.Err() != nil
}

// runJob runs a generation, saving it in the history when it is a
// conversation (--save-history), and answers its failure (see failJob):
// then it returns nil. Only a request granted the engine is saved: one
// refused by a full queue, or whose client left while it waited, never ran.
func (s *Server) runJob(w http.ResponseWriter, r *http.Request, stream *streamWriter, j job) *jobResult {
	var rec *recording
	if j.conv != nil {
		j.onGranted = func() { rec = s.recorder.start(r.Context(), j.model.Name, *j.conv) }
	}
	res, err := s.runner.run(r.Context(), j)
	rec.finish(res, err)
	if err != nil {
		s.failJob(w, r, stream, err)
		return nil
	}
	if s.replyWasCut(res.reply) {
		s.failJob(w, r, stream, s.base.Err())
		return nil
	}
	return res
}
