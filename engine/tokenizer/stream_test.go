package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// pieceIDs maps vocabulary entries to their ids, failing on a missing one.
func pieceIDs(tb testing.TB, tok *Tokenizer, pieces ...string) []int32 {
	tb.Helper()
	ids := make([]int32, len(pieces))
	for i, p := range pieces {
		id, ok := tok.TokenID(p)
		if !ok {
			tb.Fatalf("no token %q", p)
		}
		ids[i] = id
	}
	return ids
}

func TestDecoderStreams(t *testing.T) {
	tok := openTokenizer(t, "vocab", "llama2-spm.gguf")
	tests := []struct {
		name   string
		pieces []string
		want   []string // Add's result per token
		flush  string
	}{
		{"words", []string{"▁Hello", "▁world", "!"}, []string{"Hello", " world", "!"}, ""},
		{"3-byte character split over byte tokens", []string{"▁price", "▁", "<0xE2>", "<0x82>", "<0xAC>", "5"},
			[]string{"price", " ", "", "", "€", "5"}, ""},
		{"4-byte character", []string{"<0xF0>", "<0x9F>", "<0xA6>", "<0x99>", "▁ok"},
			[]string{"", "", "", "🦙", " ok"}, ""},
		{"two characters back to back", []string{"<0xC3>", "<0xA9>", "<0xC3>", "<0xA8>"},
			[]string{"", "é", "", "è"}, ""},
		{"held bytes proven invalid by text", []string{"▁a", "<0xE2>", "<0x82>", "▁b"},
			[]string{"a", "", "", "\uFFFD b"}, ""},
		{"held bytes proven invalid by a new lead", []string{"<0xE2>", "<0xC3>", "<0xA9>"},
			[]string{"", "\uFFFD", "é"}, ""},
		{"lone continuation byte", []string{"▁a", "<0x80>", "▁b"}, []string{"a", "\uFFFD", " b"}, ""},
		{"bytes never valid", []string{"<0xC0>", "<0xFF>", "<0xF5>"}, []string{"\uFFFD", "\uFFFD", "\uFFFD"}, ""},
		{"overlong form", []string{"<0xE0>", "<0x80>"}, []string{"", "\uFFFD\uFFFD"}, ""},
		{"surrogate", []string{"<0xED>", "<0xA0>"}, []string{"", "\uFFFD\uFFFD"}, ""},
		{"above U+10FFFF", []string{"<0xF4>", "<0x90>"}, []string{"", "\uFFFD\uFFFD"}, ""},
		{"flush of held bytes", []string{"▁a", "<0xE2>", "<0x82>"}, []string{"a", "", ""}, "\uFFFD"},
		{"control tokens give nothing and keep the strip", []string{"<s>", "▁Hi", "</s>", "▁there"},
			[]string{"", "Hi", "", " there"}, ""},
		{"leading space stripped once", []string{"▁", "▁▁", "▁Hi"}, []string{"", "  ", " Hi"}, ""},
		{"no space to strip", []string{"Hi", "▁there"}, []string{"Hi", " there"}, ""},
		{"space byte first", []string{"<0x20>", "<0x20>", "x"}, []string{"", " ", "x"}, ""},
		{"newline", []string{"▁a", "<0x0A>", "▁b"}, []string{"a", "\n", " b"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tok.NewDecoder()
			for i, id := range pieceIDs(t, tok, tc.pieces...) {
				if got := d.Add(id); got != tc.want[i] {
					t.Errorf("Add(%q) = %q, want %q", tc.pieces[i], got, tc.want[i])
				}
			}
			if got := d.Flush(); got != tc.flush {
				t.Errorf("Flush = %q, want %q", got, tc.flush)
			}
			if got := d.Flush(); got != "" {
				t.Errorf("second Flush = %q, want nothing", got)
			}
		})
	}
}

// streamText runs ids through a Decoder and joins what it returns.
func streamText(tok *Tokenizer, ids []int32) (string, bool) {
	d := tok.NewDecoder()
	var b strings.Builder
	valid := true
	for _, id := range ids {
		s := d.Add(id)
		valid = valid && utf8.ValidString(s)
		b.WriteString(s)
	}
	b.WriteString(d.Flush())
	return b.String(), valid
}

// TestDecoderMatchesDecode checks that streaming the vocabulary cases token
// by token gives Decode's text, each piece valid UTF-8.
func TestDecoderMatchesDecode(t *testing.T) {
	tok := openTokenizer(t, "vocab", "llama2-spm.gguf")
	texts := []string{"\xe2\x82 half a euro", "a\xffb", "🦙🦙 x"}
	for _, c := range readVocabCases(t) {
		texts = append(texts, c.text)
	}
	for _, text := range texts {
		ids := tok.Encode(text, false, false)
		got, valid := streamText(tok, ids)
		if want := tok.Decode(ids); got != want || !valid {
			t.Errorf("%q: streamed %q (valid pieces %v), Decode %q", text, got, valid, want)
		}
	}
}

func TestDecodeKeepsSpecialTextWithoutParseSpecial(t *testing.T) {
	tok := openTokenizer(t, "vocab", "llama2-spm.gguf")
	for _, text := range []string{"</s>", "<s>", "a</s><s>b", "<unk>"} {
		ids := tok.Encode(text, false, false)
		if slices.ContainsFunc(ids, tok.IsControl) || slices.Contains(ids, tok.UNK()) {
			t.Errorf("Encode(%q, parseSpecial=false) = %v holds a special id", text, ids)
		}
		if got := tok.Decode(ids); got != text {
			t.Errorf("Decode(Encode(%q)) = %q", text, got)
		}
	}
	if got := tok.Encode("a</s><s>b", true, true); !slices.Equal(got, []int32{1, 263, 2, 1, 289}) {
		t.Errorf("with parseSpecial = %v, want [1 263 2 1 289] (<s> ▁a </s> <s> ▁b)", got)
	}
}
