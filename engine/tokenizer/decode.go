package tokenizer

// replacement is U+FFFD, written in place of an invalid UTF-8 sequence.
const replacement = "\uFFFD"

// Decode returns the text of ids as llama.cpp's detokenize does with remove_special=false/unparse_special=false:
// control tokens produce no text, ▁ becomes a space, <0xNN> byte tokens are joined into UTF-8 (invalid sequences
// become U+FFFD), and the leading space of the first token is stripped (the SPM space-prefix rule).
//
// As in llama.cpp the strip applies to the first id only: after a leading BOS
// the next token keeps its space. Ids outside the vocabulary produce no text.
// Each maximal invalid subsequence of bytes becomes one U+FFFD (the Unicode
// recommended practice), the same as the streaming Decoder.
func (t *Tokenizer) Decode(ids []int32) string {
	var u utf8Joiner
	out := make([]byte, 0, len(ids)*4)
	for i, id := range ids {
		p := t.pieceText(id)
		if i == 0 && t.addSpacePrefix && len(p) > 0 && p[0] == ' ' {
			p = p[1:]
		}
		out = u.write(out, p)
	}
	return string(u.flush(out))
}

// pieceText is the decoded text of id, "" for control tokens and ids outside
// the vocabulary.
func (t *Tokenizer) pieceText(id int32) string {
	if !t.valid(id) {
		return ""
	}
	return t.text[id]
}

// Decoder streams text token by token: Add returns only complete UTF-8 (never half a character),
// holding back an incomplete byte sequence until it completes or is proven invalid (then U+FFFD);
// Flush returns whatever is held. The first emitted text of a stream has its leading space stripped.
//
// "First emitted text" means the piece of the first token that has any text:
// tokens without text (BOS, EOS) before it do not use up the strip, unlike
// Decode, which strips the first id only. A Decoder is used by one goroutine.
type Decoder struct {
	t          *Tokenizer
	join       utf8Joiner
	stripSpace bool
	buf        []byte
}

// NewDecoder returns a Decoder at the start of a stream.
func (t *Tokenizer) NewDecoder() *Decoder {
	return &Decoder{t: t, stripSpace: t.addSpacePrefix}
}

// Add feeds one token and returns the text it completes, possibly "".
func (d *Decoder) Add(id int32) string {
	p := d.t.pieceText(id)
	if p == "" {
		return ""
	}
	if d.stripSpace {
		d.stripSpace = false
		if p[0] == ' ' {
			p = p[1:]
		}
	}
	d.buf = d.join.write(d.buf[:0], p)
	return string(d.buf)
}

// Flush returns the bytes still held back: U+FFFD for an unfinished
// sequence, "" when nothing is held. The stream may continue after it.
func (d *Decoder) Flush() string {
	d.buf = d.join.flush(d.buf[:0])
	return string(d.buf)
}

// utf8Joiner turns a byte stream into valid UTF-8, holding back the prefix of
// a sequence that may still complete. Invalid input becomes U+FFFD, one per
// maximal invalid subsequence.
type utf8Joiner struct {
	held [4]byte
	n    int // bytes held
	need int // length of the held sequence when complete
}

// write appends the valid UTF-8 that p completes to dst.
func (u *utf8Joiner) write(dst []byte, p string) []byte {
	for i := 0; i < len(p); i++ {
		dst = u.writeByte(dst, p[i])
	}
	return dst
}

func (u *utf8Joiner) writeByte(dst []byte, b byte) []byte {
	if u.n > 0 {
		lo, hi := byte(0x80), byte(0xBF)
		if u.n == 1 {
			// Second-byte limits exclude overlong forms, surrogates and
			// code points above U+10FFFF.
			switch u.held[0] {
			case 0xE0:
				lo = 0xA0
			case 0xED:
				hi = 0x9F
			case 0xF0:
				lo = 0x90
			case 0xF4:
				hi = 0x8F
			}
		}
		if b >= lo && b <= hi {
			u.held[u.n] = b
			u.n++
			if u.n == u.need {
				dst = append(dst, u.held[:u.n]...)
				u.n = 0
			}
			return dst
		}
		// The held prefix can never complete: replace it and read b afresh.
		dst = append(dst, replacement...)
		u.n = 0
	}
	switch {
	case b < 0x80:
		return append(dst, b)
	case b >= 0xC2 && b <= 0xDF:
		u.need = 2
	case b >= 0xE0 && b <= 0xEF:
		u.need = 3
	case b >= 0xF0 && b <= 0xF4:
		u.need = 4
	default: // continuation byte without a lead, or a byte never valid in UTF-8
		return append(dst, replacement...)
	}
	u.held[0] = b
	u.n = 1
	return dst
}

// flush appends U+FFFD for a held, unfinished sequence and empties the joiner.
func (u *utf8Joiner) flush(dst []byte) []byte {
	if u.n > 0 {
		dst = append(dst, replacement...)
		u.n = 0
	}
	return dst
}
