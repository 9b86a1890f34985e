package session

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/chat"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/engine/sample"
	"github.com/llamadesk/llamadesk/engine/tokenizer"
	"github.com/llamadesk/llamadesk/internal/goldentest"
)

// chatModel loads the shared chat model (full Llama 2 vocabulary) on the CPU.
func chatModel(tb testing.TB) (*engine.Model, *tokenizer.Tokenizer) {
	tb.Helper()
	f, tok := goldentest.OpenModel(tb, "chat-q4_k_m")
	b := cpu.New(0)
	tb.Cleanup(func() { b.Close() })
	m, err := engine.Load(f, engine.Placement{CPU: b})
	if err != nil {
		tb.Fatal(err)
	}
	return m, tok
}

func newSession(tb testing.TB, m *engine.Model, tok *tokenizer.Tokenizer, ctxLen int) *Session {
	tb.Helper()
	s, err := New(m, tok, chat.Llama2(), ctxLen)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func greedy(max int) Options {
	return Options{Sampling: sample.Params{Temperature: 0}, MaxTokens: max}
}

func conversation(turns ...string) chat.Conversation {
	c := chat.Conversation{System: "You are a Shakespearean poet. Answer every question in verse."}
	for i, t := range turns {
		role := chat.User
		if i%2 == 1 {
			role = chat.Assistant
		}
		c.Messages = append(c.Messages, chat.Message{Role: role, Content: t})
	}
	return c
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestKVReuseSameLogits: the second turn through the reused cache evaluates
// only the new tokens and gives the logits a fresh evaluation gives.
func TestKVReuseSameLogits(t *testing.T) {
	m, tok := chatModel(t)
	ctx := context.Background()
	s := newSession(t, m, tok, 1024)
	first, err := s.Reply(ctx, conversation("Write about the sea."), greedy(12), nil)
	if err != nil {
		t.Fatal(err)
	}
	conv := conversation("Write about the sea.", first.Text, "And what of the moon?")
	second, err := s.Reply(ctx, conv, greedy(12), nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Stats.PromptEvaluated >= second.Stats.PromptTokens/2 {
		t.Errorf("second turn evaluated %d of %d prompt tokens: the cache was not reused", second.Stats.PromptEvaluated, second.Stats.PromptTokens)
	}
	fresh := newSession(t, m, tok, 1024)
	want, err := fresh.Reply(ctx, conv, greedy(12), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want.Stats.PromptEvaluated != want.Stats.PromptTokens {
		t.Errorf("fresh session evaluated %d of %d tokens", want.Stats.PromptEvaluated, want.Stats.PromptTokens)
	}
	if d := maxAbsDiff(s.lastLogits, fresh.lastLogits); d > 1e-3 {
		t.Errorf("logits with and without cache reuse differ by %g", d)
	}
	if !slices.Equal(second.Tokens, want.Tokens) {
		t.Errorf("greedy replies differ:\n reused %v\n fresh  %v", second.Tokens, want.Tokens)
	}
}

// TestRegenerateAndEditRewind: regenerating evaluates one token; editing an
// earlier message rewinds the cache to the change.
func TestRegenerateAndEditRewind(t *testing.T) {
	m, tok := chatModel(t)
	ctx := context.Background()
	s := newSession(t, m, tok, 1024)
	conv := conversation("Write about the sea.", "The sea, the restless sea.", "And what of the moon?")
	a, err := s.Reply(ctx, conv, greedy(8), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Reply(ctx, conv, greedy(8), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Stats.PromptEvaluated != 1 || !slices.Equal(a.Tokens, b.Tokens) {
		t.Errorf("regenerate evaluated %d tokens (want 1); replies %v vs %v", b.Stats.PromptEvaluated, a.Tokens, b.Tokens)
	}
	edited := conversation("Write about the sea.", "The sea, the restless sea.", "And what of the stars?")
	full := chatTokens(t, tok, edited)
	old := chatTokens(t, tok, conv)
	changeAt := commonPrefix(full, old)
	c, err := s.Reply(ctx, edited, greedy(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(full) - changeAt; c.Stats.PromptEvaluated != want {
		t.Errorf("after an edit evaluated %d tokens, want %d (the tokens from the change on)", c.Stats.PromptEvaluated, want)
	}
}

func chatTokens(t *testing.T, tok *tokenizer.Tokenizer, c chat.Conversation) []int32 {
	t.Helper()
	p, err := chat.Build(tok, chat.Llama2(), c, 4096, 0, chat.StopAtLimit)
	if err != nil {
		t.Fatal(err)
	}
	return p.Tokens
}

// TestStopKeepsPartialReply cancels after the third token: the reply ends
// there, says it was cancelled, and keeps its text.
func TestStopKeepsPartialReply(t *testing.T) {
	m, tok := chatModel(t)
	s := newSession(t, m, tok, 512)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var streamed strings.Builder
	n := 0
	r, err := s.Reply(ctx, conversation("Write about the sea."), Options{Sampling: sample.Params{Temperature: 0}}, func(e Event) {
		streamed.WriteString(e.Text)
		n++
		if n == 3 {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Reason != StopCancelled || len(r.Tokens) != 3 {
		t.Fatalf("reason %s after %d tokens, want cancelled after 3", r.Reason, len(r.Tokens))
	}
	if r.Text != streamed.String() || r.Text != tok.Decode(r.Tokens) && r.Text != strings.TrimPrefix(tok.Decode(r.Tokens), " ") {
		t.Errorf("partial text %q, streamed %q, tokens decode to %q", r.Text, streamed.String(), tok.Decode(r.Tokens))
	}
	// The session stays usable after a stop.
	if _, err := s.Reply(context.Background(), conversation("Write about the sea."), greedy(2), nil); err != nil {
		t.Fatal(err)
	}
}

// TestStopDuringPrompt cancels while a long prompt is being evaluated.
func TestStopDuringPrompt(t *testing.T) {
	m, tok := chatModel(t)
	s := newSession(t, m, tok, 4096)
	long := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 250)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	r, err := s.Reply(ctx, conversation(long), greedy(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped %v after the request (prompt %d tokens)", time.Since(start), r.Stats.PromptTokens)
	if r.Reason != StopCancelled || len(r.Tokens) != 0 {
		t.Fatalf("reason %s with %d tokens, want cancelled before any token", r.Reason, len(r.Tokens))
	}
	if s.CachedTokens() != 0 {
		t.Errorf("a cancelled prompt left %d tokens in the cache", s.CachedTokens())
	}
}

func TestSameSeedSameText(t *testing.T) {
	m, tok := chatModel(t)
	opts := Options{Sampling: sample.DefaultParams(), MaxTokens: 16}
	opts.Sampling.Seed = 42
	var texts []string
	for i := 0; i < 2; i++ {
		s := newSession(t, m, tok, 512)
		r, err := s.Reply(context.Background(), conversation("Write about the sea."), opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, r.Text)
		if !utf8.ValidString(r.Text) {
			t.Errorf("invalid UTF-8: %q", r.Text)
		}
	}
	if texts[0] != texts[1] {
		t.Errorf("same seed, different text: %q vs %q", texts[0], texts[1])
	}
}

func TestMaxTokensAndStats(t *testing.T) {
	m, tok := chatModel(t)
	s := newSession(t, m, tok, 512)
	var deltas []string
	r, err := s.Reply(context.Background(), conversation("Write about the sea."), greedy(5), func(e Event) {
		if !utf8.ValidString(e.Text) {
			t.Errorf("event text is not valid UTF-8: %q", e.Text)
		}
		deltas = append(deltas, e.Text)
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Reason != StopMaxTokens || len(r.Tokens) != 5 || strings.Join(deltas, "") != r.Text {
		t.Errorf("reason %s, %d tokens, text %q, deltas %q", r.Reason, len(r.Tokens), r.Text, deltas)
	}
	st := r.Stats
	if st.PromptTokens != st.PromptEvaluated || st.PromptTokensPerS <= 0 || st.GenTokensPerS <= 0 || st.TimeToFirstMS <= 0 || st.GeneratedTokens != 5 {
		t.Errorf("stats %+v", st)
	}
	if r.Prompt.Format.Style != chat.Llama2Chat || len(r.Prompt.Dropped) != 0 {
		t.Errorf("prompt %+v", r.Prompt)
	}
}

// TestOverflowDropsOldestTurns: a conversation longer than the context keeps
// the system prompt and drops the oldest turns, and says so.
func TestOverflowDropsOldestTurns(t *testing.T) {
	m, tok := chatModel(t)
	s := newSession(t, m, tok, 256)
	var turns []string
	for i := 0; i < 12; i++ {
		turns = append(turns, strings.Repeat("Tell me more about the tides. ", 3), "The tides rise and fall with the moon.")
	}
	turns = append(turns, "And the stars?")
	r, err := s.Reply(context.Background(), conversation(turns...), greedy(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Prompt.Dropped) == 0 || r.Prompt.Dropped[0] != 0 {
		t.Fatalf("dropped %v, want the oldest turns", r.Prompt.Dropped)
	}
	sys := tok.Encode("<<SYS>>", false, false)
	if !containsRun(r.Prompt.Tokens, sys) {
		t.Error("the system prompt did not survive")
	}
	strict := Options{Sampling: sample.Params{}, MaxTokens: 4, Policy: chat.StopAtLimit}
	if _, err := s.Reply(context.Background(), conversation(turns...), strict, nil); !errors.Is(err, chat.ErrContextFull) {
		t.Errorf("stop-at-limit: err = %v, want ErrContextFull", err)
	}
}

func containsRun(haystack, needle []int32) bool {
	for i := 0; i+len(needle) <= len(haystack); i++ {
		if slices.Equal(haystack[i:i+len(needle)], needle) {
			return true
		}
	}
	return false
}

func TestStopMatcher(t *testing.T) {
	cases := []struct {
		stops   []string
		pieces  []string
		want    string
		matched bool
	}{
		{nil, []string{"a", "b"}, "ab", false},
		{[]string{"User:"}, []string{"Hello ", "Us", "er", ": hi"}, "Hello ", true},
		{[]string{"User:"}, []string{"Hello ", "Us", "e"}, "Hello Use", false},
		{[]string{"##", "END"}, []string{"x#", "y E", "ND z"}, "x#y ", true},
		{[]string{"é!"}, []string{"caf", "é", "!"}, "caf", true},
		{[]string{""}, []string{"a"}, "a", false},
	}
	for _, c := range cases {
		m := newStopMatcher(c.stops)
		var out strings.Builder
		for _, p := range c.pieces {
			out.WriteString(m.push(p))
		}
		if !m.matched {
			out.WriteString(m.flush())
		}
		if out.String() != c.want || m.matched != c.matched {
			t.Errorf("stops %q pieces %q: got %q matched %v, want %q %v", c.stops, c.pieces, out.String(), m.matched, c.want, c.matched)
		}
	}
}

// BenchmarkSecondTurn measures the second turn of a 2,000-token conversation:
// it evaluates only the new tokens (reported as evaluated/op).
func BenchmarkSecondTurn(b *testing.B) {
	m, tok := chatModel(b)
	s := newSession(b, m, tok, 4096)
	ctx := context.Background()
	history := strings.Repeat("Llamas are domesticated South American camelids. ", 165)
	first := conversation(history)
	r, err := s.Reply(ctx, first, greedy(8), nil)
	if err != nil {
		b.Fatal(err)
	}
	if r.Stats.PromptTokens < 1900 {
		b.Fatalf("first turn has only %d tokens", r.Stats.PromptTokens)
	}
	second := conversation(history, r.Text, "And what do they eat?")
	b.ResetTimer()
	var evaluated, total int
	for i := 0; i < b.N; i++ {
		s.state.Truncate(r.Stats.PromptTokens + len(r.Tokens) - 1)
		r2, err := s.Reply(ctx, second, greedy(1), nil)
		if err != nil {
			b.Fatal(err)
		}
		evaluated, total = r2.Stats.PromptEvaluated, r2.Stats.PromptTokens
	}
	b.ReportMetric(float64(evaluated), "evaluated/op")
	b.ReportMetric(float64(total), "prompt-tokens/op")
}
