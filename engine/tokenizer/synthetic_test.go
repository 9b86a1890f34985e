package tokenizer

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// Ids of the small vocabulary built by smallVocab.
const (
	idUNK   = 0
	idBOS   = 1
	idEOS   = 2
	idByte0 = 3 // <0x00>; byte b is idByte0+b
	idSpace = 259 + iota - 4
	idA
	idB
	idAA
	idSpaceA
	idUser
	idX
	idSpaceX
	idAB
	idUserTail
	idUnused
	idUndefined
)

// smallVocab returns the entries of a small Llama-style vocabulary: UNK, BOS,
// EOS, the 256 byte tokens, then a few pieces with chosen scores.
func smallVocab() (tokens []string, scores []float32, types []int32) {
	add := func(text string, score float32, typ int32) {
		tokens = append(tokens, text)
		scores = append(scores, score)
		types = append(types, typ)
	}
	add("<unk>", 0, typeUnknown)
	add("<s>", 0, typeControl)
	add("</s>", 0, typeControl)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), 0, typeByte)
	}
	add("▁", -1, typeNormal)
	add("a", -2, typeNormal)
	add("b", -3, typeNormal)
	add("aa", -1.5, typeNormal)
	add("▁a", -0.5, typeNormal)
	add("<|user|>", 0, typeUserDefined)
	add("x", -4, typeNormal)
	add("▁x", -2.5, typeNormal)
	add("ab", -1, typeNormal)
	add("er|>", 0, typeUserDefined)
	add("<unused0>", 0, typeUnused)
	add("<undef>", 0, 0)
	return tokens, scores, types
}

// metadata is GGUF metadata for a test file; a nil value leaves the key out.
type metadata map[string]any

func smallMetadata() metadata {
	tokens, scores, types := smallVocab()
	return metadata{
		keyModel:      "llama",
		keyTokens:     tokens,
		keyScores:     scores,
		keyTokenTypes: types,
		keyBOS:        uint32(idBOS),
		keyEOS:        uint32(idEOS),
		keyUNK:        uint32(idUNK),
		keyAddBOS:     true,
		keyAddEOS:     false,
	}
}

// with returns a copy of m with the given keys replaced (nil removes a key).
func (m metadata) with(kv ...any) metadata {
	out := make(metadata, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// parseMetadata writes m as a GGUF file in memory and parses it back.
func parseMetadata(tb testing.TB, m metadata) *gguf.File {
	tb.Helper()
	w := gguf.NewWriter()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if m[k] == nil {
			continue
		}
		if err := w.Set(k, m[k]); err != nil {
			tb.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func newSmall(tb testing.TB, m metadata) *Tokenizer {
	tb.Helper()
	tok, err := FromGGUF(parseMetadata(tb, m))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func byteID(b byte) int32 { return idByte0 + int32(b) }

func TestEncodeSmallVocab(t *testing.T) {
	tok := newSmall(t, smallMetadata())
	noPrefix := newSmall(t, smallMetadata().with(keyAddSpacePrefix, false))
	tests := []struct {
		name         string
		tok          *Tokenizer
		text         string
		addBOS       bool
		parseSpecial bool
		want         []int32
	}{
		{"empty", tok, "", false, false, []int32{}},
		{"empty gives only BOS", tok, "", true, true, []int32{idBOS}},
		{"space prefix then merge", tok, "aaa", false, false, []int32{idSpaceA, idAA}},
		{"equal scores merge leftmost first", tok, "baaa", false, false, []int32{idSpace, idB, idAA, idA}},
		{"equal scores without prefix", noPrefix, "aaa", false, false, []int32{idAA, idA}},
		{"higher score merges first", tok, "xaab", false, false, []int32{idSpaceX, idA, idAB}},
		{"BOS", tok, "a", true, false, []int32{idBOS, idSpaceA}},
		{"spaces become ▁", tok, "a a", false, false, []int32{idSpaceA, idSpaceA}},
		{"byte fallback", tok, "é", false, false, []int32{idSpace, byteID(0xC3), byteID(0xA9)}},
		{"invalid UTF-8 bytes", tok, "a\xff", false, false, []int32{idSpaceA, byteID(0xFF)}},
		{"special text without parseSpecial", tok, "</s>", false, false,
			[]int32{idSpace, byteID('<'), byteID('/'), byteID('s'), byteID('>')}},
		{"special text with parseSpecial", tok, "</s>", false, true, []int32{idEOS}},
		{"unknown text with parseSpecial", tok, "<unk>", false, true, []int32{idUNK}},
		{"space prefix after each special", tok, "a</s><s>a", true, true,
			[]int32{idBOS, idSpaceA, idEOS, idBOS, idSpaceA}},
		{"special first", tok, "<s>a", false, true, []int32{idBOS, idSpaceA}},
		{"user-defined matched without parseSpecial", tok, "a<|user|>a", false, false,
			[]int32{idSpaceA, idUser, idSpaceA}},
		{"longest special first", tok, "<|user|>", false, false, []int32{idUser}},
		{"shorter special elsewhere", tok, "aer|>", false, false, []int32{idSpaceA, idUserTail}},
		{"only special tokens", tok, "<s></s>", false, true, []int32{idBOS, idEOS}},
		{"space after special", tok, "</s> a", false, true, []int32{idEOS, idSpace, idSpaceA}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.tok.Encode(tc.text, tc.addBOS, tc.parseSpecial)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Encode(%q, %v, %v) = %v, want %v", tc.text, tc.addBOS, tc.parseSpecial, got, tc.want)
			}
		})
	}
}

func TestEncodeUnknownWithoutByteTokens(t *testing.T) {
	tok := newSmall(t, metadata{
		keyModel:      "llama",
		keyTokens:     []string{"<unk>", "<s>", "</s>", "▁", "a"},
		keyTokenTypes: []int32{typeUnknown, typeControl, typeControl, typeNormal, typeNormal},
	})
	got := tok.Encode("aé", false, false)
	want := []int32{3, 4, 0, 0} // ▁ a, then UNK for each byte of é
	if !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}

func TestDecodeSmallVocab(t *testing.T) {
	tok := newSmall(t, smallMetadata())
	tests := []struct {
		name string
		ids  []int32
		want string
	}{
		{"nothing", nil, ""},
		{"first space stripped", []int32{idSpaceA, idSpaceA}, "a a"},
		{"after BOS the space stays (as llama.cpp)", []int32{idBOS, idSpaceA}, " a"},
		{"control and unknown give no text", []int32{idA, idEOS, idUNK, idBOS, idA}, "aa"},
		{"unused and undefined give no text", []int32{idA, idUnused, idUndefined}, "a"},
		{"user-defined gives its text", []int32{idUser, idSpaceA}, "<|user|> a"},
		{"bytes join into UTF-8", []int32{idA, byteID(0xC3), byteID(0xA9)}, "aé"},
		{"first byte token space stripped", []int32{byteID(' '), idA}, "a"},
		{"truncated sequence", []int32{idA, byteID(0xE2), byteID(0x82), idA}, "a\uFFFDa"},
		{"truncated at end", []int32{idA, byteID(0xF0), byteID(0x9F)}, "a\uFFFD"},
		{"lone continuation", []int32{byteID(0x80), byteID(0x80)}, "\uFFFD\uFFFD"},
		{"overlong", []int32{byteID(0xC0), byteID(0xAF)}, "\uFFFD\uFFFD"},
		{"surrogate", []int32{byteID(0xED), byteID(0xA0), byteID(0x80)}, "\uFFFD\uFFFD\uFFFD"},
		{"ids outside the vocabulary", []int32{-1, idA, 1 << 30}, "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tok.Decode(tc.ids); got != tc.want {
				t.Errorf("Decode(%v) = %q, want %q", tc.ids, got, tc.want)
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	tok := newSmall(t, smallMetadata().with(keyEOT, uint32(idUser)))
	if tok.BOS() != idBOS || tok.EOS() != idEOS || tok.UNK() != idUNK {
		t.Errorf("BOS/EOS/UNK = %d/%d/%d", tok.BOS(), tok.EOS(), tok.UNK())
	}
	if !tok.AddBOS() || tok.AddEOS() {
		t.Errorf("AddBOS/AddEOS = %v/%v", tok.AddBOS(), tok.AddEOS())
	}
	if n, _, _ := smallVocab(); tok.VocabSize() != len(n) {
		t.Errorf("VocabSize = %d, want %d", tok.VocabSize(), len(n))
	}
	checks := []struct {
		id           int32
		piece        string
		control, eog bool
	}{
		{idUNK, "<unk>", false, false},
		{idBOS, "<s>", true, false},
		{idEOS, "</s>", true, true},
		{idUser, "<|user|>", false, true}, // the file's EOT
		{byteID(0x0A), "<0x0A>", false, false},
		{idSpaceA, "▁a", false, false},
		{-1, "", false, false},
		{100000, "", false, false},
	}
	for _, c := range checks {
		if got := tok.Piece(c.id); got != c.piece {
			t.Errorf("Piece(%d) = %q, want %q", c.id, got, c.piece)
		}
		if got := tok.IsControl(c.id); got != c.control {
			t.Errorf("IsControl(%d) = %v, want %v", c.id, got, c.control)
		}
		if got := tok.IsEOG(c.id); got != c.eog {
			t.Errorf("IsEOG(%d) = %v, want %v", c.id, got, c.eog)
		}
	}
}

func TestFromGGUFDefaults(t *testing.T) {
	tokens, _, _ := smallVocab()
	tok := newSmall(t, metadata{keyModel: "llama", keyTokens: tokens})
	if tok.BOS() != 1 || tok.EOS() != 2 || tok.UNK() != 0 || !tok.AddBOS() || tok.AddEOS() {
		t.Errorf("defaults: BOS %d EOS %d UNK %d addBOS %v addEOS %v", tok.BOS(), tok.EOS(), tok.UNK(), tok.AddBOS(), tok.AddEOS())
	}
	// Without token types every entry is NORMAL, but llama.cpp still makes
	// "</s>" a control token that ends generation.
	if got := tok.Encode("</s>", false, true); !slices.Equal(got, []int32{idEOS}) {
		t.Errorf("Encode without types = %v", got)
	}
	if !tok.IsControl(idEOS) || !tok.IsEOG(idEOS) || tok.IsControl(idBOS) {
		t.Errorf("without types: IsControl(EOS) %v IsEOG(EOS) %v IsControl(BOS) %v", tok.IsControl(idEOS), tok.IsEOG(idEOS), tok.IsControl(idBOS))
	}
	if got := tok.Decode([]int32{idA, byteID(0x41)}); got != "a<0x41>" {
		t.Errorf("byte entry without types decodes as %q, want its text", got)
	}

	small := newSmall(t, metadata{keyModel: "llama", keyTokens: []string{"a"}})
	if small.BOS() != -1 || small.EOS() != -1 || small.UNK() != 0 {
		t.Errorf("defaults outside a 1-token vocabulary: BOS %d EOS %d UNK %d", small.BOS(), small.EOS(), small.UNK())
	}
	if got := small.Encode("", true, true); len(got) != 0 {
		t.Errorf("Encode without a BOS token = %v", got)
	}

	intScores := newSmall(t, metadata{keyModel: "llama", keyTokens: []string{"a", "b", "ab"}, keyScores: []int32{0, 0, 5},
		keyAddSpacePrefix: false})
	if got := intScores.Encode("ab", false, false); !slices.Equal(got, []int32{2}) {
		t.Errorf("int32 scores: Encode = %v", got)
	}
}

func TestFromGGUFRejectsBadMetadata(t *testing.T) {
	base := smallMetadata()
	tokens, scores, types := smallVocab()
	dup := slices.Clone(tokens)
	dup[idB] = "a"
	tests := []struct {
		name string
		m    metadata
		want string // in the error text
	}{
		{"no model", base.with(keyModel, nil), keyModel + " is missing"},
		{"model not a string", base.with(keyModel, uint32(1)), "not a string"},
		{"gpt2 model", base.with(keyModel, "gpt2"), `"gpt2" is not supported`},
		{"bert model", base.with(keyModel, "bert"), `"bert"`},
		{"no tokens", base.with(keyTokens, nil), keyTokens + " is missing"},
		{"tokens not strings", base.with(keyTokens, []int32{1, 2}), "want strings"},
		{"tokens not an array", base.with(keyTokens, "abc"), "not an array"},
		{"no tokens at all", base.with(keyTokens, []string{}), "is empty"},
		{"fewer scores", base.with(keyScores, scores[1:]), "scores for"},
		{"more scores", base.with(keyScores, append(slices.Clone(scores), 0)), "scores for"},
		{"scores of strings", base.with(keyScores, tokens), "want float32"},
		{"fewer types", base.with(keyTokenTypes, types[:10]), "token types for"},
		{"types of floats", base.with(keyTokenTypes, scores), "want int32"},
		{"BOS out of range", base.with(keyBOS, uint32(len(tokens))), keyBOS},
		{"EOS out of range", base.with(keyEOS, uint64(1<<40)), keyEOS},
		{"UNK negative", base.with(keyUNK, int32(-1)), keyUNK},
		{"EOT out of range", base.with(keyEOT, uint32(len(tokens)+5)), keyEOT},
		{"BOS a string", base.with(keyBOS, "1"), "not a non-negative integer"},
		{"add_bos not a bool", base.with(keyAddBOS, uint8(1)), "not a bool"},
		{"duplicate tokens", base.with(keyTokens, dup), "repeats token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := FromGGUF(parseMetadata(t, tc.m))
			if err == nil {
				t.Fatalf("FromGGUF succeeded (vocab of %d)", tok.VocabSize())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if !strings.Contains(tc.want, "not supported") && !strings.Contains(tc.name, "model") && !errors.Is(err, ErrMetadata) {
				t.Errorf("error %q does not wrap ErrMetadata", err)
			}
		})
	}
	if _, err := FromGGUF(nil); err == nil {
		t.Error("FromGGUF(nil) succeeded")
	}
}
