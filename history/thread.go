package history

import (
	"context"
	"database/sql"
	"fmt"
)

// Reading messages: a conversation's active path, its whole tree, and the
// alternatives of a message (writing them is in message.go).

// Alternatives returns the versions of a message: it and its siblings,
// oldest first.
func (s *Store) Alternatives(ctx context.Context, messageID int64) ([]Message, error) {
	var out []Message
	err := s.read(ctx, func(tx *sql.Tx) error {
		m, err := getMessage(ctx, tx, messageID)
		if err != nil {
			return err
		}
		var parent sql.NullInt64
		if m.ParentID != 0 {
			parent = sql.NullInt64{Int64: m.ParentID, Valid: true}
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+messageColumns+
			" FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY id", m.ConversationID, parent)
		if err != nil {
			return fmt.Errorf("alternatives of message %d: %w", messageID, err)
		}
		out, err = collectMessages(rows)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Version, out[i].Versions = i+1, len(out)
	}
	return out, nil
}

// collectMessages reads rows of messageColumns.
func collectMessages(rows *sql.Rows) ([]Message, error) {
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// allMessages loads every message of a conversation, oldest first.
func allMessages(ctx context.Context, tx *sql.Tx, conversationID string) ([]Message, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+messageColumns+" FROM messages WHERE conversation_id = ? ORDER BY id", conversationID)
	if err != nil {
		return nil, fmt.Errorf("messages of %s: %w", conversationID, err)
	}
	out, err := collectMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("messages of %s: %w", conversationID, err)
	}
	return out, nil
}

// Messages returns every message of a conversation, every version
// included, oldest first.
func (s *Store) Messages(ctx context.Context, conversationID string) ([]Message, error) {
	var out []Message
	err := s.read(ctx, func(tx *sql.Tx) error {
		if _, err := getConversation(ctx, tx, conversationID); err != nil {
			return err
		}
		var err error
		out, err = allMessages(ctx, tx, conversationID)
		return err
	})
	return out, err
}

// ActivePath returns the messages of the active path, first to last, each
// with its Version and Versions.
func (s *Store) ActivePath(ctx context.Context, conversationID string) ([]Message, error) {
	var out []Message
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = activePath(ctx, tx, conversationID)
		return err
	})
	return out, err
}

// activePath computes the active path inside tx.
func activePath(ctx context.Context, tx *sql.Tx, conversationID string) ([]Message, error) {
	c, err := getConversation(ctx, tx, conversationID)
	if err != nil {
		return nil, err
	}
	all, err := allMessages(ctx, tx, conversationID)
	if err != nil {
		return nil, err
	}
	return pathTo(all, c.LeafID), nil
}

// pathTo returns the path from the root to leaf within all (messages of
// one conversation), with versions numbered. A leaf of 0 or one that is
// missing means the newest message.
func pathTo(all []Message, leaf int64) []Message {
	if len(all) == 0 {
		return nil
	}
	byID := make(map[int64]int, len(all))
	siblings := map[int64][]int64{}
	for i, m := range all {
		byID[m.ID] = i
		siblings[m.ParentID] = append(siblings[m.ParentID], m.ID)
	}
	if _, ok := byID[leaf]; !ok {
		leaf = all[len(all)-1].ID
	}
	var path []Message
	for id := leaf; id != 0 && len(path) <= len(all); {
		i, ok := byID[id]
		if !ok {
			break
		}
		path = append(path, all[i])
		id = all[i].ParentID
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	for i := range path {
		sib := siblings[path[i].ParentID]
		path[i].Versions = len(sib)
		for k, id := range sib {
			if id == path[i].ID {
				path[i].Version = k + 1
			}
		}
	}
	return path
}

// Thread is a conversation with the messages of its active path: what a
// chat continues from and what exports show.
type Thread struct {
	Conversation Conversation `json:"conversation"`
	Messages     []Message    `json:"messages"`
}

// Thread loads a conversation and its active path from one snapshot.
func (s *Store) Thread(ctx context.Context, conversationID string) (Thread, error) {
	var t Thread
	err := s.read(ctx, func(tx *sql.Tx) error {
		c, err := getConversation(ctx, tx, conversationID)
		if err != nil {
			return err
		}
		all, err := allMessages(ctx, tx, conversationID)
		if err != nil {
			return err
		}
		t = Thread{Conversation: c, Messages: pathTo(all, c.LeafID)}
		return nil
	})
	return t, err
}

// Turn is one exchange of a chat: what the person said and the reply.
type Turn struct {
	User      string
	Assistant string
	// Replied is false for a turn still waiting for its reply.
	Replied bool
}

// Turns pairs the active path's messages into turns for the chat format.
// Each user message starts a turn; a reply fills the turn it follows (a
// partial reply that was cancelled or interrupted counts). Load the thread
// before starting the reply, so that the last turn is the one to answer.
func (t Thread) Turns() []Turn {
	var turns []Turn
	for _, m := range t.Messages {
		switch m.Role {
		case RoleUser:
			turns = append(turns, Turn{User: m.Content})
		case RoleAssistant:
			if len(turns) == 0 || turns[len(turns)-1].Replied {
				turns = append(turns, Turn{})
			}
			turns[len(turns)-1].Assistant = m.Content
			turns[len(turns)-1].Replied = true
		}
	}
	return turns
}
