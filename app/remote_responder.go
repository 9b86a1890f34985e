package app

import (
	"context"
	"errors"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/llamadesk/llamadesk/engine/chat"
)

// RemoteResponder is the Responder of a model on a remote OpenAI-compatible
// server: the conversation goes as OpenAI messages (the persona's system
// prompt as the system message), the reply streams back as server-sent
// events, and Stop closes the stream. The server applies its own chat
// format and context limits.
type RemoteResponder struct {
	remote Remote
	model  string
	client *remoteClient
}

// Info describes the remote model.
func (r *RemoteResponder) Info() ResponderInfo {
	where := r.remote.URL
	if u, err := url.Parse(r.remote.URL); err == nil {
		where = u.Host
	}
	return ResponderInfo{
		Model:   RemoteRef(r.remote.Name, r.model),
		Backend: "remote server " + r.remote.Name + " (" + where + ")",
	}
}

// Close releases idle connections.
func (r *RemoteResponder) Close() error {
	if r.client.http == defaultRemoteHTTP {
		return nil // shared with the other remotes
	}
	r.client.http.CloseIdleConnections()
	return nil
}

// remoteMessage is an OpenAI chat message.
type remoteMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// remoteRequest is the chat completion request sent to a remote: only the
// sampling settings the conversation sets, in OpenAI's names (top-k, min-p
// and the repeat penalty have none, and are not sent).
type remoteRequest struct {
	Model            string          `json:"model"`
	Messages         []remoteMessage `json:"messages"`
	Stream           bool            `json:"stream"`
	StreamOptions    map[string]bool `json:"stream_options,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	TopP             *float64        `json:"top_p,omitempty"`
	MaxTokens        *int            `json:"max_tokens,omitempty"`
	Stop             []string        `json:"stop,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	PresencePenalty  *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64        `json:"frequency_penalty,omitempty"`
}

// NoTokenLimit is the token limit of a reply without one (`chat -n -1`):
// the engine stops at the end of text or of the context. A remote server is
// not sent it as max_tokens: OpenAI and vLLM refuse a limit above the
// model's context.
const NoTokenLimit = math.MaxInt32

// ErrRemoteContinue refuses Continue on a remote model.
var ErrRemoteContinue = errors.New("a remote model cannot continue a reply that was cut short (the OpenAI API has no way to ask for it); regenerate it instead")

// Respond streams the reply from the remote server (see Responder).
func (r *RemoteResponder) Respond(ctx context.Context, req ReplyRequest, onDelta func(Delta)) (*Response, error) {
	if req.Continue {
		return nil, ErrRemoteContinue
	}
	body := remoteRequest{Model: r.model, Stream: true, StreamOptions: map[string]bool{"include_usage": true}}
	if sys := strings.TrimSpace(req.Conversation.System); sys != "" {
		body.Messages = append(body.Messages, remoteMessage{Role: "system", Content: sys})
	}
	for _, m := range req.Conversation.Messages {
		role := "user"
		if m.Role == chat.Assistant {
			role = "assistant"
		}
		body.Messages = append(body.Messages, remoteMessage{Role: role, Content: m.Content})
	}
	s := req.Sampling
	body.Temperature, body.TopP, body.MaxTokens, body.Seed = s.Temperature, s.TopP, s.MaxTokens, s.Seed
	body.PresencePenalty, body.FrequencyPenalty = s.PresencePenalty, s.FrequencyPenalty
	body.Stop = s.Stop
	if s.MaxTokens != nil && *s.MaxTokens >= NoTokenLimit {
		body.MaxTokens = nil // the server's own limit applies
	}

	start := time.Now()
	res := &Response{StopReason: StopEOS}
	var text strings.Builder
	var firstAt, lastAt time.Time
	chunks := 0
	err := r.client.streamChat(ctx, body, func(c remoteChunk) error {
		if u := c.Usage; u != nil {
			res.Stats.PromptTokens = u.PromptTokens
			res.Stats.PromptEvaluated = u.PromptTokens
			if d := u.PromptTokensDetails; d != nil && d.CachedTokens <= u.PromptTokens {
				res.Stats.PromptEvaluated = u.PromptTokens - d.CachedTokens
			}
			res.Stats.GeneratedTokens = u.CompletionTokens
			res.Tokens = u.CompletionTokens
		}
		for _, ch := range c.Choices {
			content := ch.Delta.Content
			if content == nil {
				content = ch.Message.Content
			}
			if content != nil && *content != "" {
				now := time.Now()
				if firstAt.IsZero() {
					firstAt = now
				}
				lastAt = now
				chunks++
				text.WriteString(*content)
				onDelta(Delta{Text: *content, Tokens: 1})
			}
			if ch.FinishReason != nil {
				res.StopReason = stopReasonOf(*ch.FinishReason)
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			return nil, err
		}
		res.StopReason = StopCancelled
	}
	end := time.Now()
	res.Text = text.String()
	if res.Stats.GeneratedTokens == 0 {
		res.Stats.GeneratedTokens, res.Tokens = chunks, chunks
	}
	if !firstAt.IsZero() {
		res.Stats.TimeToFirstMS = float64(firstAt.Sub(start).Microseconds()) / 1000
		if d := lastAt.Sub(firstAt).Seconds(); d > 0 && res.Stats.GeneratedTokens > 1 {
			res.Stats.GenTokensPerS = float64(res.Stats.GeneratedTokens-1) / d
		}
	}
	res.Stats.TotalMS = float64(end.Sub(start).Microseconds()) / 1000
	return res, nil
}

// stopReasonOf maps OpenAI's finish_reason onto a StopReason.
func stopReasonOf(finish string) StopReason {
	switch finish {
	case "length":
		return StopMaxTokens
	case "stop", "eos", "":
		return StopEOS
	}
	return StopReason(finish)
}
