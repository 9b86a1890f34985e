// Package chat turns a conversation into the token ids a Llama 2 model
// expects: the Llama 2 chat format (or plain completion for base models),
// the choice between them from a GGUF file's metadata, and the policy that
// decides which turns fit a context of limited size.
//
// Text typed by a person is never parsed for control tokens: BOS and EOS are
// inserted as ids between separately encoded text segments, so a message
// containing "</s>" or "[/INST]" stays text.
package chat

import (
	"errors"
	"fmt"
	"strings"
)

// Role says who wrote a message.
type Role string

// The roles of a conversation.
const (
	System    Role = "system"
	User      Role = "user"
	Assistant Role = "assistant"
)

// Message is one message of a conversation.
type Message struct {
	Role    Role
	Content string
}

// Conversation is a system prompt and the messages that follow it: user and
// assistant messages, starting with a user message, each assistant message
// answering the user message just before it. To ask for a reply, end with a
// user message.
type Conversation struct {
	// System is the system prompt; empty (or only whitespace) for none.
	System   string
	Messages []Message
}

// ErrConversation is wrapped by the errors for conversations that break the
// rules of Conversation.
var ErrConversation = errors.New("invalid conversation")

// turn is a user message and the assistant's reply to it, if there is one.
type turn struct {
	user      int // index into Conversation.Messages
	assistant int // index into Conversation.Messages, or -1 for none
}

// messages returns the indices of the turn's messages.
func (t turn) messages() []int {
	if t.assistant < 0 {
		return []int{t.user}
	}
	return []int{t.user, t.assistant}
}

// turns splits the conversation into turns, checking the order of roles. A
// user message may go unanswered (a reply that failed, say): the next user
// message starts a new turn.
func (c Conversation) turns() ([]turn, error) {
	if len(c.Messages) == 0 {
		return nil, fmt.Errorf("%w: no messages", ErrConversation)
	}
	var ts []turn
	for i, m := range c.Messages {
		switch m.Role {
		case User:
			ts = append(ts, turn{user: i, assistant: -1})
		case Assistant:
			if len(ts) == 0 || ts[len(ts)-1].assistant >= 0 || ts[len(ts)-1].user != i-1 {
				return nil, fmt.Errorf("%w: message %d: an assistant message must follow a user message", ErrConversation, i)
			}
			ts[len(ts)-1].assistant = i
		case System:
			return nil, fmt.Errorf("%w: message %d: the system prompt belongs in Conversation.System, not among the messages", ErrConversation, i)
		default:
			return nil, fmt.Errorf("%w: message %d: unknown role %q", ErrConversation, i, m.Role)
		}
	}
	return ts, nil
}

// Validate reports whether the conversation follows the rules of
// Conversation.
func (c Conversation) Validate() error {
	_, err := c.turns()
	return err
}

// systemPrompt returns the system prompt stripped of surrounding whitespace.
func (c Conversation) systemPrompt() string { return strings.TrimSpace(c.System) }
