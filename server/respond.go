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
	return &requestError{status: http.StatusInternalServerError, message: err.Error()}
}

// replyWasCut reports whether a reply ended because the server is closing
// (rather than the client leaving): then the client should hear of it.
func (s *Server) replyWasCut(r *session.Reply) bool {
	return r.Reason == session.StopCancelled && s.base.Err() != nil
}
