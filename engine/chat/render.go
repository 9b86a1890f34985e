package chat

import "strings"

// Render returns the Llama 2 chat format of the conversation as text, with
// BOS and EOS written as "<s>" and "</s>", for display and debugging; Build
// makes the tokens. A conversation that breaks the rules of Conversation is
// rendered as far as it can be: messages of unknown roles are skipped, and a
// reply that follows no question is rendered after an empty one.
func Render(conv Conversation) string { return Llama2().Render(conv) }

// Render returns the text of the conversation in format f, as Render does;
// for plain completion it is "<s>" followed by the completion text.
func (f Format) Render(conv Conversation) string {
	turns, err := conv.turns()
	if err != nil {
		conv = lenient(conv)
		turns, _ = conv.turns() // nil when there are no messages: nothing to render
	}
	if f.Style == Completion {
		all := make([]int, len(turns))
		for i := range all {
			all[i] = i
		}
		return bosText + completionText(conv, turns, all)
	}
	var sb strings.Builder
	for i, t := range turns {
		text, answered := turnText(conv, t, i == 0)
		sb.WriteString(bosText)
		sb.WriteString(text)
		if answered {
			sb.WriteString(eosText)
		}
	}
	return sb.String()
}

// lenient returns the conversation without messages of other roles than
// user and assistant, and with an empty user message before every reply that
// follows no question.
func lenient(conv Conversation) Conversation {
	fixed := Conversation{System: conv.System}
	for _, m := range conv.Messages {
		switch m.Role {
		case User:
			fixed.Messages = append(fixed.Messages, m)
		case Assistant:
			if n := len(fixed.Messages); n == 0 || fixed.Messages[n-1].Role != User {
				fixed.Messages = append(fixed.Messages, Message{Role: User})
			}
			fixed.Messages = append(fixed.Messages, m)
		}
	}
	return fixed
}
