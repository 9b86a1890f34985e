// Package session turns a loaded model into a chat partner: a conversation
// (system prompt and turns) goes in, a stream of text comes out. It formats
// the conversation (engine/chat), fits it to the context, reuses the key/value
// cache for the longest common prefix with what the cache already holds,
// samples token by token (engine/sample), stops on EOS, a stop string, the
// token limit, a full context or cancellation, and reports timings.
package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/sample"
	"github.com/llamadesk/llamadesk/engine/tokenizer"
)

// StopReason says why a reply ended.
type StopReason string

// The reasons a reply ends.
const (
	StopEOS         StopReason = "eos"          // the model ended its turn
	StopMaxTokens   StopReason = "max_tokens"   // the reply reached Options.MaxTokens
	StopString      StopReason = "stop_string"  // the reply produced one of Options.Stop
	StopCancelled   StopReason = "cancelled"    // the caller cancelled (the partial reply is kept)
	StopContextFull StopReason = "context_full" // no room was left in the context
)

// Options control one reply.
type Options struct {
	Sampling sample.Params
	// MaxTokens bounds the reply's length; 0 means until EOS or a full context.
	MaxTokens int
	// Stop lists strings that end the reply; the reply stops before them.
	Stop []string
	// Policy decides what to drop when the conversation does not fit.
	Policy chat.Policy
	// Reserve is the room kept for the reply when fitting the prompt
	// (0: MaxTokens when set, else a quarter of the context, at most 1024).
	Reserve int
}

// Event is one step of a streamed reply.
type Event struct {
	// Text is the new text: always whole UTF-8 characters, possibly empty
	// (a token that completes no character, or text held back because it may
	// begin a stop string).
	Text string
	// Token is the generated token id.
	Token int32
}

// Stats are the timings of one reply.
type Stats struct {
	PromptTokens     int     `json:"prompt_tokens"`          // tokens of the whole prompt
	PromptEvaluated  int     `json:"prompt_evaluated"`       // of those, evaluated now (the rest came from the cache)
	PromptTokensPerS float64 `json:"prompt_tokens_per_s"`    // evaluated prompt tokens per second
	GeneratedTokens  int     `json:"generated_tokens"`       // tokens sampled, including a final EOS
	GenTokensPerS    float64 `json:"generated_tokens_per_s"` // generation speed after the first token
	TimeToFirstMS    float64 `json:"time_to_first_token_ms"` // from the request to the first sampled token
	TotalMS          float64 `json:"total_ms"`
}

// Reply is a finished (or stopped) reply.
type Reply struct {
	Text   string
	Tokens []int32
	Reason StopReason
	Stats  Stats
	// Prompt describes the prompt that was evaluated: its format and which
	// turns were dropped to fit the context.
	Prompt chat.Prompt
}

// Session holds a model's context across the turns of one conversation. It
// is used by one goroutine at a time.
type Session struct {
	model  *engine.Model
	tok    *tokenizer.Tokenizer
	format chat.Format
	state  *engine.State
	// lastLogits are the logits that chose the last reply's first token (for tests).
	lastLogits []float32
	// lastSeq is the last reply's prompt and generated tokens (see Continue).
	lastSeq []int32
}

// New creates a session with a context of ctxLen tokens (0: the model's
// training context) using the chat format f.
func New(m *engine.Model, tok *tokenizer.Tokenizer, f chat.Format, ctxLen int) (*Session, error) {
	return NewWith(m, tok, f, engine.StateOptions{Context: ctxLen})
}

// NewWith creates a session whose context o describes (size, KV cache
// type, memory limit) using the chat format f.
func NewWith(m *engine.Model, tok *tokenizer.Tokenizer, f chat.Format, o engine.StateOptions) (*Session, error) {
	st, err := m.NewStateWith(o)
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	return &Session{model: m, tok: tok, format: f, state: st}, nil
}

// Format returns the chat format the session uses.
func (s *Session) Format() chat.Format { return s.format }

// ContextSize returns the number of tokens the context holds.
func (s *Session) ContextSize() int { return s.state.Capacity() }

// CachedTokens returns how many tokens the cache holds.
func (s *Session) CachedTokens() int { return s.state.Len() }

// Reset forgets the cache.
func (s *Session) Reset() { s.state.Truncate(0) }

func (o Options) reserve(ctxLen int) int {
	switch {
	case o.Reserve > 0:
		return min(o.Reserve, ctxLen-1)
	case o.MaxTokens > 0:
		return min(o.MaxTokens, ctxLen/2)
	}
	return min(ctxLen/4, 1024)
}

// Reply builds the prompt of conv (whose last message is the person's),
// evaluates what the cache does not already hold and streams the reply to
// onEvent (which may be nil). A cancelled ctx ends the reply with
// StopCancelled and keeps what was generated. Errors are returned only when
// no reply could be attempted (a conversation that cannot fit, bad options).
func (s *Session) Reply(ctx context.Context, conv chat.Conversation, opts Options, onEvent func(Event)) (*Reply, error) {
	prompt, err := chat.Build(s.tok, s.format, conv, s.state.Capacity(), opts.reserve(s.state.Capacity()), opts.Policy)
	if err != nil {
		return nil, err
	}
	r, err := s.generate(ctx, prompt.Tokens, opts, onEvent, false)
	if r != nil {
		r.Prompt = prompt
	}
	return r, err
}

// Complete continues raw text (a base model's plain completion) through the
// same cache and sampler. The text is tokenized with BOS as the model asks;
// `<s>` and `</s>` stay text.
func (s *Session) Complete(ctx context.Context, text string, opts Options, onEvent func(Event)) (*Reply, error) {
	tokens := s.tok.Encode(text, s.tok.AddBOS(), false)
	if len(tokens) >= s.state.Capacity() {
		return nil, fmt.Errorf("%w: the prompt has %d tokens and the context %d", chat.ErrContextFull, len(tokens), s.state.Capacity())
	}
	return s.generate(ctx, tokens, opts, onEvent, false)
}

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// generate evaluates prompt and samples the reply. With continued, the
// prompt's last token is the end of text already shown (a reply being
// continued): the new text keeps its leading space.
func (s *Session) generate(ctx context.Context, prompt []int32, opts Options, onEvent func(Event), continued bool) (*Reply, error) {
	if len(prompt) == 0 {
		return nil, errors.New("empty prompt")
	}
	s.lastSeq = nil
	sampler, err := sample.New(opts.Sampling)
	if err != nil {
		return nil, err
	}
	if onEvent == nil {
		onEvent = func(Event) {}
	}
	start := time.Now()
	r := &Reply{Stats: Stats{PromptTokens: len(prompt)}}

	// Reuse the cache up to the first difference; at least one token must be
	// evaluated to get the logits of the next one.
	keep := min(commonPrefix(s.state.Tokens(), prompt), len(prompt)-1)
	s.state.Truncate(keep)
	r.Stats.PromptEvaluated = len(prompt) - keep
	logits, err := s.state.Eval(ctx, prompt[keep:], false)
	promptTime := time.Since(start)
	if err != nil {
		s.state.Truncate(keep)
		switch {
		case ctx.Err() != nil:
			r.Reason = StopCancelled
			r.Stats.TotalMS = ms(time.Since(start))
			return r, nil
		case errors.Is(err, engine.ErrContextFull):
			return nil, fmt.Errorf("%w: %v", chat.ErrContextFull, err)
		}
		return nil, err
	}
	if secs := promptTime.Seconds(); secs > 0 {
		r.Stats.PromptTokensPerS = float64(r.Stats.PromptEvaluated) / secs
	}
	s.lastLogits = append(s.lastLogits[:0], logits...)

	recent := append([]int32(nil), prompt...)
	dec := s.tok.NewDecoder()
	if continued {
		dec.Add(prompt[len(prompt)-1]) // only to leave the start of text
	}
	stops := newStopMatcher(opts.Stop)
	var text strings.Builder
	var firstAt time.Time
	emit := func(tok int32, piece string) {
		out := stops.push(piece)
		text.WriteString(out)
		onEvent(Event{Text: out, Token: tok})
	}
	for {
		next := sampler.Sample(logits, recent)
		if firstAt.IsZero() {
			firstAt = time.Now()
			r.Stats.TimeToFirstMS = ms(firstAt.Sub(start))
		}
		r.Stats.GeneratedTokens++
		if s.tok.IsEOG(next) {
			r.Reason = StopEOS
			break
		}
		r.Tokens = append(r.Tokens, next)
		recent = append(recent, next)
		emit(next, dec.Add(next))
		if stops.matched {
			r.Reason = StopString
			break
		}
		if opts.MaxTokens > 0 && len(r.Tokens) >= opts.MaxTokens {
			r.Reason = StopMaxTokens
			break
		}
		if ctx.Err() != nil {
			r.Reason = StopCancelled
			break
		}
		if s.state.Len() >= s.state.Capacity() {
			r.Reason = StopContextFull
			break
		}
		logits, err = s.state.Eval(ctx, []int32{next}, false)
		if err != nil {
			if ctx.Err() != nil {
				r.Reason = StopCancelled
				break
			}
			return nil, err
		}
	}
	if !stops.matched {
		rest := stops.push(dec.Flush()) + stops.flush()
		if rest != "" {
			text.WriteString(rest)
			onEvent(Event{Text: rest, Token: -1})
		}
	}
	r.Text = text.String()
	s.lastSeq = append(append(make([]int32, 0, len(prompt)+len(r.Tokens)), prompt...), r.Tokens...)
	end := time.Now()
	if n := r.Stats.GeneratedTokens - 1; n > 0 {
		r.Stats.GenTokensPerS = float64(n) / end.Sub(firstAt).Seconds()
	}
	r.Stats.TotalMS = ms(end.Sub(start))
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// stopMatcher holds back text that may be the beginning of a stop string and
// reports when one appears.
type stopMatcher struct {
	stops   []string
	pending string
	matched bool
}

func newStopMatcher(stops []string) *stopMatcher {
	m := &stopMatcher{}
	for _, s := range stops {
		if s != "" {
			m.stops = append(m.stops, s)
		}
	}
	return m
}

// push adds text and returns what can be shown: everything before a stop
// string (then matched is set), or everything but a tail that may begin one.
func (m *stopMatcher) push(text string) string {
	if m.matched {
		return ""
	}
	m.pending += text
	if len(m.stops) == 0 {
		out := m.pending
		m.pending = ""
		return out
	}
	cut := -1
	for _, s := range m.stops {
		if i := strings.Index(m.pending, s); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		m.matched = true
		out := m.pending[:cut]
		m.pending = ""
		return out
	}
	hold := 0
	for _, s := range m.stops {
		for n := min(len(s)-1, len(m.pending)); n > hold; n-- {
			if strings.HasSuffix(m.pending, s[:n]) {
				hold = n
				break
			}
		}
	}
	out := m.pending[:len(m.pending)-hold]
	m.pending = m.pending[len(m.pending)-hold:]
	return out
}

// flush returns the held-back text at the end of a reply.
func (m *stopMatcher) flush() string {
	out := m.pending
	m.pending = ""
	return out
}
