package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Role says who wrote a message.
type Role string

// The roles of stored messages. The system prompt is not a message: it is
// part of the conversation.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Status is the state of a message. User messages are always StatusDone.
type Status string

// Message statuses.
const (
	// StatusStreaming: the reply is being generated and saved as it grows.
	StatusStreaming Status = "streaming"
	// StatusDone: the reply ended normally (end of text, token limit, stop string).
	StatusDone Status = "done"
	// StatusCancelled: the person stopped the reply; the partial text is kept.
	StatusCancelled Status = "cancelled"
	// StatusError: generation failed; Message.Error says why.
	StatusError Status = "error"
	// StatusInterrupted: the process died while streaming (see MarkInterrupted).
	StatusInterrupted Status = "interrupted"
)

// valid reports whether s is a known status.
func (s Status) valid() bool {
	switch s {
	case StatusStreaming, StatusDone, StatusCancelled, StatusError, StatusInterrupted:
		return true
	}
	return false
}

// Stats are the numbers of one generated reply.
type Stats struct {
	// PromptTokens counts the prompt tokens evaluated for this reply (after
	// KV-cache reuse).
	PromptTokens          int     `json:"prompt_tokens,omitempty"`
	PromptTokensPerSecond float64 `json:"prompt_tokens_per_second,omitempty"`
	GeneratedTokens       int     `json:"generated_tokens,omitempty"`
	TokensPerSecond       float64 `json:"tokens_per_second,omitempty"`
	TimeToFirstTokenMs    float64 `json:"time_to_first_token_ms,omitempty"`
	DurationMs            float64 `json:"duration_ms,omitempty"`
	// StopReason is why generation ended: "eos", "max_tokens", "stop",
	// "cancelled", "context_full"...
	StopReason string `json:"stop_reason,omitempty"`
	// Backend names where it ran ("cpu", "gl", "metal").
	Backend string `json:"backend,omitempty"`
	// DroppedTurns counts the earliest turns left out to fit the context.
	DroppedTurns int `json:"dropped_turns,omitempty"`
}

// Message is one message of a conversation's tree. Messages with the same
// parent are alternative versions of each other.
type Message struct {
	ID             int64  `json:"id"`
	ConversationID string `json:"conversation_id"`
	// ParentID is the message this one answers or follows (0 for the first).
	ParentID   int64  `json:"parent_id"`
	Role       Role   `json:"role"`
	Content    string `json:"content"`
	TokenCount int    `json:"token_count"`
	Model      string `json:"model,omitempty"`
	Stats      Stats  `json:"stats,omitzero"`
	Status     Status `json:"status"`
	Error      string `json:"error,omitempty"`
	// Seed is the random seed a reply was sampled with (nil for greedy
	// replies, user messages and replies saved before seeds were kept).
	Seed      *int64    `json:"seed,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version (1-based) and Versions place the message among its
	// alternatives; set on messages returned by ActivePath and Thread.
	Version  int `json:"version,omitempty"`
	Versions int `json:"versions,omitempty"`
}

// Finish is how a streamed reply ended.
type Finish struct {
	// Content is the complete text of the reply.
	Content    string
	Status     Status // StatusDone, StatusCancelled, StatusError or StatusInterrupted
	TokenCount int
	Stats      Stats
	// Error says what went wrong when Status is StatusError.
	Error string
	// Seed is the random seed the reply was sampled with (nil: greedy).
	Seed *int64
}

// maxContent bounds one message, in bytes.
const maxContent = 4 << 20

// checkUserText validates text a person wrote.
func checkUserText(content string) error {
	switch {
	case strings.TrimSpace(content) == "":
		return fmt.Errorf("%w: the message is empty", ErrInvalid)
	case len(content) > maxContent:
		return fmt.Errorf("%w: the message is longer than %d bytes", ErrInvalid, maxContent)
	case !utf8.ValidString(content):
		return fmt.Errorf("%w: the message is not valid UTF-8", ErrInvalid)
	}
	return nil
}

// cleanReply makes generated text storable: invalid UTF-8 becomes U+FFFD.
// Replies are never refused, so that nothing generated is lost.
func cleanReply(content string) string {
	return strings.ToValidUTF8(content, "\uFFFD")
}

const messageColumns = `id, conversation_id, COALESCE(parent_id, 0), role, content, token_count, model,
	stats_json, status, error, seed, created_at, updated_at`

// scanMessage reads one row of messageColumns.
func scanMessage(row interface{ Scan(...any) error }) (Message, error) {
	var m Message
	var stats string
	var created, updated int64
	var seed sql.NullInt64
	err := row.Scan(&m.ID, &m.ConversationID, &m.ParentID, &m.Role, &m.Content, &m.TokenCount, &m.Model,
		&stats, &m.Status, &m.Error, &seed, &created, &updated)
	if err != nil {
		return m, err
	}
	if seed.Valid {
		m.Seed = &seed.Int64
	}
	if stats != "" && stats != "{}" {
		if err := json.Unmarshal([]byte(stats), &m.Stats); err != nil {
			return m, fmt.Errorf("message %d: decode stats: %w", m.ID, err)
		}
	}
	m.CreatedAt, m.UpdatedAt = fromMillis(created), fromMillis(updated)
	return m, nil
}

// getMessage loads one message.
func getMessage(ctx context.Context, q queryRower, id int64) (Message, error) {
	m, err := scanMessage(q.QueryRowContext(ctx, "SELECT "+messageColumns+" FROM messages WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("message %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("message %d: %w", id, err)
	}
	return m, nil
}

// insertMessage inserts m (its ID is ignored) and returns it with its ID.
// writer is the session streaming it ("" for none, see writers.go).
func insertMessage(ctx context.Context, tx *sql.Tx, m Message, writer string) (Message, error) {
	stats, err := json.Marshal(m.Stats)
	if err != nil {
		return m, fmt.Errorf("encode stats: %w", err)
	}
	var parent sql.NullInt64
	if m.ParentID != 0 {
		parent = sql.NullInt64{Int64: m.ParentID, Valid: true}
	}
	var w sql.NullString
	if writer != "" {
		w = sql.NullString{String: writer, Valid: true}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO messages(conversation_id, parent_id, role, content, token_count,
		model, stats_json, status, error, seed, writer, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ConversationID, parent, m.Role, m.Content, m.TokenCount, m.Model, string(stats), m.Status, m.Error,
		m.Seed, w, millis(m.CreatedAt), millis(m.UpdatedAt))
	if err != nil {
		return m, fmt.Errorf("save message: %w", err)
	}
	if m.ID, err = res.LastInsertId(); err != nil {
		return m, fmt.Errorf("save message: %w", err)
	}
	return m, nil
}

// setLeaf makes leaf the end of the conversation's active path and marks
// the conversation updated; title, when not nil, becomes its automatic title.
func setLeaf(ctx context.Context, tx *sql.Tx, conversationID string, leaf int64, t time.Time, title *string) error {
	if title != nil {
		return updateConversation(ctx, tx, conversationID, "leaf_id = ?, updated_at = ?, title = ?", leaf, millis(t), *title)
	}
	return updateConversation(ctx, tx, conversationID, "leaf_id = ?, updated_at = ?", leaf, millis(t))
}

// AppendUser adds a message from the person at the end of the active path
// (the first one also titles the conversation, unless a person set the
// title) and returns it.
func (s *Store) AppendUser(ctx context.Context, conversationID, content string) (Message, error) {
	if err := checkUserText(content); err != nil {
		return Message{}, err
	}
	var m Message
	err := s.write(ctx, func(tx *sql.Tx) error {
		c, err := getConversation(ctx, tx, conversationID)
		if err != nil {
			return err
		}
		t := now()
		m, err = insertMessage(ctx, tx, Message{ConversationID: c.ID, ParentID: c.LeafID, Role: RoleUser,
			Content: content, Status: StatusDone, CreatedAt: t, UpdatedAt: t}, "")
		if err != nil {
			return err
		}
		var title *string
		if !c.TitleEdited && c.Title == "" {
			title = Ptr(TitleFrom(content))
		}
		return setLeaf(ctx, tx, c.ID, m.ID, t, title)
	})
	return m, err
}

// StartAssistant creates the assistant's reply to the user message that
// ends the active path, empty and with StatusStreaming, so that its text can
// be saved as it grows (UpdateContent) and completed (FinishAssistant).
// model "" means the conversation's model.
func (s *Store) StartAssistant(ctx context.Context, conversationID, model string) (Message, error) {
	var m Message
	err := s.write(ctx, func(tx *sql.Tx) error {
		c, err := getConversation(ctx, tx, conversationID)
		if err != nil {
			return err
		}
		if c.LeafID == 0 {
			return fmt.Errorf("%w: conversation %s has no message to reply to", ErrInvalid, c.ID)
		}
		leaf, err := getMessage(ctx, tx, c.LeafID)
		if err != nil {
			return err
		}
		if leaf.Role != RoleUser {
			return fmt.Errorf("%w: conversation %s: the last message is not from the user", ErrInvalid, c.ID)
		}
		if model == "" {
			model = c.Model
		}
		t := now()
		m, err = insertMessage(ctx, tx, Message{ConversationID: c.ID, ParentID: leaf.ID, Role: RoleAssistant,
			Model: model, Status: StatusStreaming, CreatedAt: t, UpdatedAt: t}, s.session.id)
		if err != nil {
			return err
		}
		return setLeaf(ctx, tx, c.ID, m.ID, t, nil)
	})
	return m, err
}

// UpdateContent saves the text generated so far for a streaming reply. The
// caller chooses how often (every 250 ms, say): each call is one small
// committed transaction, so a crash keeps what was saved. A reply that
// MarkInterrupted marked interrupted becomes streaming again.
func (s *Store) UpdateContent(ctx context.Context, messageID int64, content string) error {
	content = cleanReply(content)
	if len(content) > maxContent {
		return fmt.Errorf("%w: reply %d is longer than %d bytes", ErrInvalid, messageID, maxContent)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET content = ?, status = 'streaming', writer = ?, updated_at = ?
			WHERE id = ? AND role = 'assistant' AND status IN ('streaming', 'interrupted')`,
			content, s.session.id, millis(now()), messageID)
		if err != nil {
			return fmt.Errorf("update reply %d: %w", messageID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		m, err := getMessage(ctx, tx, messageID)
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: message %d is a %s message with status %s, not a streaming reply", ErrInvalid, m.ID, m.Role, m.Status)
	})
}

// FinishAssistant stores the final text, status and stats of a reply.
func (s *Store) FinishAssistant(ctx context.Context, messageID int64, f Finish) error {
	if !f.Status.valid() || f.Status == StatusStreaming {
		return fmt.Errorf("%w: finish reply %d with status %q", ErrInvalid, messageID, f.Status)
	}
	content := cleanReply(f.Content)
	if len(content) > maxContent {
		return fmt.Errorf("%w: reply %d is longer than %d bytes", ErrInvalid, messageID, maxContent)
	}
	stats, err := json.Marshal(f.Stats)
	if err != nil {
		return fmt.Errorf("encode stats: %w", err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		m, err := getMessage(ctx, tx, messageID)
		if err != nil {
			return err
		}
		if m.Role != RoleAssistant {
			return fmt.Errorf("%w: message %d is not a reply", ErrInvalid, m.ID)
		}
		t := millis(now())
		_, err = tx.ExecContext(ctx, `UPDATE messages SET content = ?, status = ?, token_count = ?, stats_json = ?,
			error = ?, seed = ?, writer = NULL, updated_at = ? WHERE id = ?`,
			content, f.Status, f.TokenCount, string(stats), cleanReply(f.Error), f.Seed, t, m.ID)
		if err != nil {
			return fmt.Errorf("finish reply %d: %w", m.ID, err)
		}
		return updateConversation(ctx, tx, m.ConversationID, "updated_at = ?", t)
	})
}

// MarkInterrupted marks interrupted the streaming replies no live process
// is writing: those whose writer session ended (its process died, however:
// see writers.go; Open does this too), and those saved without a session
// (by release 1) that were not updated for idle. It returns how many it
// marked. A reply another process is writing is never touched, however
// long its prompt takes.
func (s *Store) MarkInterrupted(ctx context.Context, idle time.Duration) (int, error) {
	return s.markOrphans(ctx, idle)
}

// EditUser keeps a user message and adds content as its new version (a
// sibling), which ends the active path; the caller then starts a new reply
// with StartAssistant. Editing the first message re-titles the
// conversation unless a person set the title.
func (s *Store) EditUser(ctx context.Context, messageID int64, content string) (Message, error) {
	if err := checkUserText(content); err != nil {
		return Message{}, err
	}
	var m Message
	err := s.write(ctx, func(tx *sql.Tx) error {
		orig, err := getMessage(ctx, tx, messageID)
		if err != nil {
			return err
		}
		if orig.Role != RoleUser {
			return fmt.Errorf("%w: message %d is not from the user", ErrInvalid, orig.ID)
		}
		c, err := getConversation(ctx, tx, orig.ConversationID)
		if err != nil {
			return err
		}
		t := now()
		m, err = insertMessage(ctx, tx, Message{ConversationID: c.ID, ParentID: orig.ParentID, Role: RoleUser,
			Content: content, Status: StatusDone, CreatedAt: t, UpdatedAt: t}, "")
		if err != nil {
			return err
		}
		var title *string
		if !c.TitleEdited && orig.ParentID == 0 {
			title = Ptr(TitleFrom(content))
		}
		return setLeaf(ctx, tx, c.ID, m.ID, t, title)
	})
	return m, err
}

// Regenerate keeps the reply messageID and starts a new version of it (a
// sibling, empty and streaming) that ends the active path. model "" means
// the conversation's model.
func (s *Store) Regenerate(ctx context.Context, messageID int64, model string) (Message, error) {
	var m Message
	err := s.write(ctx, func(tx *sql.Tx) error {
		orig, err := getMessage(ctx, tx, messageID)
		if err != nil {
			return err
		}
		if orig.Role != RoleAssistant {
			return fmt.Errorf("%w: message %d is not a reply", ErrInvalid, orig.ID)
		}
		c, err := getConversation(ctx, tx, orig.ConversationID)
		if err != nil {
			return err
		}
		if model == "" {
			model = c.Model
		}
		t := now()
		m, err = insertMessage(ctx, tx, Message{ConversationID: c.ID, ParentID: orig.ParentID, Role: RoleAssistant,
			Model: model, Status: StatusStreaming, CreatedAt: t, UpdatedAt: t}, s.session.id)
		if err != nil {
			return err
		}
		return setLeaf(ctx, tx, c.ID, m.ID, t, nil)
	})
	return m, err
}

// SwitchTo makes the branch through messageID the active path: it ends at
// the newest message below messageID (following the newest reply at each
// step). Use it to show another version of a message.
func (s *Store) SwitchTo(ctx context.Context, messageID int64) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		m, err := getMessage(ctx, tx, messageID)
		if err != nil {
			return err
		}
		leaf := m.ID
		for {
			var child int64
			err := tx.QueryRowContext(ctx, "SELECT id FROM messages WHERE parent_id = ? ORDER BY id DESC LIMIT 1", leaf).Scan(&child)
			if errors.Is(err, sql.ErrNoRows) {
				break
			}
			if err != nil {
				return fmt.Errorf("switch to message %d: %w", messageID, err)
			}
			leaf = child
		}
		return updateConversation(ctx, tx, m.ConversationID, "leaf_id = ?", leaf)
	})
}
