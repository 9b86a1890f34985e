// Package tokenizer implements the Llama 2 SentencePiece (SPM) tokenizer as
// llama.cpp runs it, built from a GGUF file's tokenizer.ggml.* metadata:
// special-token partitioning, the space prefix, the score-ordered bigram merge
// with byte fallback, and a detokenizer that also streams token by token.
package tokenizer

import (
	"errors"
	"fmt"
	"sort"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// Metadata keys read by FromGGUF.
const (
	keyModel          = "tokenizer.ggml.model"
	keyTokens         = "tokenizer.ggml.tokens"
	keyScores         = "tokenizer.ggml.scores"
	keyTokenTypes     = "tokenizer.ggml.token_type"
	keyBOS            = "tokenizer.ggml.bos_token_id"
	keyEOS            = "tokenizer.ggml.eos_token_id"
	keyUNK            = "tokenizer.ggml.unknown_token_id"
	keyEOT            = "tokenizer.ggml.eot_token_id"
	keyEOM            = "tokenizer.ggml.eom_token_id"
	keyAddBOS         = "tokenizer.ggml.add_bos_token"
	keyAddEOS         = "tokenizer.ggml.add_eos_token"
	keyAddSpacePrefix = "tokenizer.ggml.add_space_prefix"
)

// ErrMetadata is wrapped by every error FromGGUF returns for missing or
// inconsistent tokenizer metadata.
var ErrMetadata = errors.New("invalid tokenizer metadata")

// noToken marks a special token the vocabulary does not have.
const noToken int32 = -1

// attr is a token's attribute set, derived from its GGUF token type as
// llama.cpp derives llama_token_attr.
type attr uint8

const (
	attrUnknown attr = 1 << iota
	attrUnused
	attrNormal
	attrControl
	attrUserDefined
	attrByte
)

// GGUF token types (tokenizer.ggml.token_type values).
const (
	typeNormal      = 1
	typeUnknown     = 2
	typeControl     = 3
	typeUserDefined = 4
	typeUnused      = 5
	typeByte        = 6
)

// attrOf maps a GGUF token type to its attributes; undefined and unknown
// values get none (llama.cpp's UNDEFINED), so they decode to nothing.
func attrOf(tokenType int32) attr {
	switch tokenType {
	case typeNormal:
		return attrNormal
	case typeUnknown:
		return attrUnknown
	case typeControl:
		return attrControl
	case typeUserDefined:
		return attrUserDefined
	case typeUnused:
		return attrUnused
	case typeByte:
		return attrByte
	}
	return 0
}

// eogTexts are token texts llama.cpp treats as end of generation whatever
// their declared type (it also marks them CONTROL).
var eogTexts = map[string]bool{
	"<|eot_id|>": true, "<|im_end|>": true, "<|end|>": true, "<end_of_turn>": true,
	"<|endoftext|>": true, "</s>": true, "<|eom_id|>": true, "<EOT>": true, "_<EOT>": true,
	"<|end_of_text|>": true, "<end_of_utterance>": true, "<eos>": true,
}

// Tokenizer encodes text into Llama token ids and decodes ids back into text.
// It is immutable after FromGGUF and safe for concurrent use.
type Tokenizer struct {
	pieces []string  // raw vocabulary entries by id
	scores []float32 // merge scores by id
	attrs  []attr    // attributes by id
	text   []string  // decoded text of each id (no text for control tokens)

	ids     map[string]int32 // vocabulary entry → id
	byteIDs [256]int32       // byte → its fallback token (<0xNN>, the byte itself, or UNK)
	special []int32          // CONTROL / USER_DEFINED / UNKNOWN ids, longest text first
	eog     map[int32]bool   // end-of-generation ids

	bos, eos, unk  int32
	addBOS, addEOS bool
	addSpacePrefix bool
}

// FromGGUF builds the tokenizer from tokenizer.ggml.* metadata. It refuses a model other than "llama"
// (SentencePiece) with a clear error naming it, and inconsistent arrays (lengths differ, ids out of range).
// BOS/EOS/UNK ids come from metadata (defaults 1, 2, 0); add_bos_token defaults to true, add_eos_token to false.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	if f == nil {
		return nil, fmt.Errorf("tokenizer: %w: no file", ErrMetadata)
	}
	model, ok := f.String(keyModel)
	if !ok {
		if _, present := f.Lookup(keyModel); present {
			return nil, fmt.Errorf("tokenizer: %w: %s is not a string", ErrMetadata, keyModel)
		}
		return nil, fmt.Errorf("tokenizer: %w: %s is missing", ErrMetadata, keyModel)
	}
	if model != "llama" {
		return nil, fmt.Errorf("tokenizer: model %q is not supported (only \"llama\", the SentencePiece tokenizer of Llama 2)", model)
	}

	pieces, err := stringArray(f, keyTokens)
	if err != nil {
		return nil, err
	}
	n := len(pieces)
	scores, err := scoreArray(f, n)
	if err != nil {
		return nil, err
	}
	types, err := typeArray(f, n)
	if err != nil {
		return nil, err
	}

	t := &Tokenizer{
		pieces: make([]string, n),
		scores: scores,
		attrs:  make([]attr, n),
		text:   make([]string, n),
		ids:    make(map[string]int32, n),
		eog:    make(map[int32]bool),
	}
	for i, p := range pieces {
		if p == "" {
			p = fmt.Sprintf("[EMPTY_%d]", i) // as llama.cpp names empty entries
		}
		if prev, dup := t.ids[p]; dup {
			return nil, fmt.Errorf("tokenizer: %w: token %d %q repeats token %d", ErrMetadata, i, p, prev)
		}
		t.ids[p] = int32(i)
		t.pieces[i] = p
		t.attrs[i] = attrNormal
		if types != nil {
			t.attrs[i] = attrOf(types[i])
		}
	}

	if t.bos, err = specialID(f, keyBOS, 1, n); err != nil {
		return nil, err
	}
	if t.eos, err = specialID(f, keyEOS, 2, n); err != nil {
		return nil, err
	}
	if t.unk, err = specialID(f, keyUNK, 0, n); err != nil {
		return nil, err
	}
	eot, err := specialID(f, keyEOT, noToken, n)
	if err != nil {
		return nil, err
	}
	eom, err := specialID(f, keyEOM, noToken, n)
	if err != nil {
		return nil, err
	}
	if t.addBOS, err = boolKey(f, keyAddBOS, true); err != nil {
		return nil, err
	}
	if t.addEOS, err = boolKey(f, keyAddEOS, false); err != nil {
		return nil, err
	}
	if t.addSpacePrefix, err = boolKey(f, keyAddSpacePrefix, true); err != nil {
		return nil, err
	}

	for text := range eogTexts {
		if id, ok := t.ids[text]; ok {
			t.eog[id] = true
			t.attrs[id] |= attrControl
		}
	}
	for _, id := range []int32{t.eos, eot, eom} {
		if id != noToken {
			t.eog[id] = true
		}
	}

	for b := range t.byteIDs {
		t.byteIDs[b] = t.fallbackFor(byte(b))
	}
	for i := range t.pieces {
		if t.attrs[i]&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.special = append(t.special, int32(i))
		}
		t.text[i] = t.decodedPiece(int32(i))
	}
	sort.SliceStable(t.special, func(a, b int) bool {
		return len(t.pieces[t.special[a]]) > len(t.pieces[t.special[b]])
	})
	return t, nil
}

// fallbackFor returns the token standing for byte b when a symbol is not in
// the vocabulary: <0xNN>, else the one-byte entry, else UNK.
func (t *Tokenizer) fallbackFor(b byte) int32 {
	if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
		return id
	}
	if id, ok := t.ids[string([]byte{b})]; ok {
		return id
	}
	return t.unk
}

// decodedPiece is the text token id contributes to Decode (llama.cpp's
// token_to_piece with special=false).
func (t *Tokenizer) decodedPiece(id int32) string {
	a, p := t.attrs[id], t.pieces[id]
	switch {
	case a&(attrControl|attrUnknown) != 0:
		return ""
	case a&attrUserDefined != 0:
		return p
	case a&attrNormal != 0:
		return unescapeSpaces(p)
	case a&attrByte != 0:
		if b, ok := parseByteToken(p); ok {
			return string([]byte{b})
		}
		return ""
	}
	return ""
}

// parseByteToken reads the byte of a "<0xNN>" entry.
func parseByteToken(p string) (byte, bool) {
	if len(p) != 6 || p[:3] != "<0x" || p[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexDigit(p[3])
	lo, ok2 := hexDigit(p[4])
	return hi<<4 | lo, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func stringArray(f *gguf.File, key string) ([]string, error) {
	a, ok := f.Array(key)
	if !ok {
		if _, present := f.Lookup(key); present {
			return nil, fmt.Errorf("tokenizer: %w: %s is not an array", ErrMetadata, key)
		}
		return nil, fmt.Errorf("tokenizer: %w: %s is missing", ErrMetadata, key)
	}
	s, ok := a.Values.([]string)
	if !ok {
		return nil, fmt.Errorf("tokenizer: %w: %s holds %s, want strings", ErrMetadata, key, a.Type)
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("tokenizer: %w: %s is empty", ErrMetadata, key)
	}
	if int64(len(s)) > 1<<31-1 {
		return nil, fmt.Errorf("tokenizer: %w: %s has %d entries, too many for int32 ids", ErrMetadata, key, len(s))
	}
	return s, nil
}

// scoreArray reads the scores (float32 or int32, as llama.cpp accepts); a
// vocabulary without scores gets zeros.
func scoreArray(f *gguf.File, n int) ([]float32, error) {
	a, ok := f.Array(keyScores)
	if !ok {
		if _, present := f.Lookup(keyScores); present {
			return nil, fmt.Errorf("tokenizer: %w: %s is not an array", ErrMetadata, keyScores)
		}
		return make([]float32, n), nil
	}
	var scores []float32
	switch v := a.Values.(type) {
	case []float32:
		scores = append([]float32(nil), v...)
	case []int32:
		scores = make([]float32, len(v))
		for i, x := range v {
			scores[i] = float32(x)
		}
	default:
		return nil, fmt.Errorf("tokenizer: %w: %s holds %s, want float32", ErrMetadata, keyScores, a.Type)
	}
	if len(scores) != n {
		return nil, fmt.Errorf("tokenizer: %w: %d scores for %d tokens", ErrMetadata, len(scores), n)
	}
	return scores, nil
}

// typeArray reads the token types; nil (all NORMAL) when the file has none.
func typeArray(f *gguf.File, n int) ([]int32, error) {
	a, ok := f.Array(keyTokenTypes)
	if !ok {
		if _, present := f.Lookup(keyTokenTypes); present {
			return nil, fmt.Errorf("tokenizer: %w: %s is not an array", ErrMetadata, keyTokenTypes)
		}
		return nil, nil
	}
	types, ok := a.Values.([]int32)
	if !ok {
		return nil, fmt.Errorf("tokenizer: %w: %s holds %s, want int32", ErrMetadata, keyTokenTypes, a.Type)
	}
	if len(types) != n {
		return nil, fmt.Errorf("tokenizer: %w: %d token types for %d tokens", ErrMetadata, len(types), n)
	}
	return types, nil
}

// specialID reads a special token id. Without the key the default applies,
// or no token when the default lies outside the vocabulary (as llama.cpp).
func specialID(f *gguf.File, key string, def int32, n int) (int32, error) {
	if _, present := f.Lookup(key); !present {
		if def >= int32(n) {
			return noToken, nil
		}
		return def, nil
	}
	v, ok := f.Uint(key)
	if !ok {
		return 0, fmt.Errorf("tokenizer: %w: %s is not a non-negative integer", ErrMetadata, key)
	}
	if v >= uint64(n) {
		return 0, fmt.Errorf("tokenizer: %w: %s = %d is outside the vocabulary of %d tokens", ErrMetadata, key, v, n)
	}
	return int32(v), nil
}

func boolKey(f *gguf.File, key string, def bool) (bool, error) {
	if _, present := f.Lookup(key); !present {
		return def, nil
	}
	v, ok := f.Bool(key)
	if !ok {
		return false, fmt.Errorf("tokenizer: %w: %s is not a bool", ErrMetadata, key)
	}
	return v, nil
}

// AddBOS reports the file's add_bos_token: whether prompts should start with BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports the file's add_eos_token (false for Llama 2). Encode never
// appends EOS; callers that honour this flag append EOS() themselves.
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// BOS returns the beginning-of-sequence id, or -1 when the vocabulary has none.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence id, or -1 when the vocabulary has none.
func (t *Tokenizer) EOS() int32 { return t.eos }

// UNK returns the unknown-token id, or -1 when the vocabulary has none.
func (t *Tokenizer) UNK() int32 { return t.unk }

// VocabSize returns the number of tokens in the vocabulary.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// Piece returns the raw vocabulary entry of id ("▁the", "<0x0A>", "</s>"),
// or "" when id is outside the vocabulary.
func (t *Tokenizer) Piece(id int32) string {
	if !t.valid(id) {
		return ""
	}
	return t.pieces[id]
}

// Score returns the merge score of id, or 0 when id is outside the vocabulary.
func (t *Tokenizer) Score(id int32) float32 {
	if !t.valid(id) {
		return 0
	}
	return t.scores[id]
}

// IsControl reports whether id has token type CONTROL (BOS, EOS, ...).
func (t *Tokenizer) IsControl(id int32) bool {
	return t.valid(id) && t.attrs[id]&attrControl != 0
}

// IsEOG reports whether id ends generation: EOS, the file's EOT and EOM ids,
// and the end-of-turn texts llama.cpp recognises ("<|eot_id|>", "<|im_end|>", ...).
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// TokenID returns the id of an exact vocabulary entry.
func (t *Tokenizer) TokenID(piece string) (int32, bool) {
	id, ok := t.ids[piece]
	return id, ok
}

func (t *Tokenizer) valid(id int32) bool { return id >= 0 && int(id) < len(t.pieces) }
