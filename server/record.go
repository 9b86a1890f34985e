package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"strings"
	"sync"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/session"
	"github.com/llamadesk/llamadesk/history"
)

// maxKnownConversations bounds the recorder's memory of conversations it
// can continue.
const maxKnownConversations = 4096

// recorder saves the chat requests the server answers in the history
// (--save-history). A client of a chat API resends the whole conversation
// each turn; when a request's messages are a conversation the recorder saved
// plus one new user message, the turn is added to that conversation instead
// of starting another. Saving never fails a request: problems are logged.
type recorder struct {
	store *history.Store
	log   *slog.Logger
	mu    sync.Mutex
	// known maps the key of a conversation (system prompt and messages,
	// ending with a reply) to its history id.
	known map[[32]byte]string
}

func newRecorder(store *history.Store, log *slog.Logger) *recorder {
	return &recorder{store: store, log: log, known: map[[32]byte]string{}}
}

// conversationKey hashes a system prompt and messages.
func conversationKey(system string, msgs []chat.Message) [32]byte {
	h := sha256.New()
	write := func(s string) {
		binary.Write(h, binary.LittleEndian, uint64(len(s)))
		h.Write([]byte(s))
	}
	write(strings.TrimSpace(system))
	for _, m := range msgs {
		write(string(m.Role))
		write(strings.TrimSpace(m.Content))
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// recording is one request's reply being saved; nil when nothing is saved.
type recording struct {
	r      *recorder
	conv   chat.Conversation
	convID string
	msgID  int64
}

// start saves the request's conversation (or finds it) and starts the
// assistant's reply. A nil recorder saves nothing and returns nil.
func (r *recorder) start(ctx context.Context, model string, conv chat.Conversation) *recording {
	if r == nil || len(conv.Messages) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	last := len(conv.Messages) - 1
	r.mu.Lock()
	convID, ok := r.known[conversationKey(conv.System, conv.Messages[:last])]
	r.mu.Unlock()
	fail := func(err error) *recording {
		r.log.Warn("saving an API conversation in the history failed", "error", err)
		return nil
	}
	if !ok {
		nc := history.NewConversation{Model: model}
		if conv.System != "" {
			nc.SystemPrompt = &conv.System
		}
		c, err := r.store.CreateConversation(ctx, nc)
		if err != nil {
			return fail(err)
		}
		convID = c.ID
		for _, m := range conv.Messages[:last] {
			if m.Role == chat.User {
				if _, err := r.store.AppendUser(ctx, convID, m.Content); err != nil {
					return fail(err)
				}
				continue
			}
			msg, err := r.store.StartAssistant(ctx, convID, model)
			if err != nil {
				return fail(err)
			}
			if err := r.store.FinishAssistant(ctx, msg.ID, history.Finish{Content: m.Content, Status: history.StatusDone}); err != nil {
				return fail(err)
			}
		}
	}
	if _, err := r.store.AppendUser(ctx, convID, conv.Messages[last].Content); err != nil {
		return fail(err)
	}
	msg, err := r.store.StartAssistant(ctx, convID, model)
	if err != nil {
		return fail(err)
	}
	return &recording{r: r, conv: conv, convID: convID, msgID: msg.ID}
}

// finish saves the reply (or the error) and remembers the conversation so
// that its next turn continues it.
func (rec *recording) finish(res *jobResult, jobErr error) {
	if rec == nil {
		return
	}
	ctx := context.Background()
	if jobErr != nil || res == nil {
		msg := "no reply"
		if jobErr != nil {
			msg = jobErr.Error()
		}
		if err := rec.r.store.FinishAssistant(ctx, rec.msgID, history.Finish{Status: history.StatusError, Error: msg}); err != nil {
			rec.r.log.Warn("saving an API reply in the history failed", "error", err)
		}
		return
	}
	reply := res.reply
	status := history.StatusDone
	if reply.Reason == session.StopCancelled {
		status = history.StatusCancelled
	}
	st := reply.Stats
	err := rec.r.store.FinishAssistant(ctx, rec.msgID, history.Finish{
		Content: reply.Text, Status: status, TokenCount: len(reply.Tokens),
		Stats: history.Stats{
			PromptTokens: st.PromptEvaluated, PromptTokensPerSecond: st.PromptTokensPerS,
			GeneratedTokens: st.GeneratedTokens, TokensPerSecond: st.GenTokensPerS,
			TimeToFirstTokenMs: st.TimeToFirstMS, DurationMs: st.TotalMS,
			StopReason: string(reply.Reason), Backend: res.backend, DroppedTurns: reply.Prompt.DroppedTurns,
		},
	})
	if err != nil {
		rec.r.log.Warn("saving an API reply in the history failed", "error", err)
		return
	}
	msgs := append(append([]chat.Message(nil), rec.conv.Messages...), chat.Message{Role: chat.Assistant, Content: reply.Text})
	key := conversationKey(rec.conv.System, msgs)
	rec.r.mu.Lock()
	if len(rec.r.known) >= maxKnownConversations {
		clear(rec.r.known)
	}
	rec.r.known[key] = rec.convID
	rec.r.mu.Unlock()
}
