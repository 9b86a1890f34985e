package app

import (
	"context"
	"errors"

	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/history"
)

// Responder writes the assistant's side of a conversation. The chat
// service (Chat) decides what is saved, when, and which conversation may
// generate; a Responder only turns a conversation into a streamed reply.
// Two kinds exist or are planned: LocalResponder runs the engine on a loaded
// model; a remote one streams from an OpenAI-compatible server.
//
// Everything engine-specific stays behind this interface: the chat format,
// the KV cache and its reuse between turns, which turns are dropped to fit
// the context, the backend. A Response carries those as fields a remote
// responder leaves empty.
//
// Concurrency: the chat service calls Respond for one reply at a time per
// Responder, but Info and (for a Measurer) Measure and TruncateMiddle may be
// called from other goroutines at the same time, and must not wait for a
// reply to finish. Close is called once, after the last Respond returned.
type Responder interface {
	// Info describes the responder for the window's status line and for
	// the conversations it writes in. It does not change over the
	// responder's life and returns at once.
	Info() ResponderInfo

	// Respond generates the reply to req.Conversation, whose last message
	// is the person's (or, with req.Continue, the assistant's reply to go
	// on with). It calls onDelta (never nil) from the calling goroutine as
	// the text grows, in order; the texts of all deltas joined are
	// Response.Text. onDelta must not be called after Respond returns.
	//
	// Cancelling ctx stops the reply soon (the local engine within a
	// fraction of a layer; a remote one by closing its stream): Respond then
	// returns the text so far with StopReason StopCancelled and a nil error.
	// An error means no usable reply: the conversation cannot fit the
	// context (wrap chat.ErrContextFull), the server refused, the
	// connection failed. Errors are shown to a person: say what happened
	// in words (the server's message, not its JSON) and keep the cause
	// wrapped.
	Respond(ctx context.Context, req ReplyRequest, onDelta func(Delta)) (*Response, error)

	// Close releases what the responder holds (a loaded model, idle
	// connections).
	Close() error
}

// Measurer is implemented by responders that can count tokens the way the
// model will (the local engine). The chat service uses it for the token
// count of a draft and to refuse, before saving anything, a message that
// cannot fit the context. Without it a draft is not counted and a message
// too long for a remote model fails when the server says so.
type Measurer interface {
	// Measure reports how req's prompt fits the context, without
	// generating. It must not wait for a reply being generated.
	Measure(ctx context.Context, req ReplyRequest) (Measure, error)
	// TruncateMiddle returns text cut in its middle (the beginning and the
	// end kept, joined by a line holding "…") so that it takes at most
	// maxTokens tokens; text that already fits is returned as it is.
	TruncateMiddle(text string, maxTokens int) string
}

// ResponderInfo describes a Responder. Fields a responder cannot know are
// left empty.
type ResponderInfo struct {
	// Model is the name recorded in the conversations it writes: a model
	// file's name ("llama-2-7b-chat.Q4_K_M.gguf") or a remote model
	// ("remote:box/llama-2-70b-chat").
	Model string
	// Backend says where it runs, in words: "cpu (8 threads)", "gl: …", or
	// a server's address.
	Backend string
	// Format names the prompt format and why it was chosen ("" when the
	// server applies its own).
	Format string
	// Warning is something a person should know about the format, or "".
	Warning string
	// Context is the context size in tokens (0 when unknown).
	Context int
	// CanContinue is true when Respond can go on with a reply that was cut
	// short (ReplyRequest.Continue): the local engine can, a remote model
	// (the OpenAI API has no way to ask for it) cannot. Chat.Continue
	// refuses at once (ErrCannotContinue) when it is false, so a window
	// offers Continue only where it is true (and CanContinue(message)).
	CanContinue bool
}

// ReplyRequest is what a Responder answers.
type ReplyRequest struct {
	// Conversation is the system prompt and the active path's messages. It
	// ends with the person's message, or with Continue, with the partial
	// reply to continue.
	Conversation chat.Conversation
	// Sampling holds the settings the conversation and the reply set;
	// unset fields mean the responder's defaults (a remote responder
	// sends only the set ones). MaxTokens, Stop and Seed are in it too.
	Sampling history.Sampling
	// Policy says what to drop when the conversation outgrows the context
	// (a remote server has its own limits and may ignore it).
	Policy chat.Policy
	// Continue asks for more of the last (assistant) message: the new text
	// follows it directly.
	Continue bool
}

// Delta is a piece of a reply as it streams.
type Delta struct {
	// Text is the new text, whole UTF-8 characters (possibly empty).
	Text string
	// Tokens is how many generated tokens the delta stands for (1 for each
	// token of the local engine; a remote stream's chunk counts as 1; 0
	// when it is not a token, such as held-back text released at the end).
	// The chat service counts them for the live tokens/s.
	Tokens int
}

// StopReason says why a reply ended.
type StopReason string

// The reasons a reply ends. Remote responders map their server's finish
// reason onto these ("stop" → StopEOS or StopString, "length" →
// StopMaxTokens).
const (
	StopEOS         StopReason = "eos"
	StopMaxTokens   StopReason = "max_tokens"
	StopString      StopReason = "stop_string"
	StopCancelled   StopReason = "cancelled"
	StopContextFull StopReason = "context_full"
)

// ReplyStats are the numbers of one reply; zero where unknown.
type ReplyStats struct {
	// PromptTokens is the whole prompt's size; PromptEvaluated how many of
	// them were evaluated now (the rest came from a cache).
	PromptTokens     int     `json:"prompt_tokens"`
	PromptEvaluated  int     `json:"prompt_evaluated"`
	PromptTokensPerS float64 `json:"prompt_tokens_per_s"`
	// GeneratedTokens counts the sampled tokens, a final end of turn
	// included; GenTokensPerS is the speed after the first one.
	GeneratedTokens int     `json:"generated_tokens"`
	GenTokensPerS   float64 `json:"generated_tokens_per_s"`
	TimeToFirstMS   float64 `json:"time_to_first_token_ms"`
	TotalMS         float64 `json:"total_ms"`
}

// Response is a finished (or stopped) reply from a Responder.
type Response struct {
	// Text is the reply's text (with ReplyRequest.Continue, the new text only).
	Text       string
	StopReason StopReason
	// Tokens counts the reply's tokens (0 when unknown).
	Tokens int
	Stats  ReplyStats

	// Engine-specific facts; a remote responder leaves them empty.

	// Backend names where it ran ("cpu", "gl").
	Backend string
	// Format describes the prompt format used.
	Format string
	// Dropped lists the indices (into the request's messages) of messages
	// left out to fit the context; DroppedTurns counts the turns; and
	// DroppedNote says so in words ("" when nothing was dropped).
	Dropped      []int
	DroppedTurns int
	DroppedNote  string
}

// Measure is how a prompt fits a responder's context (see Measurer).
type Measure struct {
	// Context is the context size, and Reserve the room kept for the reply.
	Context, Reserve int
	// MaxContext is the largest context the model was trained for (0 when
	// unknown): when it exceeds Context, a bigger context is a way out.
	MaxContext int
	// PromptTokens is the prompt's size after the overflow policy; when it
	// does not fit, the size of the smallest prompt the policy allows.
	PromptTokens int
	// LastTokens counts the last message's own tokens.
	LastTokens int
	// Framing is what goes beside the last message in the smallest
	// prompt: the system prompt and the format's framing.
	Framing int
	// Earlier is what the earlier messages must take: all of them under the
	// stop-at-limit policy, 0 under the others (which drop them as needed).
	Earlier int
	// DroppedTurns counts the turns the policy would leave out.
	DroppedTurns int
	// Fits is false when the prompt cannot fit whatever the policy drops.
	Fits bool
}

// Room is how many tokens the last message may take.
func (m Measure) Room() int { return m.Context - m.Reserve - m.Framing - m.Earlier }

// ErrNoResponder is returned when a reply is asked for before a model was chosen.
var ErrNoResponder = errors.New("no model is loaded: choose a model first")
