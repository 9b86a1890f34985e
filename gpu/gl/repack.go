package gl

import (
	"fmt"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// auxKind says what a weight type keeps in its auxiliary (scale) stream.
type auxKind int

const (
	auxNone auxKind = iota // everything stays in the main stream
	auxHalf                // one fp16 per block, two blocks to a word
	auxWord                // two fp16 (d, m) per block, one word
)

// layout is how a weight type is stored on the GPU. Blocks are repacked
// from GGUF's array of structures into a main stream of whole words (the
// quants, and scales that already sit on word boundaries) and, for blocks
// whose fp16 fields would break word alignment, an auxiliary stream of those
// fields. The shaders (dequant.glsl) read exactly this layout.
//
//	type  elems  main words/block            aux
//	Q4_0   32    4: qs                        d
//	Q4_1   32    4: qs                        (d, m)
//	Q5_0   32    5: qh, qs                    d
//	Q5_1   32    5: qh, qs                    (d, m)
//	Q8_0   32    8: qs                        d
//	Q2_K  256   21: as in GGUF                -
//	Q3_K  256   27: hmask, qs, scales         d
//	Q4_K  256   36: as in GGUF                -
//	Q5_K  256   44: as in GGUF                -
//	Q6_K  256   52: ql, qh, scales            d
//	F16     8    4: as in GGUF                -
//	BF16    8    4: as in GGUF                -
//	F32     8    8: as in GGUF                -
type layout struct {
	blockElems int     // elements of one block
	srcBytes   int     // bytes of one block in the GGUF file
	auxKind    auxKind // what the aux stream holds
	auxOff     int     // byte offset of the aux fields in the GGUF block
}

// auxBytes is the size of a block's aux fields in the GGUF block.
func (l layout) auxBytes() int {
	switch l.auxKind {
	case auxHalf:
		return 2
	case auxWord:
		return 4
	}
	return 0
}

// mainBytes is the size of a block in the main stream (a multiple of 4).
func (l layout) mainBytes() int { return l.srcBytes - l.auxBytes() }

// auxStreamBytes is the size of the aux stream of n blocks, rounded up to a word.
func (l layout) auxStreamBytes(n int) int {
	return (n*l.auxBytes() + 3) &^ 3
}

// layouts are the GPU layouts of the supported weight types.
var layouts = map[gguf.TensorType]layout{
	gguf.TypeQ4_0: {32, 18, auxHalf, 0},
	gguf.TypeQ4_1: {32, 20, auxWord, 0},
	gguf.TypeQ5_0: {32, 22, auxHalf, 0},
	gguf.TypeQ5_1: {32, 24, auxWord, 0},
	gguf.TypeQ8_0: {32, 34, auxHalf, 0},
	gguf.TypeQ2_K: {256, 84, auxNone, 0},
	gguf.TypeQ3_K: {256, 110, auxHalf, 108},
	gguf.TypeQ4_K: {256, 144, auxNone, 0},
	gguf.TypeQ5_K: {256, 176, auxNone, 0},
	gguf.TypeQ6_K: {256, 210, auxHalf, 208},
	gguf.TypeF16:  {8, 16, auxNone, 0},
	gguf.TypeBF16: {8, 16, auxNone, 0},
	gguf.TypeF32:  {8, 32, auxNone, 0},
}

// layoutOf returns the GPU layout of a weight type.
func layoutOf(typ gguf.TensorType) (layout, error) {
	l, ok := layouts[typ]
	if !ok {
		return layout{}, fmt.Errorf("weight type %s is not supported by the OpenGL backend", typ)
	}
	return l, nil
}

// repack splits whole blocks of src into the main and aux streams of l.
// When the type has no aux stream, main is src itself (no copy).
func repack(l layout, src []byte) (main, aux []byte) {
	if l.auxKind == auxNone {
		return src, nil
	}
	n := len(src) / l.srcBytes
	ab, mb := l.auxBytes(), l.mainBytes()
	main = make([]byte, n*mb)
	aux = make([]byte, l.auxStreamBytes(n))
	for b := range n {
		blk := src[b*l.srcBytes : (b+1)*l.srcBytes]
		m := main[b*mb : (b+1)*mb]
		copy(aux[b*ab:(b+1)*ab], blk[l.auxOff:l.auxOff+ab])
		copy(m, blk[:l.auxOff])
		copy(m[l.auxOff:], blk[l.auxOff+ab:])
	}
	return main, aux
}

// chunkRows returns how many rows of a weight go into one buffer so that
// neither of its streams exceeds maxBytes.
func chunkRows(l layout, rows, cols int, maxBytes int64) (int, error) {
	blocks := cols / l.blockElems
	rowMain := int64(blocks * l.mainBytes())
	per := maxBytes / rowMain
	if l.auxKind != auxNone {
		// Rounding the aux stream up to a word costs at most 2 bytes.
		per = min(per, (maxBytes-2)/int64(blocks*l.auxBytes()))
	}
	if per < 1 {
		return 0, fmt.Errorf("a row of %d elements takes %d bytes, more than a storage block may hold (%d)", cols, rowMain, maxBytes)
	}
	return int(min(per, int64(rows))), nil
}
