// Package gguf reads and writes GGUF files (versions 2 and 3, little-endian):
// the header, metadata key/value pairs, tensor infos and the aligned tensor
// data, which is used in place from a memory map.
//
// Nothing in a file is trusted: every count, length, dimension and offset is
// checked against the size of the file before it is used, so a corrupt or
// truncated file gives an error that names the problem, never a panic or a
// huge allocation.
package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Magic is the four bytes every GGUF file begins with.
const Magic = "GGUF"

// DefaultAlignment is the tensor data alignment used when the file does not
// set general.alignment.
const DefaultAlignment = 32

// maxArrayDepth bounds how deeply metadata arrays may nest.
const maxArrayDepth = 8

// maxDims is the most dimensions a ggml tensor can have.
const maxDims = 4

// ErrInvalid is wrapped by every error that reports a malformed file.
var ErrInvalid = errors.New("invalid gguf")

// KV is one metadata key/value pair. Value holds uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64 or Array,
// according to Type.
type KV struct {
	Key   string
	Type  ValueType
	Value any
}

// TensorInfo describes one tensor of the file.
type TensorInfo struct {
	Name string
	// Dims are the tensor's dimensions, innermost (contiguous) first, as ggml's ne.
	Dims []uint64
	Type TensorType
	// Offset is the position of the tensor's data relative to the start of the data section.
	Offset uint64
	// Size is the number of bytes of the tensor's data.
	Size uint64
}

// Elements returns the number of elements of the tensor.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// File is a parsed GGUF file. Tensor data is a view into the bytes the file
// was parsed from (the memory map, for files opened with Open).
type File struct {
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset uint64 // absolute offset of the tensor data section

	data    []byte
	kvIndex map[string]int
	tIndex  map[string]int
	closer  func() error
}

// Size returns the size of the file in bytes.
func (f *File) Size() int64 { return int64(len(f.data)) }

// Close releases the memory map, if the file has one. Tensor data obtained
// from the file must not be used afterwards.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	f.data = nil
	return c()
}

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

// Parse parses a whole GGUF file held in data. The returned File refers to
// data for tensor contents; data must stay unchanged while the File is used.
func Parse(data []byte) (*File, error) {
	return parse(data, maxDecoded)
}

// parse is Parse with a budget for the decoded metadata and tensor table.
func parse(data []byte, budget int64) (*File, error) {
	r := &reader{b: data, budget: budget}
	magic := r.take(4, at("magic"))
	if r.err != nil {
		return nil, r.err
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("%w: bad magic %q (not a GGUF file)", ErrInvalid, magic)
	}
	f := &File{data: data, kvIndex: map[string]int{}, tIndex: map[string]int{}}
	f.Version = r.u32(at("version"))
	if r.err != nil {
		return nil, r.err
	}
	if f.Version != 2 && f.Version != 3 {
		if f.Version == 1 {
			return nil, fmt.Errorf("%w: GGUF version 1 is not supported (convert the file again with a current llama.cpp)", ErrInvalid)
		}
		if f.Version&0xFFFF == 0 && f.Version != 0 {
			return nil, fmt.Errorf("%w: version %#x looks big-endian; only little-endian GGUF is supported", ErrInvalid, f.Version)
		}
		return nil, fmt.Errorf("%w: unsupported GGUF version %d", ErrInvalid, f.Version)
	}
	// Each tensor info takes at least 8 (name length) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset) bytes.
	nTensors := r.count(at("tensor count"), 32)
	// Each KV takes at least 8 (key length) + 4 (type) + 1 (smallest value) bytes.
	nKV := r.count(at("metadata count"), 13)
	if r.err != nil {
		return nil, r.err
	}

	if !r.charge(int64(nKV)*costKV, at("metadata count")) || !r.charge(int64(nTensors)*costTensor, at("tensor count")) {
		return nil, r.err
	}
	f.KV = make([]KV, 0, nKV)
	for i := 0; i < nKV; i++ {
		key := r.str(loc{"metadata key %d", "", i})
		vt := ValueType(r.u32(loc{"type of metadata %q", key, 0}))
		if r.err != nil {
			return nil, r.err
		}
		v := readValue(r, vt, key, 0)
		if r.err != nil {
			return nil, r.err
		}
		if _, dup := f.kvIndex[key]; dup {
			return nil, fmt.Errorf("%w: duplicate metadata key %q", ErrInvalid, key)
		}
		f.kvIndex[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Type: vt, Value: v})
	}

	f.Alignment = DefaultAlignment
	if i, ok := f.kvIndex["general.alignment"]; ok {
		a, isU32 := f.KV[i].Value.(uint32)
		if !isU32 {
			return nil, fmt.Errorf("%w: general.alignment has type %s, want uint32", ErrInvalid, f.KV[i].Type)
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("%w: general.alignment %d is not a power of two", ErrInvalid, a)
		}
		f.Alignment = uint64(a)
	}

	f.Tensors = make([]TensorInfo, 0, nTensors)
	for i := 0; i < nTensors; i++ {
		t, err := readTensorInfo(r, i)
		if err != nil {
			return nil, err
		}
		if _, dup := f.tIndex[t.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate tensor name %q", ErrInvalid, t.Name)
		}
		f.tIndex[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}

	// The data section starts at the next multiple of the alignment.
	headerEnd := uint64(r.off)
	f.DataOffset = (headerEnd + f.Alignment - 1) / f.Alignment * f.Alignment
	size := uint64(len(data))
	if len(f.Tensors) > 0 && f.DataOffset > size {
		return nil, fmt.Errorf("%w: file truncated: tensor data would start at byte %d but the file has %d bytes", ErrInvalid, f.DataOffset, size)
	}
	dataSize := uint64(0)
	if f.DataOffset <= size {
		dataSize = size - f.DataOffset
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Offset%f.Alignment != 0 {
			return nil, fmt.Errorf("%w: tensor %q offset %d is not a multiple of the alignment %d", ErrInvalid, t.Name, t.Offset, f.Alignment)
		}
		if t.Offset > dataSize || t.Size > dataSize-t.Offset {
			return nil, fmt.Errorf("%w: tensor %q extends past end of file (data offset %d + %d bytes, but the data section holds %d bytes)", ErrInvalid, t.Name, t.Offset, t.Size, dataSize)
		}
	}
	return f, nil
}

func readTensorInfo(r *reader, i int) (TensorInfo, error) {
	var t TensorInfo
	t.Name = r.str(loc{"tensor %d name", "", i})
	nd := r.u32(loc{"tensor %q dimension count", t.Name, 0})
	if r.err != nil {
		return t, r.err
	}
	if nd == 0 || nd > maxDims {
		return t, fmt.Errorf("%w: tensor %q has %d dimensions (want 1 to %d)", ErrInvalid, t.Name, nd, maxDims)
	}
	t.Dims = make([]uint64, nd)
	elems := uint64(1)
	for d := range t.Dims {
		v := r.u64(loc{"tensor %q dimension %d", t.Name, d})
		if r.err != nil {
			return t, r.err
		}
		if v == 0 {
			return t, fmt.Errorf("%w: tensor %q dimension %d is zero", ErrInvalid, t.Name, d)
		}
		hi, lo := bits.Mul64(elems, v)
		if hi != 0 || lo > math.MaxInt64/8 {
			return t, fmt.Errorf("%w: tensor %q has an absurd element count (dimensions %v)", ErrInvalid, t.Name, t.Dims[:d+1])
		}
		t.Dims[d] = v
		elems = lo
	}
	t.Type = TensorType(r.u32(loc{"tensor %q type", t.Name, 0}))
	t.Offset = r.u64(loc{"tensor %q offset", t.Name, 0})
	if r.err != nil {
		return t, r.err
	}
	if !t.Type.Known() {
		return t, fmt.Errorf("%w: tensor %q has unknown type %d", ErrInvalid, t.Name, uint32(t.Type))
	}
	bs := uint64(t.Type.BlockSize())
	if t.Dims[0]%bs != 0 {
		return t, fmt.Errorf("%w: tensor %q row length %d is not a multiple of the %s block size %d", ErrInvalid, t.Name, t.Dims[0], t.Type, bs)
	}
	t.Size = elems / bs * uint64(t.Type.BlockBytes())
	return t, nil
}

func readValue(r *reader, vt ValueType, key string, depth int) any {
	l := loc{"metadata %q", key, 0}
	switch vt {
	case ValueUint8:
		return r.u8(l)
	case ValueInt8:
		return int8(r.u8(l))
	case ValueUint16:
		return r.u16(l)
	case ValueInt16:
		return int16(r.u16(l))
	case ValueUint32:
		return r.u32(l)
	case ValueInt32:
		return int32(r.u32(l))
	case ValueFloat32:
		return math.Float32frombits(r.u32(l))
	case ValueBool:
		b := r.u8(l)
		if b > 1 {
			r.fail("metadata %q: bool value %d is neither 0 nor 1", key, b)
		}
		return b == 1
	case ValueString:
		return r.str(l)
	case ValueUint64:
		return r.u64(l)
	case ValueInt64:
		return int64(r.u64(l))
	case ValueFloat64:
		return math.Float64frombits(r.u64(l))
	case ValueArray:
		if depth >= maxArrayDepth {
			r.fail("metadata %q: arrays nested deeper than %d", key, maxArrayDepth)
			return nil
		}
		return readArray(r, key, depth+1)
	}
	r.fail("metadata %q has unknown value type %d", key, uint32(vt))
	return nil
}

func readArray(r *reader, key string, depth int) Array {
	et := ValueType(r.u32(loc{"metadata %q array element type", key, 0}))
	if r.err != nil {
		return Array{}
	}
	if et > ValueFloat64 {
		r.fail("metadata %q: array of unknown value type %d", key, uint32(et))
		return Array{}
	}
	n := r.count(loc{"metadata %q array length", key, 0}, et.minSize())
	if r.err != nil {
		return Array{}
	}
	a := Array{Type: et}
	if sz := et.fixedSize(); sz > 0 {
		raw := r.take(n*sz, loc{"metadata %q array", key, 0})
		if r.err != nil || !r.charge(costArray+int64(n*sz), loc{"metadata %q array", key, 0}) {
			return Array{}
		}
		a.Values = decodeFixed(et, raw, n)
		if et == ValueBool {
			for i, b := range raw {
				if b > 1 {
					r.fail("metadata %q: bool element %d is %d, neither 0 nor 1", key, i, b)
					return Array{}
				}
			}
		}
		return a
	}
	switch et {
	case ValueString:
		if !r.charge(costArray+int64(n)*costString, loc{"metadata %q array", key, 0}) {
			return Array{}
		}
		var s []string // a nil slice boxes without allocating
		if n > 0 {
			s = make([]string, n)
		}
		for i := range s {
			s[i] = readStringElement(r, key, i)
			if r.err != nil {
				return Array{}
			}
		}
		a.Values = s
	case ValueArray:
		if !r.charge(costArray+int64(n)*costArray, loc{"metadata %q array", key, 0}) {
			return Array{}
		}
		var s []Array
		if n > 0 {
			s = make([]Array, n)
		}
		for i := range s {
			if depth >= maxArrayDepth {
				r.fail("metadata %q: arrays nested deeper than %d", key, maxArrayDepth)
				return Array{}
			}
			s[i] = readArray(r, key, depth+1)
			if r.err != nil {
				return Array{}
			}
		}
		a.Values = s
	}
	return a
}

// readStringElement reads element i of a string array. Its header was
// charged with the array; only its bytes are charged here, and an empty
// string allocates nothing.
func readStringElement(r *reader, key string, i int) string {
	n := r.u64(loc{"metadata %q element %d", key, i})
	if r.err != nil {
		return ""
	}
	if n > uint64(r.remaining()) {
		r.fail("metadata %q element %d length %d exceeds the %d bytes left in the file", key, i, n, r.remaining())
		return ""
	}
	if n == 0 {
		return ""
	}
	if !r.charge(int64(n), loc{"metadata %q element %d", key, i}) {
		return ""
	}
	return string(r.take(int(n), loc{"metadata %q element %d", key, i}))
}

func decodeFixed(et ValueType, raw []byte, n int) any {
	le := binary.LittleEndian
	if n == 0 {
		return emptyFixed(et)
	}
	switch et {
	case ValueUint8:
		return append([]uint8(nil), raw...)
	case ValueInt8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(raw[i])
		}
		return v
	case ValueBool:
		v := make([]bool, n)
		for i := range v {
			v[i] = raw[i] == 1
		}
		return v
	case ValueUint16:
		v := make([]uint16, n)
		for i := range v {
			v[i] = le.Uint16(raw[2*i:])
		}
		return v
	case ValueInt16:
		v := make([]int16, n)
		for i := range v {
			v[i] = int16(le.Uint16(raw[2*i:]))
		}
		return v
	case ValueUint32:
		v := make([]uint32, n)
		for i := range v {
			v[i] = le.Uint32(raw[4*i:])
		}
		return v
	case ValueInt32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(le.Uint32(raw[4*i:]))
		}
		return v
	case ValueFloat32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return v
	case ValueUint64:
		v := make([]uint64, n)
		for i := range v {
			v[i] = le.Uint64(raw[8*i:])
		}
		return v
	case ValueInt64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(le.Uint64(raw[8*i:]))
		}
		return v
	case ValueFloat64:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return v
	}
	return nil
}

// emptyFixed returns a nil slice of et's Go type: boxing a nil slice takes
// no memory, so a file of empty arrays costs only their Array values.
func emptyFixed(et ValueType) any {
	switch et {
	case ValueUint8:
		return []uint8(nil)
	case ValueInt8:
		return []int8(nil)
	case ValueBool:
		return []bool(nil)
	case ValueUint16:
		return []uint16(nil)
	case ValueInt16:
		return []int16(nil)
	case ValueUint32:
		return []uint32(nil)
	case ValueInt32:
		return []int32(nil)
	case ValueFloat32:
		return []float32(nil)
	case ValueUint64:
		return []uint64(nil)
	case ValueInt64:
		return []int64(nil)
	case ValueFloat64:
		return []float64(nil)
	}
	return nil
}
