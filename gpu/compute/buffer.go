package compute

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/llamadesk/llamadesk/engine"
)

// buffer is a GPU array of float32 (engine.Buffer).
type buffer struct {
	name  uint32
	n     int
	bytes int64
}

// Len implements engine.Buffer.
func (x *buffer) Len() int { return x.n }

// newBuffer allocates a zeroed GPU buffer of n floats (rounded up to a
// whole vec4) and arranges for its deletion when the Go object is collected.
func (b *Backend) newBuffer(n int) (*buffer, error) {
	b.checkOpen()
	if n < 0 || int64(n) > math.MaxInt64/8 {
		return nil, fmt.Errorf("%s: a buffer of %d floats", b.name, n)
	}
	size := (int64(max(n, 1))*4 + 15) &^ 15
	name, err := b.allocate(size, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.name, err)
	}
	x := &buffer{name: name, n: n, bytes: size}
	b.rec.bump(name) // a new buffer may reuse a deleted one's name
	runtime.AddCleanup(x, b.release, []uint32{name})
	return x, nil
}

// allocate creates a device buffer of size bytes holding data (zeros when data
// is nil) within the memory limit, and counts it.
func (b *Backend) allocate(size int64, data []byte) (uint32, error) {
	if b.limit > 0 && b.used+size > b.limit {
		return 0, fmt.Errorf("allocate %d MiB of GPU memory: %w (%d MiB in use of the %d MiB limit)",
			size>>20, ErrOutOfMemory, b.used>>20, b.limit>>20)
	}
	name, err := b.dev.NewBuffer(size, data)
	if err != nil {
		return 0, err
	}
	b.used += size
	b.sizes[name] = size
	return name, nil
}

// MemoryUsed returns the bytes of the GPU buffers the backend holds.
func (b *Backend) MemoryUsed() int64 { return b.used }

// Alloc implements engine.Backend.
func (b *Backend) Alloc(n int) (engine.Buffer, error) {
	return b.newBuffer(n)
}

func asBuffer(x engine.Buffer) *buffer {
	bb, ok := x.(*buffer)
	if !ok {
		panic(fmt.Sprintf("compute: buffer of type %T is not from a GPU backend", x))
	}
	return bb
}

// rangeOf binds count floats of x starting at float off: the binding starts
// at an aligned offset at or below, and rel is off's position in it. A
// range larger than a storage block is kept as the failure Read reports,
// and ok is false: the operation records nothing.
func (b *Backend) rangeOf(x *buffer, off, count int) (bind binding, rel uint32, ok bool) {
	if off < 0 || count < 0 || off+count > x.n {
		panic(fmt.Sprintf("%s: range [%d, %d) is outside a buffer of %d floats", b.name, off, off+count, x.n))
	}
	start := int64(off) * 4
	base := start - start%b.lim.BindAlign
	end := min((start+int64(count)*4+15)&^15, x.bytes)
	size := max(end-base, 16)
	if size > b.lim.MaxBinding {
		b.fail(fmt.Errorf("%s: %d MiB to bind at once exceed the storage block limit of %s (%d MiB)", b.name, size>>20, b.desc, b.lim.MaxBinding>>20))
		return binding{}, 0, false
	}
	return binding{name: x.name, off: base, size: size}, uint32((start - base) / 4), true
}

// whole binds all of a weight or table buffer.
func whole(name uint32, size int64) binding { return binding{name: name, size: size} }

// grid folds n workgroups into the x and y dimensions.
func (b *Backend) grid(n int) [3]int {
	if n <= b.lim.MaxGroups {
		return [3]int{max(n, 1), 1, 1}
	}
	return [3]int{b.lim.MaxGroups, (n + b.lim.MaxGroups - 1) / b.lim.MaxGroups, 1}
}

// Write implements engine.Backend.
func (b *Backend) Write(dst engine.Buffer, src []float32) {
	b.checkOpen()
	d := asBuffer(dst)
	if len(src) > d.n {
		panic(fmt.Sprintf("%s: write of %d floats into a buffer of %d", b.name, len(src), d.n))
	}
	b.rec.upload(d.name, 0, src)
	b.maybeFlush()
}

// Read implements engine.Backend: it runs every recorded command, copies
// the result back and returns the first failure since the previous Read.
func (b *Backend) Read(dst []float32, src engine.Buffer) error {
	b.checkOpen()
	s := asBuffer(src)
	n := min(len(dst), s.n)
	rb := &Readback{Buf: s.name, Barrier: b.rec.readBarrier(s.name)}
	if n > 0 {
		rb.Dst = unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*n)
	}
	// Other buffers' writes may still be in flight: the hazards stay recorded.
	b.flush(rb)
	err := b.err
	b.err = nil
	return err
}

// Copy implements engine.Backend.
func (b *Backend) Copy(dst engine.Buffer, dstOff int, src engine.Buffer, srcOff, count int) {
	b.checkOpen()
	d, s := asBuffer(dst), asBuffer(src)
	if count <= 0 {
		return
	}
	if dstOff < 0 || srcOff < 0 || dstOff+count > d.n || srcOff+count > s.n {
		panic(fmt.Sprintf("%s: copy of %d floats from %d (of %d) to %d (of %d) is out of range", b.name, count, srcOff, s.n, dstOff, d.n))
	}
	if d == s && srcOff < dstOff+count && dstOff < srcOff+count {
		panic(b.name + ": copy between overlapping ranges of one buffer")
	}
	b.rec.copyBuffer(d.name, int64(dstOff)*4, s.name, int64(srcOff)*4, int64(count)*4)
	b.maybeFlush()
}

// float32Bytes views floats as little-endian bytes.
func float32Bytes(f []float32) []byte {
	out := make([]byte, 4*len(f))
	for i, v := range f {
		bits := math.Float32bits(v)
		out[4*i], out[4*i+1], out[4*i+2], out[4*i+3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	}
	return out
}
