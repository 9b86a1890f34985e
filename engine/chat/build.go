package chat

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultContext is Llama 2's context size in tokens.
const DefaultContext = 4096

// Text pieces of the Llama 2 chat format.
const (
	instOpen  = "[INST] "
	instClose = " [/INST]"
	sysOpen   = "<<SYS>>\n"
	sysClose  = "\n<</SYS>>\n\n"
	bosText   = "<s>"
	eosText   = "</s>"
)

// Encoder is what Build needs of a tokenizer (engine/tokenizer's Tokenizer
// has it). Encode must tokenize as llama.cpp does for an SPM vocabulary,
// with the space prefix on each call's text.
type Encoder interface {
	Encode(text string, addBOS, parseSpecial bool) []int32
	BOS() int32
	EOS() int32
}

// Policy decides what to leave out when a conversation does not fit the
// context. The zero value is KeepSystemDropOldest.
type Policy int

const (
	// KeepSystemDropOldest keeps the system prompt and drops the oldest
	// turns (a user message and its reply) until the rest fits: the persona
	// survives, as Llama 2's Ghost Attention intends.
	KeepSystemDropOldest Policy = iota
	// TruncateMiddle keeps the system prompt, the first turn and as many of
	// the most recent turns as fit, dropping turns from the middle. When the
	// first and the last turn do not fit together, the first is dropped too.
	TruncateMiddle
	// StopAtLimit drops nothing: a conversation that does not fit is an
	// *OverflowError.
	StopAtLimit
)

var policyNames = [...]string{
	KeepSystemDropOldest: "keep-system-drop-oldest",
	TruncateMiddle:       "truncate-middle",
	StopAtLimit:          "stop-at-limit",
}

// String returns the policy's name, as ParsePolicy reads it.
func (p Policy) String() string {
	if p >= 0 && int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// ParsePolicy reads a policy name as String writes it.
func ParsePolicy(name string) (Policy, error) {
	for p, n := range policyNames {
		if n == name {
			return Policy(p), nil
		}
	}
	return 0, fmt.Errorf("unknown context overflow policy %q (want %s)", name, strings.Join(policyNames[:], ", "))
}

// ErrContextFull is wrapped by every *OverflowError.
var ErrContextFull = errors.New("conversation does not fit the context")

// OverflowError reports a conversation that does not fit: under StopAtLimit
// the whole of it, under the other policies even the system prompt with the
// last turn.
type OverflowError struct {
	// Tokens is the size of the smallest prompt the policy allows.
	Tokens int
	// Limit and Reserve are Build's arguments; the prompt may take
	// Limit-Reserve tokens.
	Limit, Reserve int
	// Minimal is true when Tokens counts only the system prompt and the
	// last turn: nothing more can be dropped.
	Minimal bool
}

// Over returns how many tokens too many the prompt has.
func (e *OverflowError) Over() int { return e.Tokens - (e.Limit - e.Reserve) }

// Error says how large the prompt is against the room the context leaves.
func (e *OverflowError) Error() string {
	what := "the conversation takes"
	if e.Minimal {
		what = "the system prompt and the last message alone take"
	}
	msg := fmt.Sprintf("%s %d tokens, %d over the limit of %d (context %d minus %d reserved for the reply)",
		what, e.Tokens, e.Over(), e.Limit-e.Reserve, e.Limit, e.Reserve)
	if e.Minimal {
		msg += ": shorten them, reserve less for the reply or use a larger context"
	}
	return msg
}

// Unwrap lets errors.Is(err, ErrContextFull) match.
func (e *OverflowError) Unwrap() error { return ErrContextFull }

// Prompt is a conversation made into tokens, with a report of what was left
// out to fit the context.
type Prompt struct {
	// Tokens is the prompt, starting with BOS.
	Tokens []int32
	Format Format
	Policy Policy
	// Limit and Reserve are Build's arguments.
	Limit, Reserve int
	// Dropped holds the indices into Conversation.Messages of the messages
	// left out, in ascending order; nil when everything fits.
	Dropped []int
	// DroppedTurns counts the turns (a user message and its reply) left out.
	DroppedTurns int
	// FullTokens is how many tokens the whole conversation takes; it
	// exceeds len(Tokens) by what dropping saved.
	FullTokens int
}

// Describe says, for a person, how the prompt fits the context, e.g.
// "3 older turns were dropped to fit the context (1812 tokens); the prompt
// takes 3410 of 4096 tokens, 512 kept for the reply".
func (p Prompt) Describe() string {
	fit := fmt.Sprintf("the prompt takes %d of %d tokens, %d kept for the reply", len(p.Tokens), p.Limit, p.Reserve)
	if p.DroppedTurns == 0 {
		return strings.ToUpper(fit[:1]) + fit[1:]
	}
	which := "older "
	if p.Policy == TruncateMiddle && len(p.Dropped) > 0 && p.Dropped[0] > 0 {
		which = "middle "
	}
	noun, verb := "turns", "were"
	if p.DroppedTurns == 1 {
		noun, verb = "turn", "was"
	}
	return fmt.Sprintf("%d %s%s %s dropped to fit the context (%d tokens); %s",
		p.DroppedTurns, which, noun, verb, p.FullTokens-len(p.Tokens), fit)
}

// Build makes the conversation into prompt tokens in the given format, so
// that they fit limit-reserve tokens (limit is the context size, reserve the
// room kept for the reply), leaving turns out as the policy says. In the
// Llama 2 chat format the tokens equal llama.cpp's tokenization (with special
// tokens parsed) of Render's text, except that message text is never parsed
// for special tokens. The last turn is always kept; when it ends with a user
// message the prompt ends with " [/INST]", ready for the reply.
func Build(enc Encoder, f Format, conv Conversation, limit, reserve int, policy Policy) (Prompt, error) {
	if limit <= 0 {
		return Prompt{}, fmt.Errorf("build prompt: context limit %d: want > 0", limit)
	}
	if reserve < 0 || reserve >= limit {
		return Prompt{}, fmt.Errorf("build prompt: reply reserve %d: want 0 to %d (less than the context limit)", reserve, limit-1)
	}
	if policy < 0 || int(policy) >= len(policyNames) {
		return Prompt{}, fmt.Errorf("build prompt: unknown overflow policy %d", int(policy))
	}
	if enc.BOS() < 0 || (f.Style == Llama2Chat && enc.EOS() < 0) {
		return Prompt{}, fmt.Errorf("build prompt: the vocabulary lacks BOS or EOS, which the %s format needs", f.Style)
	}
	turns, err := conv.turns()
	if err != nil {
		return Prompt{}, fmt.Errorf("build prompt: %w", err)
	}
	var b builder
	switch f.Style {
	case Llama2Chat:
		b = newChatBuilder(enc, conv, turns)
	case Completion:
		b = &completionBuilder{enc: enc, conv: conv, turns: turns}
	default:
		return Prompt{}, fmt.Errorf("build prompt: unknown format style %d", int(f.Style))
	}

	budget := limit - reserve
	all := make([]int, len(turns))
	for i := range all {
		all[i] = i
	}
	full := b.size(all)
	p := Prompt{Format: f, Policy: policy, Limit: limit, Reserve: reserve, FullTokens: full}
	kept := all
	if full > budget {
		if policy == StopAtLimit {
			return Prompt{}, fmt.Errorf("build prompt: %w", &OverflowError{Tokens: full, Limit: limit, Reserve: reserve})
		}
		last := len(turns) - 1
		if n := b.size([]int{last}); n > budget {
			return Prompt{}, fmt.Errorf("build prompt: %w", &OverflowError{Tokens: n, Limit: limit, Reserve: reserve, Minimal: true})
		}
		head := []int(nil)
		if policy == TruncateMiddle && last > 0 && b.size([]int{0, last}) <= budget {
			head = []int{0}
		}
		kept = fitTail(b, head, len(head), last, budget)
	}
	p.Tokens = b.tokens(kept)
	p.Dropped, p.DroppedTurns = droppedMessages(turns, kept)
	return p, nil
}

// fitTail returns head followed by the longest run of turns ending with last
// that fits the budget, starting no earlier than turn from. It grows the run
// from the newest turn back, so that it never measures more than fits.
func fitTail(b builder, head []int, from, last, budget int) []int {
	start := last
	for start > from {
		if b.size(withTail(head, start-1, last)) > budget {
			break
		}
		start--
	}
	return withTail(head, start, last)
}

// withTail returns head followed by the turns start..last.
func withTail(head []int, start, last int) []int {
	kept := make([]int, 0, len(head)+last-start+1)
	kept = append(kept, head...)
	for i := start; i <= last; i++ {
		kept = append(kept, i)
	}
	return kept
}

// droppedMessages lists the messages of the turns not kept.
func droppedMessages(turns []turn, kept []int) ([]int, int) {
	keep := make(map[int]bool, len(kept))
	for _, k := range kept {
		keep[k] = true
	}
	var msgs []int
	n := 0
	for i, t := range turns {
		if !keep[i] {
			msgs = append(msgs, t.messages()...)
			n++
		}
	}
	return msgs, n
}

// builder measures and makes the prompt of a subset of a conversation's
// turns (turn indices in ascending order, the system prompt always included).
type builder interface {
	size(kept []int) int
	tokens(kept []int) []int32
}

// chatBuilder makes Llama 2 chat prompts. Turns are separated by BOS and EOS
// ids, so each turn's tokens do not depend on its neighbours and are encoded
// once; only the first kept turn carries the system prompt.
type chatBuilder struct {
	enc    Encoder
	conv   Conversation
	turns  []turn
	system string
	plain  map[int][]int32 // turn → its tokens without the system prompt
	withSy map[int][]int32 // turn → its tokens with the system prompt
}

func newChatBuilder(enc Encoder, conv Conversation, turns []turn) *chatBuilder {
	return &chatBuilder{
		enc: enc, conv: conv, turns: turns, system: conv.systemPrompt(),
		plain: map[int][]int32{}, withSy: map[int][]int32{},
	}
}

// turnTokens returns the tokens of one turn: BOS, "[INST] …user… [/INST]",
// and, if answered, " …assistant… " and EOS.
func (b *chatBuilder) turnTokens(i int, first bool) []int32 {
	cache := b.plain
	if first && b.system != "" {
		cache = b.withSy
	}
	if toks, ok := cache[i]; ok {
		return toks
	}
	text, answered := turnText(b.conv, b.turns[i], first)
	toks := append([]int32{b.enc.BOS()}, b.enc.Encode(text, false, false)...)
	if answered {
		toks = append(toks, b.enc.EOS())
	}
	cache[i] = toks
	return toks
}

func (b *chatBuilder) size(kept []int) int {
	n := 0
	for j, i := range kept {
		n += len(b.turnTokens(i, j == 0))
	}
	return n
}

func (b *chatBuilder) tokens(kept []int) []int32 {
	out := make([]int32, 0, b.size(kept))
	for j, i := range kept {
		out = append(out, b.turnTokens(i, j == 0)...)
	}
	return out
}

// turnText returns the text of one turn between its BOS and EOS, and whether
// the turn has a reply (and so ends with EOS).
func turnText(conv Conversation, t turn, first bool) (string, bool) {
	var sb strings.Builder
	sb.WriteString(instOpen)
	if sys := conv.systemPrompt(); first && sys != "" {
		sb.WriteString(sysOpen)
		sb.WriteString(sys)
		sb.WriteString(sysClose)
	}
	sb.WriteString(strings.TrimSpace(conv.Messages[t.user].Content))
	sb.WriteString(instClose)
	if t.assistant < 0 {
		return sb.String(), false
	}
	sb.WriteByte(' ')
	sb.WriteString(strings.TrimSpace(conv.Messages[t.assistant].Content))
	sb.WriteByte(' ')
	return sb.String(), true
}

// completionBuilder makes plain completion prompts: BOS, then the text of
// the kept turns encoded as one, since nothing separates them.
type completionBuilder struct {
	enc   Encoder
	conv  Conversation
	turns []turn
}

func (b *completionBuilder) size(kept []int) int { return len(b.tokens(kept)) }

func (b *completionBuilder) tokens(kept []int) []int32 {
	return b.enc.Encode(completionText(b.conv, b.turns, kept), true, false)
}

// completionText is the system prompt, a blank line, and the kept messages'
// text as it is, without separators: the model continues the text.
func completionText(conv Conversation, turns []turn, kept []int) string {
	var sb strings.Builder
	if sys := conv.systemPrompt(); sys != "" {
		sb.WriteString(sys)
		sb.WriteString("\n\n")
	}
	for _, i := range kept {
		for _, m := range turns[i].messages() {
			sb.WriteString(conv.Messages[m].Content)
		}
	}
	return sb.String()
}
