package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Conversation is one chat: a snapshot of the persona's system prompt and
// the model and sampling settings it runs with, and a tree of messages
// whose active path ends at LeafID.
type Conversation struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// TitleEdited is true when a person set the title; otherwise it follows
	// the first user message.
	TitleEdited bool `json:"title_edited"`
	// Persona is the name of the persona it was started with ("" for none);
	// the persona may since have been edited or deleted.
	Persona      string   `json:"persona"`
	SystemPrompt string   `json:"system_prompt"`
	Model        string   `json:"model"`
	Sampling     Sampling `json:"sampling"`
	// OverflowPolicy is what to drop when the conversation outgrows the
	// context: one of OverflowPolicies, or "" for the default (the first).
	OverflowPolicy string    `json:"overflow_policy,omitempty"`
	Pinned         bool      `json:"pinned"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	// LeafID is the last message of the active path (0 when there is none).
	LeafID int64 `json:"leaf_id"`
	// MessageCount counts every message, alternatives included.
	MessageCount int `json:"message_count"`
}

// NewConversation describes a conversation to create.
type NewConversation struct {
	// Persona names the persona to start from ("" for none).
	Persona string
	// SystemPrompt, when not nil, replaces the persona's system prompt.
	SystemPrompt *string
	// Model is the model to use; "" takes the persona's preferred model.
	Model string
	// Sampling overlays the persona's sampling defaults.
	Sampling Sampling
	// Title is an initial title set by the person; "" follows the first
	// user message.
	Title string
	// OverflowPolicy is the context overflow policy ("" for the default;
	// see OverflowPolicies).
	OverflowPolicy string
}

// OverflowPolicies returns the names of the context overflow policies a
// conversation may keep, the default first (engine/chat's policy names; a
// test in app checks they agree).
func OverflowPolicies() []string {
	return []string{"keep-system-drop-oldest", "truncate-middle", "stop-at-limit"}
}

// checkOverflowPolicy accepts "" and the names of OverflowPolicies.
func checkOverflowPolicy(name string) error {
	if name == "" || slices.Contains(OverflowPolicies(), name) {
		return nil
	}
	return fmt.Errorf("%w: unknown context overflow policy %q (want %s)", ErrInvalid, name, strings.Join(OverflowPolicies(), ", "))
}

// SetOverflowPolicy changes a conversation's context overflow policy ("" for
// the default); later replies use it.
func (s *Store) SetOverflowPolicy(ctx context.Context, id, policy string) error {
	if err := checkOverflowPolicy(policy); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		return updateConversation(ctx, tx, id, "overflow_policy = ?", policy)
	})
}

// ConversationSettings are the settings of a conversation that may change
// after it started.
type ConversationSettings struct {
	SystemPrompt string
	Model        string
	Sampling     Sampling
}

// maxTitle bounds an automatic title, in characters.
const maxTitle = 60

// maxEditedTitle bounds a title a person sets, in characters.
const maxEditedTitle = 200

// TitleFrom makes a conversation title from a message: whitespace runs
// become single spaces, and text over 60 characters is cut at a word
// boundary and ends with "…".
func TitleFrom(text string) string {
	t := strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(t) <= maxTitle {
		return t
	}
	cut := truncateRunes(t, maxTitle-1)
	if i := strings.LastIndexByte(cut, ' '); i >= len(cut)/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:.-") + "…"
}

// CreateConversation starts a conversation. With a persona, the persona's
// system prompt, preferred model and sampling defaults are copied into it
// (nc's fields, where set, take precedence). A persona that does not exist
// is ErrNotFound.
func (s *Store) CreateConversation(ctx context.Context, nc NewConversation) (Conversation, error) {
	if err := nc.Sampling.Validate(); err != nil {
		return Conversation{}, err
	}
	title := strings.Join(strings.Fields(nc.Title), " ")
	if utf8.RuneCountInString(title) > maxEditedTitle || !utf8.ValidString(title) {
		return Conversation{}, fmt.Errorf("%w: title is longer than %d characters or not UTF-8", ErrInvalid, maxEditedTitle)
	}
	if nc.SystemPrompt != nil && (len(*nc.SystemPrompt) > maxSystemPrompt || !utf8.ValidString(*nc.SystemPrompt)) {
		return Conversation{}, fmt.Errorf("%w: system prompt is longer than %d bytes or not UTF-8", ErrInvalid, maxSystemPrompt)
	}
	if err := checkOverflowPolicy(nc.OverflowPolicy); err != nil {
		return Conversation{}, err
	}
	var id string
	err := s.write(ctx, func(tx *sql.Tx) error {
		var personaID sql.NullInt64
		var c Conversation
		if nc.Persona != "" {
			p, err := getPersona(ctx, tx, nc.Persona)
			if err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, "SELECT id FROM personas WHERE name_key = ?", PersonaKey(nc.Persona)).Scan(&personaID); err != nil {
				return fmt.Errorf("persona %q: %w", nc.Persona, err)
			}
			c.Persona, c.SystemPrompt, c.Model, c.Sampling = p.Name, p.SystemPrompt, p.Model, p.Sampling
		}
		if nc.SystemPrompt != nil {
			c.SystemPrompt = *nc.SystemPrompt
		}
		if nc.Model != "" {
			c.Model = nc.Model
		}
		c.Sampling = c.Sampling.Overlay(nc.Sampling)
		sampling, err := encodeSampling(c.Sampling)
		if err != nil {
			return err
		}
		t := millis(now())
		for range 5 {
			id = newID()
			_, err = tx.ExecContext(ctx, `INSERT INTO conversations(id, title, title_edited, persona_id, persona_name,
				system_prompt, model, sampling_json, overflow_policy, pinned, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
				id, title, title != "", personaID, c.Persona, c.SystemPrompt, c.Model, sampling, nc.OverflowPolicy, t, t)
			if !isUniqueViolation(err) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("create conversation: %w", err)
		}
		return nil
	})
	if err != nil {
		return Conversation{}, err
	}
	return s.Conversation(ctx, id)
}

const conversationColumns = `c.id, c.title, c.title_edited, c.persona_name, c.system_prompt, c.model,
	c.sampling_json, c.overflow_policy, c.pinned, c.created_at, c.updated_at, COALESCE(c.leaf_id, 0),
	(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)`

// scanConversation reads one row of conversationColumns.
func scanConversation(row interface{ Scan(...any) error }) (Conversation, error) {
	var c Conversation
	var sampling string
	var created, updated int64
	err := row.Scan(&c.ID, &c.Title, &c.TitleEdited, &c.Persona, &c.SystemPrompt, &c.Model,
		&sampling, &c.OverflowPolicy, &c.Pinned, &created, &updated, &c.LeafID, &c.MessageCount)
	if err != nil {
		return c, err
	}
	if c.Sampling, err = decodeSampling(sampling); err != nil {
		return c, fmt.Errorf("conversation %s: %w", c.ID, err)
	}
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	return c, nil
}

// Conversation returns the conversation with the given id.
func (s *Store) Conversation(ctx context.Context, id string) (Conversation, error) {
	return getConversation(ctx, s.r, id)
}

func getConversation(ctx context.Context, q queryRower, id string) (Conversation, error) {
	c, err := scanConversation(q.QueryRowContext(ctx, "SELECT "+conversationColumns+" FROM conversations c WHERE c.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("conversation %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("conversation %q: %w", id, err)
	}
	return c, nil
}

// Conversations lists every conversation, pinned ones first, then the most
// recently updated first.
func (s *Store) Conversations(ctx context.Context) ([]Conversation, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+conversationColumns+
		" FROM conversations c ORDER BY c.pinned DESC, c.updated_at DESC, c.num DESC")
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	defer rows.Close()
	var out []Conversation
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, fmt.Errorf("list conversations: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return out, nil
}

// RenameConversation sets the title a person chose. An empty title goes
// back to the automatic one (from the first user message of the active
// path). It keeps UpdatedAt: renaming does not move a conversation up the
// list.
func (s *Store) RenameConversation(ctx context.Context, id, title string) error {
	title = strings.Join(strings.Fields(title), " ")
	if utf8.RuneCountInString(title) > maxEditedTitle || !utf8.ValidString(title) {
		return fmt.Errorf("%w: title is longer than %d characters or not UTF-8", ErrInvalid, maxEditedTitle)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		edited := title != ""
		if !edited {
			path, err := activePath(ctx, tx, id)
			if err != nil {
				return err
			}
			for _, m := range path {
				if m.Role == RoleUser {
					title = TitleFrom(m.Content)
					break
				}
			}
		}
		// A new name is not a new use: UpdatedAt (which orders the list) stays.
		return updateConversation(ctx, tx, id, "title = ?, title_edited = ?", title, edited)
	})
}

// SetPinned pins or unpins a conversation (pinned ones are listed first).
func (s *Store) SetPinned(ctx context.Context, id string, pinned bool) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		return updateConversation(ctx, tx, id, "pinned = ?", pinned)
	})
}

// UpdateSettings changes a conversation's system prompt, model and sampling
// settings; later replies use them.
func (s *Store) UpdateSettings(ctx context.Context, id string, cs ConversationSettings) error {
	if err := cs.Sampling.Validate(); err != nil {
		return err
	}
	if len(cs.SystemPrompt) > maxSystemPrompt || !utf8.ValidString(cs.SystemPrompt) || !utf8.ValidString(cs.Model) {
		return fmt.Errorf("%w: system prompt is longer than %d bytes or not UTF-8", ErrInvalid, maxSystemPrompt)
	}
	sampling, err := encodeSampling(cs.Sampling)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		return updateConversation(ctx, tx, id, "system_prompt = ?, model = ?, sampling_json = ?, updated_at = ?",
			cs.SystemPrompt, cs.Model, sampling, millis(now()))
	})
}

// DeleteConversation deletes a conversation and all its messages.
func (s *Store) DeleteConversation(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM conversations WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("delete conversation %q: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("conversation %q: %w", id, ErrNotFound)
		}
		return nil
	})
}

// updateConversation runs UPDATE conversations SET <set> WHERE id = id,
// reporting ErrNotFound when no row matched.
func updateConversation(ctx context.Context, tx *sql.Tx, id, set string, args ...any) error {
	res, err := tx.ExecContext(ctx, "UPDATE conversations SET "+set+" WHERE id = ?", append(args, id)...)
	if err != nil {
		return fmt.Errorf("update conversation %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("conversation %q: %w", id, ErrNotFound)
	}
	return nil
}
