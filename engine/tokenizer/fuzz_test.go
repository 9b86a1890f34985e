package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEncode checks on the Llama 2 vocabulary that Encode never panics or
// yields ids outside the vocabulary, that Decode always gives valid UTF-8,
// that the streaming Decoder agrees with Decode, and that valid text without
// "▁" round-trips exactly.
func FuzzEncode(f *testing.F) {
	tok := openTokenizer(f, "vocab", "llama2-spm.gguf")
	for _, c := range readVocabCases(f) {
		f.Add(c.text, false)
	}
	f.Add("</s><s>[INST] hi [/INST]", true)
	f.Add("\xe2\x82\xff", true)
	f.Fuzz(func(t *testing.T, text string, parseSpecial bool) {
		ids := tok.Encode(text, true, parseSpecial)
		if len(ids) == 0 || ids[0] != tok.BOS() {
			t.Fatalf("Encode(%q) = %v does not start with BOS", text, ids)
		}
		for _, id := range ids {
			if id < 0 || int(id) >= tok.VocabSize() {
				t.Fatalf("Encode(%q) gave id %d outside the vocabulary", text, id)
			}
		}
		body := ids[1:]
		decoded := tok.Decode(body)
		if !utf8.ValidString(decoded) {
			t.Fatalf("Decode(Encode(%q)) = %q is not valid UTF-8", text, decoded)
		}
		if len(body) > 0 && tok.pieceText(body[0]) != "" {
			if streamed, _ := streamText(tok, body); streamed != decoded {
				t.Fatalf("%q: streamed %q, Decode %q", text, streamed, decoded)
			}
		}
		if !parseSpecial && utf8.ValidString(text) && !strings.Contains(text, spaceMark) && decoded != text {
			t.Fatalf("Decode(Encode(%q)) = %q", text, decoded)
		}
	})
}
