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
	"errors"
	"fmt"
	"math"
	"math/bits"
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
