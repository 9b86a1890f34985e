package gguf

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// The bounded reader Parse decodes with: every read checked against the
// end of the data, and the memory of what it decodes charged to a budget.

// maxDecoded bounds the memory the decoded metadata and tensor table may
// take (estimated as they are decoded). Real files need a few MiB (the
// largest vocabularies, 256K tokens with their merges, about 30 MiB); a file
// padded with millions of empty strings or arrays would otherwise make the
// parser allocate several times the file's size.
const maxDecoded = 512 << 20

// Estimated in-memory costs of decoded items beyond their bytes of text.
const (
	costString = 16 // a string header
	costArray  = 48 // an Array value with its boxed slice
	costKV     = 96 // a KV with its boxed value and its index entry
	costTensor = 160
)

// loc says where the reader is, for error messages. Its format has an
// optional %q (key) followed by an optional %d (i); it is formatted only
// when an error is reported, so that reading millions of elements does not
// build millions of messages.
type loc struct {
	format string
	key    string
	i      int
}

// String formats the place, with its key and index where the format has them.
func (l loc) String() string {
	q, d := strings.Contains(l.format, "%q"), strings.Contains(l.format, "%d")
	switch {
	case q && d:
		return fmt.Sprintf(l.format, l.key, l.i)
	case q:
		return fmt.Sprintf(l.format, l.key)
	case d:
		return fmt.Sprintf(l.format, l.i)
	}
	return l.format
}

// at returns a loc without key or index.
func at(what string) loc { return loc{format: what} }

// reader decodes little-endian values from a byte slice, failing cleanly at its end.
type reader struct {
	b   []byte
	off int
	err error
	// budget is the memory the decoded values may still take (see maxDecoded).
	budget int64
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at byte %d: %s", ErrInvalid, r.off, fmt.Sprintf(format, args...))
	}
}

// charge takes n bytes of decoded memory from the budget, failing when the
// file asks for more than maxDecoded in all.
func (r *reader) charge(n int64, l loc) bool {
	if r.err != nil {
		return false
	}
	r.budget -= n
	if r.budget < 0 {
		r.fail("%s: the metadata and tensor table would take more than %d MiB of memory", l, maxDecoded>>20)
		return false
	}
	return true
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) take(n int, l loc) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.remaining() {
		r.fail("file truncated reading %s (need %d bytes, %d left)", l, n, r.remaining())
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) u8(l loc) uint8 {
	if p := r.take(1, l); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16(l loc) uint16 {
	if p := r.take(2, l); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32(l loc) uint32 {
	if p := r.take(4, l); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *reader) u64(l loc) uint64 {
	if p := r.take(8, l); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// count reads a 64-bit count of items that each take at least minSize bytes,
// refusing counts the rest of the file could not hold.
func (r *reader) count(l loc, minSize int) int {
	n := r.u64(l)
	if r.err != nil {
		return 0
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(r.remaining()/minSize) {
		r.fail("%s %d is more than the %d bytes left in the file can hold", l, n, r.remaining())
		return 0
	}
	return int(n)
}

// str reads a length-prefixed string, charging its memory to the budget.
func (r *reader) str(l loc) string {
	n := r.u64(l)
	if r.err != nil {
		return ""
	}
	if n > uint64(r.remaining()) {
		r.fail("%s length %d exceeds the %d bytes left in the file", l, n, r.remaining())
		return ""
	}
	if !r.charge(costString+int64(n), l) {
		return ""
	}
	return string(r.take(int(n), l))
}
