package chat

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// longConversation has six turns, the third of them unanswered:
//
//	turn 0: messages 0, 1   turn 1: 2, 3   turn 2: 4
//	turn 3: 5, 6            turn 4: 7, 8   turn 5: 9
var longConversation = Conversation{
	System: "You are a Shakespearean poet. Answer every question in verse.",
	Messages: []Message{
		{User, "Write about the sea."},
		{Assistant, "The sea, the restless sea, doth call to me; its waves like silver horses, wild and free."},
		{User, "And what of the moon?"},
		{Assistant, "The moon, pale sovereign of the night, doth pull the tides with gentle might."},
		{User, "Tell me of the stars, then."},
		{User, "Sorry, I meant the sun."},
		{Assistant, "The sun, that golden eye of heaven's face, doth warm the world with bright embrace."},
		{User, "What of the wind?"},
		{Assistant, "The wind, unseen, a restless ghost, doth wander far from coast to coast."},
		{User, "And lastly, the rain?"},
	},
}

// turnMessages lists the message indices of each turn of longConversation.
var turnMessages = [][]int{{0, 1}, {2, 3}, {4}, {5, 6}, {7, 8}, {9}}

// subConversation keeps only the given turns of longConversation.
func subConversation(turns ...int) Conversation {
	sub := Conversation{System: longConversation.System}
	for _, t := range turns {
		for _, m := range turnMessages[t] {
			sub.Messages = append(sub.Messages, longConversation.Messages[m])
		}
	}
	return sub
}

func messagesOf(turns ...int) []int {
	var msgs []int
	for _, t := range turns {
		msgs = append(msgs, turnMessages[t]...)
	}
	return msgs
}

func span(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// tokensOf builds a conversation with room to spare.
func tokensOf(t *testing.T, f Format, conv Conversation) []int32 {
	t.Helper()
	p, err := Build(tok(t), f, conv, 1<<20, 0, StopAtLimit)
	if err != nil {
		t.Fatal(err)
	}
	return p.Tokens
}

const reserve = 100

func TestKeepSystemDropOldest(t *testing.T) {
	tk := tok(t)
	full := tokensOf(t, Llama2(), longConversation)
	for dropped := 0; dropped <= 5; dropped++ {
		t.Run(fmt.Sprintf("drop %d", dropped), func(t *testing.T) {
			kept := span(dropped, 5)
			want := tokensOf(t, Llama2(), subConversation(kept...))
			limit := len(want) + reserve // exactly enough
			p, err := Build(tk, Llama2(), longConversation, limit, reserve, KeepSystemDropOldest)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Tokens, want) {
				t.Fatalf("tokens differ from the conversation of turns %v", kept)
			}
			if p.DroppedTurns != dropped || !slices.Equal(p.Dropped, messagesOf(span(0, dropped-1)...)) {
				t.Fatalf("dropped messages %v (%d turns), want %v", p.Dropped, p.DroppedTurns, messagesOf(span(0, dropped-1)...))
			}
			if p.FullTokens != len(full) {
				t.Fatalf("FullTokens = %d, want %d", p.FullTokens, len(full))
			}
			// The persona survives: the kept prompt opens with the system block.
			opening := tk.Encode("[INST] <<SYS>>\n"+longConversation.System+"\n<</SYS>>", false, false)
			if !slices.Equal(p.Tokens[1:1+len(opening)], opening) {
				t.Fatal("the prompt does not open with the system prompt")
			}
			// One token less and one more turn must go (or, with only the last
			// turn left, the conversation cannot fit at all).
			p2, err := Build(tk, Llama2(), longConversation, limit-1, reserve, KeepSystemDropOldest)
			if dropped == 5 {
				var oe *OverflowError
				if !errors.As(err, &oe) || !oe.Minimal || oe.Over() != 1 || !errors.Is(err, ErrContextFull) {
					t.Fatalf("error = %v, want a minimal overflow 1 token over", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p2.DroppedTurns <= dropped {
				t.Fatalf("one token less still drops only %d turns", p2.DroppedTurns)
			}
		})
	}
}

func TestTruncateMiddle(t *testing.T) {
	tk := tok(t)
	for tail := 1; tail <= 5; tail++ {
		t.Run(fmt.Sprintf("keep 0 and %d..5", tail), func(t *testing.T) {
			kept := append([]int{0}, span(tail, 5)...)
			want := tokensOf(t, Llama2(), subConversation(kept...))
			p, err := Build(tk, Llama2(), longConversation, len(want)+reserve, reserve, TruncateMiddle)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Tokens, want) {
				t.Fatalf("tokens differ from the conversation of turns %v", kept)
			}
			wantDropped := messagesOf(span(1, tail-1)...)
			if p.DroppedTurns != tail-1 || !slices.Equal(p.Dropped, wantDropped) {
				t.Fatalf("dropped %v (%d turns), want %v", p.Dropped, p.DroppedTurns, wantDropped)
			}
			if tail > 1 && !strings.Contains(p.Describe(), "middle turn") {
				t.Fatalf("Describe() = %q, want it to speak of middle turns", p.Describe())
			}
		})
	}
	t.Run("first and last do not fit together", func(t *testing.T) {
		want := tokensOf(t, Llama2(), subConversation(5))
		p, err := Build(tk, Llama2(), longConversation, len(want)+reserve, reserve, TruncateMiddle)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.Tokens, want) || p.DroppedTurns != 5 {
			t.Fatalf("kept %d tokens, dropped %d turns; want only the last turn with the system prompt", len(p.Tokens), p.DroppedTurns)
		}
		if !strings.HasPrefix(p.Describe(), "5 older turns were dropped") {
			t.Fatalf("Describe() = %q", p.Describe())
		}
	})
	t.Run("too small for the last turn", func(t *testing.T) {
		want := tokensOf(t, Llama2(), subConversation(5))
		_, err := Build(tk, Llama2(), longConversation, len(want)+reserve-3, reserve, TruncateMiddle)
		var oe *OverflowError
		if !errors.As(err, &oe) || !oe.Minimal || oe.Over() != 3 {
			t.Fatalf("error = %v, want a minimal overflow 3 tokens over", err)
		}
	})
}

func TestStopAtLimit(t *testing.T) {
	tk := tok(t)
	full := tokensOf(t, Llama2(), longConversation)
	p, err := Build(tk, Llama2(), longConversation, len(full)+reserve, reserve, StopAtLimit)
	if err != nil || !slices.Equal(p.Tokens, full) || p.Dropped != nil {
		t.Fatalf("exactly enough room: %v, dropped %v", err, p.Dropped)
	}
	_, err = Build(tk, Llama2(), longConversation, len(full)+reserve-7, reserve, StopAtLimit)
	var oe *OverflowError
	if !errors.As(err, &oe) || oe.Minimal || oe.Over() != 7 || oe.Tokens != len(full) {
		t.Fatalf("error = %v, want an overflow of the whole conversation, 7 tokens over", err)
	}
	if !errors.Is(err, ErrContextFull) {
		t.Fatalf("error %v does not wrap ErrContextFull", err)
	}
	wantMsg := fmt.Sprintf("the conversation takes %d tokens, 7 over the limit of %d (context %d minus %d reserved for the reply)",
		len(full), len(full)-7, len(full)+reserve-7, reserve)
	if !strings.Contains(err.Error(), wantMsg) {
		t.Fatalf("error message %q lacks %q", err, wantMsg)
	}
}

func TestPromptDescribe(t *testing.T) {
	tests := []struct {
		p    Prompt
		want string
	}{
		{Prompt{Tokens: make([]int32, 120), Limit: 4096, Reserve: 512, FullTokens: 120},
			"The prompt takes 120 of 4096 tokens, 512 kept for the reply"},
		{Prompt{Tokens: make([]int32, 3000), Limit: 4096, Reserve: 512, FullTokens: 4000, Dropped: []int{0, 1, 2, 3, 4, 5}, DroppedTurns: 3},
			"3 older turns were dropped to fit the context (1000 tokens); the prompt takes 3000 of 4096 tokens, 512 kept for the reply"},
		{Prompt{Tokens: make([]int32, 3000), Limit: 4096, Reserve: 512, FullTokens: 3100, Dropped: []int{0, 1}, DroppedTurns: 1},
			"1 older turn was dropped to fit the context (100 tokens); the prompt takes 3000 of 4096 tokens, 512 kept for the reply"},
		{Prompt{Policy: TruncateMiddle, Tokens: make([]int32, 3000), Limit: 4096, Reserve: 512, FullTokens: 3100, Dropped: []int{2, 3}, DroppedTurns: 1},
			"1 middle turn was dropped to fit the context (100 tokens); the prompt takes 3000 of 4096 tokens, 512 kept for the reply"},
	}
	for _, tt := range tests {
		if got := tt.p.Describe(); got != tt.want {
			t.Errorf("Describe() = %q\nwant         %q", got, tt.want)
		}
	}
}

func TestCompletion(t *testing.T) {
	tk := tok(t)
	conv := Conversation{
		System: "A story.",
		Messages: []Message{
			{User, "Once upon a time"},
			{Assistant, " there was a llama."},
			{User, " It lived in the mountains"},
			{Assistant, " and ate grass all day."},
			{User, " One morning,"},
		},
	}
	p, err := Build(tk, PlainCompletion(), conv, DefaultContext, 0, KeepSystemDropOldest)
	if err != nil {
		t.Fatal(err)
	}
	text := "A story.\n\nOnce upon a time there was a llama. It lived in the mountains and ate grass all day. One morning,"
	if want := tk.Encode(text, true, false); !slices.Equal(p.Tokens, want) {
		t.Fatalf("tokens %v\nwant   %v", p.Tokens, want)
	}
	if slices.Contains(p.Tokens, tk.EOS()) {
		t.Fatal("plain completion inserted EOS")
	}
	// Too small for all: the oldest turn goes, the system prompt stays.
	kept := tk.Encode("A story.\n\n It lived in the mountains and ate grass all day. One morning,", true, false)
	p, err = Build(tk, PlainCompletion(), conv, len(kept)+10, 10, KeepSystemDropOldest)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Tokens, kept) || !slices.Equal(p.Dropped, []int{0, 1}) {
		t.Fatalf("dropped %v, tokens %v; want messages 0 and 1 dropped", p.Dropped, p.Tokens)
	}
}
