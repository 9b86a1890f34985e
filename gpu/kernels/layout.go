package kernels

import (
	"fmt"
	"maps"
	"slices"

	"github.com/llamadesk/llamadesk/engine/gguf"
)

// AuxKind says what a weight type keeps in its auxiliary (scale) stream.
type AuxKind int

const (
	AuxNone AuxKind = iota // everything stays in the main stream
	AuxHalf                // one fp16 per block, two blocks to a word
	AuxWord                // two fp16 (d, m) per block, one word
)

// Layout is how a weight type is stored on the GPU. Blocks are repacked
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
type Layout struct {
	BlockElems int     // elements of one block
	SrcBytes   int     // bytes of one block in the GGUF file
	Aux        AuxKind // what the aux stream holds
	AuxOff     int     // byte offset of the aux fields in the GGUF block
}

// AuxBytes is the size of a block's aux fields in the GGUF block.
func (l Layout) AuxBytes() int {
	switch l.Aux {
	case AuxHalf:
		return 2
	case AuxWord:
		return 4
	}
	return 0
}

// MainBytes is the size of a block in the main stream (a multiple of 4).
func (l Layout) MainBytes() int { return l.SrcBytes - l.AuxBytes() }

// AuxStreamBytes is the size of the aux stream of n blocks, rounded up to a word.
func (l Layout) AuxStreamBytes(n int) int {
	return (n*l.AuxBytes() + 3) &^ 3
}

// layouts are the GPU layouts of the supported weight types.
var layouts = map[gguf.TensorType]Layout{
	gguf.TypeQ4_0: {32, 18, AuxHalf, 0},
	gguf.TypeQ4_1: {32, 20, AuxWord, 0},
	gguf.TypeQ5_0: {32, 22, AuxHalf, 0},
	gguf.TypeQ5_1: {32, 24, AuxWord, 0},
	gguf.TypeQ8_0: {32, 34, AuxHalf, 0},
	gguf.TypeQ2_K: {256, 84, AuxNone, 0},
	gguf.TypeQ3_K: {256, 110, AuxHalf, 108},
	gguf.TypeQ4_K: {256, 144, AuxNone, 0},
	gguf.TypeQ5_K: {256, 176, AuxNone, 0},
	gguf.TypeQ6_K: {256, 210, AuxHalf, 208},
	gguf.TypeF16:  {8, 16, AuxNone, 0},
	gguf.TypeBF16: {8, 16, AuxNone, 0},
	gguf.TypeF32:  {8, 32, AuxNone, 0},
}

// LayoutOf returns the GPU layout of a weight type.
func LayoutOf(typ gguf.TensorType) (Layout, error) {
	l, ok := layouts[typ]
	if !ok {
		return Layout{}, fmt.Errorf("weight type %s is not supported by the GPU backends", typ)
	}
	return l, nil
}

// WeightTypes lists the weight types the kernels multiply by.
func WeightTypes() []gguf.TensorType {
	return slices.Sorted(maps.Keys(layouts))
}

// Repack splits whole blocks of src into the main and aux streams of l.
// When the type has no aux stream, main is src itself (no copy).
func Repack(l Layout, src []byte) (main, aux []byte) {
	if l.Aux == AuxNone {
		return src, nil
	}
	n := len(src) / l.SrcBytes
	ab, mb := l.AuxBytes(), l.MainBytes()
	main = make([]byte, n*mb)
	aux = make([]byte, l.AuxStreamBytes(n))
	for b := range n {
		blk := src[b*l.SrcBytes : (b+1)*l.SrcBytes]
		m := main[b*mb : (b+1)*mb]
		copy(aux[b*ab:(b+1)*ab], blk[l.AuxOff:l.AuxOff+ab])
		copy(m, blk[:l.AuxOff])
		copy(m[l.AuxOff:], blk[l.AuxOff+ab:])
	}
	return main, aux
}

// ChunkRows returns how many rows of a weight go into one buffer so that
// neither of its streams exceeds maxBytes.
func ChunkRows(l Layout, rows, cols int, maxBytes int64) (int, error) {
	blocks := cols / l.BlockElems
	rowMain := int64(blocks * l.MainBytes())
	per := maxBytes / rowMain
	if l.Aux != AuxNone {
		// Rounding the aux stream up to a word costs at most 2 bytes.
		per = min(per, (maxBytes-2)/int64(blocks*l.AuxBytes()))
	}
	if per < 1 {
		return 0, fmt.Errorf("a row of %d elements takes %d bytes, more than a storage block may hold (%d)", cols, rowMain, maxBytes)
	}
	return int(min(per, int64(rows))), nil
}
