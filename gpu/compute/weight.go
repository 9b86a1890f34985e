package compute

import (
	"fmt"
	"math"
	"runtime"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
	"github.com/llamadesk/llamadesk/gpu/kernels"
)

// chunk is a range of a weight's rows stored in its own buffers.
type chunk struct {
	row0, rows int
	main, aux  binding
}

// weight is a weight tensor on the GPU (engine.Weight).
type weight struct {
	name       string
	typ        gguf.TensorType // GPU type: norm vectors are stored as F32
	rows, cols int
	chunks     []chunk
	act        gguf.TensorType // how activations are rounded first (F32: not)
	mv, mm     uint32          // matmul programs for one token and a batch; 0 for vectors
}

// Rows implements engine.Weight.
func (w *weight) Rows() int { return w.rows }

// Cols implements engine.Weight.
func (w *weight) Cols() int { return w.cols }

func asWeight(w engine.Weight) *weight {
	ww, ok := w.(*weight)
	if !ok {
		panic(fmt.Sprintf("compute: weight of type %T is not from a GPU backend", w))
	}
	return ww
}

// LoadWeight implements engine.Backend: it repacks the GGUF blocks (see
// kernels.Layout) and uploads them, in row chunks that each fit a storage
// block. Blocks the shaders read as they are in the file (kernels.AuxNone)
// are used in place where the device can (Device.WrapBuffer). Vectors
// (norm weights) are decoded to float32.
func (b *Backend) LoadWeight(name string, typ gguf.TensorType, rows, cols int, data []byte) (engine.Weight, error) {
	b.checkOpen()
	if rows < 1 || cols < 1 {
		return nil, fmt.Errorf("%s: bad shape %d×%d", b.name, rows, cols)
	}
	if bs := typ.BlockSize(); bs == 0 || cols%bs != 0 {
		return nil, fmt.Errorf("%s: row length %d is not a multiple of the %s block size", b.name, cols, typ)
	}
	if want := rows * typ.RowBytes(cols); len(data) != want {
		return nil, fmt.Errorf("%s: %d bytes of data, want %d", b.name, len(data), want)
	}
	if _, err := kernels.LayoutOf(typ); err != nil {
		return nil, fmt.Errorf("%s: %w", b.name, err)
	}
	w := &weight{name: name, typ: typ, rows: rows, cols: cols, act: quant.VecDotType(typ)}
	if w.act == gguf.TypeQ8_1 {
		w.act = gguf.TypeQ8_0 // the same values; Q8_1 adds a sum
	}
	if rows == 1 {
		f := make([]float32, cols)
		if err := quant.Dequantize(typ, data, f); err != nil {
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		w.typ = gguf.TypeF32
		data = float32Bytes(f)
	}
	l, _ := kernels.LayoutOf(w.typ)
	var err error
	if cols%l.BlockElems == 0 {
		if w.mv, err = b.program(b.v.MatMul(w.typ, 1)); err != nil {
			return nil, err
		}
		if w.mm, err = b.program(b.v.MatMul(w.typ, kernels.BatchTokens)); err != nil {
			return nil, err
		}
		if w.act != gguf.TypeF32 && !b.floatAct {
			if _, err = b.program(kernels.ActRound(w.act)); err != nil {
				return nil, err
			}
		}
	} else if rows > 1 {
		return nil, fmt.Errorf("%s: row length %d is not a multiple of %d", b.name, cols, l.BlockElems)
	}
	var per int
	if rows == 1 {
		per = 1
	} else if per, err = kernels.ChunkRows(l, rows, cols, b.lim.MaxBinding); err != nil {
		return nil, fmt.Errorf("%s: %w", b.name, err)
	}
	rowBytes := len(data) / rows
	var names []uint32
	for r0 := 0; r0 < rows; r0 += per {
		nr := min(per, rows-r0)
		src := data[r0*rowBytes : (r0+nr)*rowBytes]
		c := chunk{row0: r0, rows: nr}
		var main, aux []byte
		if rows == 1 {
			main = src
		} else {
			main, aux = kernels.Repack(l, src)
		}
		inPlace := rows > 1 && l.Aux == kernels.AuxNone // main is the file's memory
		if c.main, err = b.place(main, inPlace); err == nil && aux != nil {
			c.aux, err = b.upload(aux)
		}
		for _, n := range []uint32{c.main.name, c.aux.name} {
			if n != 0 {
				names = append(names, n)
			}
		}
		if err != nil {
			b.release(names)
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		w.chunks = append(w.chunks, c)
	}
	runtime.AddCleanup(w, b.release, names)
	return w, nil
}

// place puts a weight's bytes on the device: in place when inPlace says
// they are the file's and the device can read them there, at an offset
// that it can bind (a multiple of Limits.BindAlign), else copied.
func (b *Backend) place(data []byte, inPlace bool) (binding, error) {
	if !inPlace || len(data) == 0 {
		return b.upload(data)
	}
	size := int64(len(data))
	if b.limit > 0 && b.used+size > b.limit {
		return binding{}, fmt.Errorf("use %d MiB of memory on the GPU: %w (%d MiB in use of the %d MiB limit)",
			size>>20, ErrOutOfMemory, b.used>>20, b.limit>>20)
	}
	name, off, ok := b.dev.WrapBuffer(data)
	if !ok {
		return b.upload(data)
	}
	if off%b.lim.BindAlign != 0 {
		b.release([]uint32{name}) // deleted at the next flush
		return b.upload(data)
	}
	b.used += size
	b.sizes[name] = size
	return binding{name: name, off: off, size: size}, nil
}

// upload copies bytes into a new buffer (padded to 16 bytes).
func (b *Backend) upload(data []byte) (binding, error) {
	size := (int64(len(data)) + 15) &^ 15
	if size != int64(len(data)) {
		padded := make([]byte, size)
		copy(padded, data)
		data = padded
	}
	name, err := b.allocate(size, data)
	return whole(name, size), err
}

// kvCache is one layer's key and value cache (engine.KVCache): capacity
// rows of dim values each, stored as typ (see kvlayout.glsl): float32,
// fp16 pairs, or Q8_0 quants followed by the row's fp16 scales.
type kvCache struct {
	k, v     *buffer
	capacity int
	dim      int
	typ      engine.KVType
	rowWords int // words of one position's row
}

// Capacity implements engine.KVCache.
func (c *kvCache) Capacity() int { return c.capacity }

// AllocKV implements engine.Backend: float32, fp16 and Q8_0 caches. Each
// cache is bound whole by attention, so it must fit one storage block.
func (b *Backend) AllocKV(capacity, kvDim int, typ engine.KVType) (engine.KVCache, error) {
	b.checkOpen()
	switch typ {
	case engine.KVF32, engine.KVF16:
	case engine.KVQ8_0:
		if kvDim%32 != 0 {
			return nil, fmt.Errorf("%s: %w: a Q8_0 cache needs rows of whole 32-value blocks, not %d values", b.name, engine.ErrUnsupportedKV, kvDim)
		}
	default:
		return nil, fmt.Errorf("%s: %w: %s", b.name, engine.ErrUnsupportedKV, typ)
	}
	if capacity <= 0 || kvDim <= 0 || kvDim%4 != 0 || capacity > math.MaxInt32/kvDim {
		return nil, fmt.Errorf("%s: invalid KV cache size of %d positions × %d values", b.name, capacity, kvDim)
	}
	if _, err := b.program(b.v.Attention(typ)); err != nil {
		return nil, err
	}
	if typ != engine.KVF32 {
		if _, err := b.program(kernels.KVStore(typ)); err != nil {
			return nil, err
		}
	}
	rowWords := kernels.KVRowWords(typ, kvDim)
	words := capacity * rowWords
	if bytes := int64(words) * 4; bytes > b.lim.MaxBinding {
		return nil, fmt.Errorf("%s: a %s KV cache of %d positions × %d values takes %d MiB per layer, more than one storage block holds on %s (%d MiB); use a shorter context", b.name,
			typ, capacity, kvDim, bytes>>20, b.desc, b.lim.MaxBinding>>20)
	}
	k, err := b.newBuffer(words)
	if err != nil {
		return nil, err
	}
	v, err := b.newBuffer(words)
	if err != nil {
		return nil, err
	}
	return &kvCache{k: k, v: v, capacity: capacity, dim: kvDim, typ: typ, rowWords: rowWords}, nil
}
