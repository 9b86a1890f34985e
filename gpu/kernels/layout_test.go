package kernels

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
)

// unpack rebuilds GGUF blocks from the main and aux streams: the inverse of repack.
func unpack(l Layout, main, aux []byte) []byte {
	if l.Aux == AuxNone {
		return main
	}
	n := len(main) / l.MainBytes()
	ab, mb := l.AuxBytes(), l.MainBytes()
	out := make([]byte, 0, n*l.SrcBytes)
	for b := range n {
		m := main[b*mb : (b+1)*mb]
		out = append(out, m[:l.AuxOff]...)
		out = append(out, aux[b*ab:(b+1)*ab]...)
		out = append(out, m[l.AuxOff:]...)
	}
	return out
}

// TestLayouts checks the layout table against the GGUF block sizes and the
// word alignment the shaders rely on.
func TestLayouts(t *testing.T) {
	for typ, l := range layouts {
		bs := typ.BlockSize()
		if l.BlockElems%bs != 0 || l.SrcBytes != l.BlockElems/bs*typ.BlockBytes() {
			t.Errorf("%s: %d elements in %d bytes, GGUF has %d in %d", typ, l.BlockElems, l.SrcBytes, bs, typ.BlockBytes())
		}
		if l.MainBytes()%4 != 0 || l.BlockElems%8 != 0 {
			t.Errorf("%s: main block of %d bytes or %d elements breaks word or unit alignment", typ, l.MainBytes(), l.BlockElems)
		}
		if l.Aux != AuxNone && l.AuxOff+l.AuxBytes() > l.SrcBytes {
			t.Errorf("%s: aux field at %d overruns the block", typ, l.AuxOff)
		}
	}
}

// TestRepack checks that repacking random blocks of every type keeps every
// byte, with fp16 scales in the aux stream where the layout says.
func TestRepack(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for typ, l := range layouts {
		for _, blocks := range []int{1, 2, 7} {
			src := make([]byte, blocks*l.SrcBytes)
			quant.RandomBlocks(typ, src, rng)
			main, aux := Repack(l, src)
			if len(main) != blocks*l.MainBytes() || len(aux) != l.AuxStreamBytes(blocks) {
				t.Fatalf("%s × %d: streams of %d and %d bytes", typ, blocks, len(main), len(aux))
			}
			if got := unpack(l, main, aux); !bytes.Equal(got, src) {
				t.Fatalf("%s × %d: repack loses bytes", typ, blocks)
			}
			if l.Aux == AuxHalf && !bytes.Equal(aux[:2], src[l.AuxOff:l.AuxOff+2]) {
				t.Errorf("%s: aux does not start with the first block's scale", typ)
			}
		}
	}
}

// TestChunkRows checks that chunks fit the limit and hold at least one row.
func TestChunkRows(t *testing.T) {
	cases := []struct {
		typ        gguf.TensorType
		rows, cols int
		max        int64
		want       int
		wantErr    bool
	}{
		{gguf.TypeQ4_0, 100, 512, 1 << 20, 100, false},
		{gguf.TypeQ4_0, 100, 512, 16 << 10, 64, false}, // 256 main bytes a row
		{gguf.TypeF32, 100, 512, 16 << 10, 8, false},
		{gguf.TypeQ6_K, 32000, 5120, 128 << 20, 32000, false}, // 13B output: 133 MB main → still one chunk
		{gguf.TypeF16, 32000, 4096, 128 << 20, 16384, false},  // 7B output in F16: two chunks
		{gguf.TypeF32, 1, 4096, 1 << 10, 0, true},
	}
	for _, c := range cases {
		l := layouts[c.typ]
		got, err := ChunkRows(l, c.rows, c.cols, c.max)
		if (err != nil) != c.wantErr || (!c.wantErr && got != c.want) {
			t.Errorf("%s %d×%d in %d: %d, %v; want %d", c.typ, c.rows, c.cols, c.max, got, err, c.want)
			continue
		}
		if err == nil {
			blocks := got * c.cols / l.BlockElems
			if int64(blocks*l.MainBytes()) > c.max || int64(l.AuxStreamBytes(blocks)) > c.max {
				t.Errorf("%s: chunk of %d rows exceeds %d bytes", c.typ, got, c.max)
			}
		}
	}
}

// FuzzRepack feeds arbitrary bytes as blocks of every type: repacking must
// keep every byte, whatever the data.
func FuzzRepack(f *testing.F) {
	f.Add(uint8(2), []byte("some bytes that are not a block of anything at all, 18+"))
	types := slices.Sorted(func(yield func(gguf.TensorType) bool) {
		for typ := range layouts {
			if !yield(typ) {
				return
			}
		}
	})
	f.Fuzz(func(t *testing.T, pick uint8, data []byte) {
		l := layouts[types[int(pick)%len(types)]]
		data = data[:len(data)/l.SrcBytes*l.SrcBytes]
		main, aux := Repack(l, data)
		if got := unpack(l, main, aux); !bytes.Equal(got, data) {
			t.Fatalf("repack of %d bytes loses bytes", len(data))
		}
	})
}
