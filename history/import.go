package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxImportBytes bounds a conversation file to import; read no more.
const MaxImportBytes = 256 << 20

// Import adds a conversation from its JSON export (see Export), all or
// nothing: a bad file is an ErrInvalid error and writes nothing. The
// conversation keeps the id it had when that id is free here (so export,
// delete, import gives back the same conversation), and otherwise gets a
// new one. Exporting the imported conversation gives the same JSON, except
// for the id when it changed. It returns the conversation's id.
func (s *Store) Import(ctx context.Context, r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	if len(data) > MaxImportBytes {
		return "", fmt.Errorf("%w: import file is larger than %d bytes", ErrInvalid, MaxImportBytes)
	}
	f, err := parseConversation(data)
	if err != nil {
		return "", err
	}
	ec := f.Conversation
	id := ec.ID
	err = s.write(ctx, func(tx *sql.Tx) error {
		var personaID sql.NullInt64
		if ec.Persona != "" {
			err := tx.QueryRowContext(ctx, "SELECT id FROM personas WHERE name_key = ?", PersonaKey(ec.Persona)).Scan(&personaID)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("import: %w", err)
			}
		}
		sampling, err := encodeSampling(ec.Sampling)
		if err != nil {
			return err
		}
		if !validID(id) {
			id = newID()
		}
		for range 10 {
			_, err = tx.ExecContext(ctx, `INSERT INTO conversations(id, title, title_edited, persona_id, persona_name,
				system_prompt, model, sampling_json, overflow_policy, pinned, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				id, ec.Title, ec.TitleEdited, personaID, ec.Persona, ec.SystemPrompt, ec.Model, sampling,
				ec.OverflowPolicy, ec.Pinned, millis(ec.CreatedAt), millis(ec.UpdatedAt))
			if !isUniqueViolation(err) {
				break
			}
			id = newID()
		}
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		stored := make(map[int]int64, len(ec.Messages))
		for _, em := range ec.Messages {
			status := em.Status
			if status == StatusStreaming {
				status = StatusInterrupted // nobody here is streaming it
			}
			m, err := insertMessage(ctx, tx, Message{
				ConversationID: id, ParentID: stored[em.Parent], Role: em.Role, Content: em.Content,
				TokenCount: em.TokenCount, Model: em.Model, Stats: em.Stats, Status: status, Error: em.Error,
				Seed: em.Seed, CreatedAt: em.CreatedAt, UpdatedAt: em.UpdatedAt,
			}, "")
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			stored[em.ID] = m.ID
		}
		if ec.ActiveMessage != 0 {
			if _, err := tx.ExecContext(ctx, "UPDATE conversations SET leaf_id = ? WHERE id = ?", stored[ec.ActiveMessage], id); err != nil {
				return fmt.Errorf("import: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// parseConversation reads and checks a conversation's JSON export without
// storing it. Errors are ErrInvalid and say what is wrong where.
func parseConversation(data []byte) (conversationFile, error) {
	var f conversationFile
	if err := decodeStrict(data, &f); err != nil {
		return f, fmt.Errorf("%w: not a Llamadesk conversation export: %v", ErrInvalid, err)
	}
	if f.Format != ConversationFormat {
		return f, fmt.Errorf("%w: format is %q, want %q", ErrInvalid, f.Format, ConversationFormat)
	}
	if f.Version < 1 || f.Version > conversationFileVersion {
		return f, fmt.Errorf("%w: version %d is not supported (this build reads 1 to %d)", ErrInvalid, f.Version, conversationFileVersion)
	}
	if err := checkConversation(f.Conversation); err != nil {
		return f, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return f, nil
}

// checkConversation validates an imported conversation: sizes, known roles
// and statuses, times present, and a message tree whose parents come
// before their children.
func checkConversation(ec exportConversation) error {
	switch {
	case utf8.RuneCountInString(ec.Title) > maxEditedTitle:
		return fmt.Errorf("title is longer than %d characters", maxEditedTitle)
	case len(ec.SystemPrompt) > maxSystemPrompt:
		return fmt.Errorf("system prompt is longer than %d bytes", maxSystemPrompt)
	case len(ec.Model) > maxModelRef || len(ec.Persona) > 4*maxPersonaName:
		return fmt.Errorf("model or persona name is too long")
	case ec.CreatedAt.IsZero() || ec.UpdatedAt.IsZero():
		return fmt.Errorf("conversation: created_at and updated_at are required")
	}
	if err := ec.Sampling.Validate(); err != nil {
		return err
	}
	if err := checkOverflowPolicy(ec.OverflowPolicy); err != nil {
		return err
	}
	seen := make(map[int]bool, len(ec.Messages))
	for i, m := range ec.Messages {
		where := fmt.Sprintf("message %d (entry %d)", m.ID, i+1)
		switch {
		case m.ID <= 0 || seen[m.ID]:
			return fmt.Errorf("%s: id must be positive and unique", where)
		case m.Parent != 0 && !seen[m.Parent]:
			return fmt.Errorf("%s: parent %d is not an earlier message", where, m.Parent)
		case m.Role != RoleUser && m.Role != RoleAssistant:
			return fmt.Errorf("%s: unknown role %q", where, m.Role)
		case !m.Status.valid():
			return fmt.Errorf("%s: unknown status %q", where, m.Status)
		case len(m.Content) > maxContent:
			return fmt.Errorf("%s: content is longer than %d bytes", where, maxContent)
		case m.TokenCount < 0:
			return fmt.Errorf("%s: negative token_count", where)
		case m.Seed != nil && (*m.Seed < 0 || m.Role != RoleAssistant):
			return fmt.Errorf("%s: a seed must be a reply's, and not negative", where)
		case m.CreatedAt.IsZero() || m.UpdatedAt.IsZero():
			return fmt.Errorf("%s: created_at and updated_at are required", where)
		}
		seen[m.ID] = true
	}
	if ec.ActiveMessage != 0 && !seen[ec.ActiveMessage] {
		return fmt.Errorf("active_message %d is not a message of the file", ec.ActiveMessage)
	}
	return nil
}
