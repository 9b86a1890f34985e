package tokenizer

import "strings"

// spaceMark is SentencePiece's visible space, U+2581 "▁".
const spaceMark = "\u2581"

func escapeSpaces(s string) string   { return strings.ReplaceAll(s, " ", spaceMark) }
func unescapeSpaces(s string) string { return strings.ReplaceAll(s, spaceMark, " ") }

// fragment is a piece of the input: raw text still to tokenize, or an
// already recognised special token (id >= 0).
type fragment struct {
	text string
	id   int32
}

// Encode tokenizes text as llama.cpp's llama_tokenize does for an SPM
// vocabulary. With addBOS the result starts with BOS (empty text gives only
// BOS). With parseSpecial the texts of CONTROL, USER_DEFINED and UNKNOWN tokens
// ("<s>", "</s>", "<unk>") become their ids; without it only USER_DEFINED
// tokens are matched. Each text fragment at the start or after a special token
// gets the SentencePiece space prefix. A character missing from the
// vocabulary becomes its <0xNN> byte tokens, or UNK per byte where the
// vocabulary has no byte token. Encode never appends EOS.
func (t *Tokenizer) Encode(text string, addBOS, parseSpecial bool) []int32 {
	out := make([]int32, 0, len(text)/3+2)
	if addBOS && t.bos != noToken {
		out = append(out, t.bos)
	}
	if text == "" {
		return out
	}
	frags := t.partition(text, parseSpecial)
	var s session
	prevSpecial := true // the first fragment gets the space prefix
	for _, fr := range frags {
		if fr.id >= 0 {
			out = append(out, fr.id)
			prevSpecial = true
			continue
		}
		piece := fr.text
		if t.addSpacePrefix && prevSpecial {
			piece = " " + piece
		}
		out = s.tokenize(t, escapeSpaces(piece), out)
		prevSpecial = false
	}
	return out
}

// partition splits text around special-token texts, longest tokens first, as
// llama.cpp's tokenizer_st_partition (each token in turn splits every raw
// fragment left by the longer ones).
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	frags := []fragment{{text: text, id: noToken}}
	var next []fragment
	for _, id := range t.special {
		if !parseSpecial && t.attrs[id]&(attrControl|attrUnknown) != 0 {
			continue
		}
		sp := t.pieces[id]
		found := false
		for _, fr := range frags {
			if fr.id < 0 && strings.Contains(fr.text, sp) {
				found = true
				break
			}
		}
		if !found {
			continue
		}
		next = next[:0]
		for _, fr := range frags {
			if fr.id >= 0 {
				next = append(next, fr)
				continue
			}
			rest := fr.text
			for rest != "" {
				i := strings.Index(rest, sp)
				if i < 0 {
					next = append(next, fragment{text: rest, id: noToken})
					break
				}
				if i > 0 {
					next = append(next, fragment{text: rest[:i], id: noToken})
				}
				next = append(next, fragment{id: id})
				rest = rest[i+len(sp):]
			}
		}
		frags, next = next, frags
	}
	return frags
}

// symbol is a run of the text being merged, linked to its neighbours.
type symbol struct {
	prev, next int32 // neighbour indexes, -1 at the ends
	start, n   int32 // byte span in the text; n == 0 once merged away
}

// bigram is a candidate merge of two adjacent symbols into a vocabulary entry.
type bigram struct {
	left, right int32
	score       float32
	size        int32 // byte length of the merged text when it was queued
}

// before orders the merge queue: higher score first, then the leftmost pair
// (llama.cpp's llm_bigram_spm comparator).
func (a bigram) before(b bigram) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}

// session holds the working memory of one SPM tokenization; reused across the
// fragments of one Encode call.
type session struct {
	symbols []symbol
	queue   []bigram // binary max-heap under bigram.before
}

// tokenize appends the ids of one escaped text fragment to out: split into
// UTF-8 characters, merge the best-scoring adjacent pair while one forms a
// vocabulary entry, then emit each symbol's id or its bytes' fallback tokens.
func (s *session) tokenize(t *Tokenizer, text string, out []int32) []int32 {
	s.symbols = s.symbols[:0]
	s.queue = s.queue[:0]
	for off := 0; off < len(text); {
		n := min(utf8Len(text[off]), len(text)-off)
		idx := int32(len(s.symbols))
		next := idx + 1
		if off+n == len(text) {
			next = -1
		}
		s.symbols = append(s.symbols, symbol{prev: idx - 1, next: next, start: int32(off), n: int32(n)})
		off += n
	}
	for i := 1; i < len(s.symbols); i++ {
		s.tryAdd(t, text, int32(i-1), int32(i))
	}
	for len(s.queue) > 0 {
		bg := s.pop()
		left, right := &s.symbols[bg.left], &s.symbols[bg.right]
		// Skip pairs made stale by an earlier merge of either side.
		if left.n == 0 || right.n == 0 || left.n+right.n != bg.size {
			continue
		}
		left.n += right.n
		right.n = 0
		left.next = right.next
		if right.next >= 0 {
			s.symbols[right.next].prev = bg.left
		}
		s.tryAdd(t, text, left.prev, bg.left)
		s.tryAdd(t, text, bg.left, left.next)
	}
	if len(s.symbols) == 0 {
		return out
	}
	// Every merged symbol is a vocabulary entry (only such pairs are queued),
	// so a symbol without an id is a single character missing from the
	// vocabulary: it falls back to byte tokens.
	for i := int32(0); i != -1; i = s.symbols[i].next {
		sym := s.symbols[i]
		piece := text[sym.start : sym.start+sym.n]
		if id, ok := t.ids[piece]; ok {
			out = append(out, id)
			continue
		}
		for j := 0; j < len(piece); j++ {
			if id := t.byteIDs[piece[j]]; id != noToken {
				out = append(out, id)
			}
		}
	}
	return out
}

// tryAdd queues the merge of symbols left and right when their joined text is
// a vocabulary entry.
func (s *session) tryAdd(t *Tokenizer, text string, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := s.symbols[left], s.symbols[right]
	joined := text[l.start : l.start+l.n+r.n]
	id, ok := t.ids[joined]
	if !ok {
		return
	}
	s.push(bigram{left: left, right: right, score: t.scores[id], size: l.n + r.n})
}

func (s *session) push(b bigram) {
	q := append(s.queue, b)
	i := len(q) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !q[i].before(q[parent]) {
			break
		}
		q[i], q[parent] = q[parent], q[i]
		i = parent
	}
	s.queue = q
}

func (s *session) pop() bigram {
	q := s.queue
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		best := i
		if l := 2*i + 1; l < len(q) && q[l].before(q[best]) {
			best = l
		}
		if r := 2*i + 2; r < len(q) && q[r].before(q[best]) {
			best = r
		}
		if best == i {
			break
		}
		q[i], q[best] = q[best], q[i]
		i = best
	}
	s.queue = q
	return top
}

// utf8Len is the length of a UTF-8 sequence judged by its first byte alone,
// as llama.cpp's unicode_len_utf8 (continuation and invalid bytes count 1).
func utf8Len(b byte) int {
	switch b >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}
