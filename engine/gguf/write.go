package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Writer builds a GGUF file (version 3). Metadata is written in the order it
// was set; tensor data is produced by callbacks while writing, so files far
// larger than memory can be written.
type Writer struct {
	kv        []KV
	tensors   []writerTensor
	alignment uint64
}

type writerTensor struct {
	info  TensorInfo
	write func(io.Writer) error
}

// NewWriter returns an empty Writer with the default alignment.
func NewWriter() *Writer { return &Writer{alignment: DefaultAlignment} }

// Set adds a metadata pair. The type is taken from the Go value: uint8, int8,
// uint16, int16, uint32, int32, float32, bool, string, uint64, int64,
// float64, a slice of one of those, or an Array. Setting general.alignment
// (uint32) also changes the alignment used for tensor data.
func (w *Writer) Set(key string, value any) error {
	vt, v, err := valueOf(value)
	if err != nil {
		return fmt.Errorf("metadata %q: %w", key, err)
	}
	if key == "general.alignment" {
		a, ok := v.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("metadata %q: want a power of two uint32", key)
		}
		w.alignment = uint64(a)
	}
	for i := range w.kv {
		if w.kv[i].Key == key {
			w.kv[i] = KV{Key: key, Type: vt, Value: v}
			return nil
		}
	}
	w.kv = append(w.kv, KV{Key: key, Type: vt, Value: v})
	return nil
}

func valueOf(value any) (ValueType, any, error) {
	switch x := value.(type) {
	case uint8:
		return ValueUint8, x, nil
	case int8:
		return ValueInt8, x, nil
	case uint16:
		return ValueUint16, x, nil
	case int16:
		return ValueInt16, x, nil
	case uint32:
		return ValueUint32, x, nil
	case int32:
		return ValueInt32, x, nil
	case float32:
		return ValueFloat32, x, nil
	case bool:
		return ValueBool, x, nil
	case string:
		return ValueString, x, nil
	case uint64:
		return ValueUint64, x, nil
	case int64:
		return ValueInt64, x, nil
	case float64:
		return ValueFloat64, x, nil
	case Array:
		return ValueArray, x, nil
	case []uint8:
		return ValueArray, Array{ValueUint8, x}, nil
	case []int8:
		return ValueArray, Array{ValueInt8, x}, nil
	case []uint16:
		return ValueArray, Array{ValueUint16, x}, nil
	case []int16:
		return ValueArray, Array{ValueInt16, x}, nil
	case []uint32:
		return ValueArray, Array{ValueUint32, x}, nil
	case []int32:
		return ValueArray, Array{ValueInt32, x}, nil
	case []float32:
		return ValueArray, Array{ValueFloat32, x}, nil
	case []bool:
		return ValueArray, Array{ValueBool, x}, nil
	case []string:
		return ValueArray, Array{ValueString, x}, nil
	case []uint64:
		return ValueArray, Array{ValueUint64, x}, nil
	case []int64:
		return ValueArray, Array{ValueInt64, x}, nil
	case []float64:
		return ValueArray, Array{ValueFloat64, x}, nil
	case []Array:
		return ValueArray, Array{ValueArray, x}, nil
	}
	return 0, nil, fmt.Errorf("unsupported metadata value type %T", value)
}

// AddTensor adds a tensor whose data write produces when the file is written;
// write must write exactly the tensor's size in bytes.
func (w *Writer) AddTensor(name string, typ TensorType, dims []uint64, write func(io.Writer) error) error {
	if !typ.Known() {
		return fmt.Errorf("tensor %q: unknown type %d", name, typ)
	}
	if len(dims) == 0 || len(dims) > maxDims {
		return fmt.Errorf("tensor %q: %d dimensions", name, len(dims))
	}
	if dims[0]%uint64(typ.BlockSize()) != 0 {
		return fmt.Errorf("tensor %q: row length %d is not a multiple of the %s block size", name, dims[0], typ)
	}
	for _, t := range w.tensors {
		if t.info.Name == name {
			return fmt.Errorf("tensor %q added twice", name)
		}
	}
	info := TensorInfo{Name: name, Dims: append([]uint64(nil), dims...), Type: typ}
	info.Size = info.Elements() / uint64(typ.BlockSize()) * uint64(typ.BlockBytes())
	w.tensors = append(w.tensors, writerTensor{info: info, write: write})
	return nil
}

// AddTensorBytes adds a tensor with the given raw data.
func (w *Writer) AddTensorBytes(name string, typ TensorType, dims []uint64, data []byte) error {
	if err := w.AddTensor(name, typ, dims, func(out io.Writer) error {
		_, err := out.Write(data)
		return err
	}); err != nil {
		return err
	}
	if got := w.tensors[len(w.tensors)-1].info.Size; got != uint64(len(data)) {
		w.tensors = w.tensors[:len(w.tensors)-1]
		return fmt.Errorf("tensor %q: %d bytes of data, want %d", name, len(data), got)
	}
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

// Write implements io.Writer.
func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteTo writes the whole file to out.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(out, 1<<20)
	cw := &countingWriter{w: bw}
	e := &encoder{w: cw}
	e.bytes([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kv)))
	for _, kv := range w.kv {
		e.str(kv.Key)
		e.u32(uint32(kv.Type))
		e.value(kv.Type, kv.Value)
	}
	offset := uint64(0)
	for i := range w.tensors {
		t := &w.tensors[i].info
		t.Offset = offset
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
		offset = alignUp(offset+t.Size, w.alignment)
	}
	if len(w.tensors) > 0 {
		// The data section starts aligned; a file without tensors ends with its header.
		e.pad(w.alignment)
	}
	if e.err != nil {
		return cw.n, e.err
	}
	for _, t := range w.tensors {
		start := cw.n
		if err := t.write(cw); err != nil {
			return cw.n, fmt.Errorf("write tensor %q: %w", t.info.Name, err)
		}
		if got := uint64(cw.n - start); got != t.info.Size {
			return cw.n, fmt.Errorf("write tensor %q: wrote %d bytes, want %d", t.info.Name, got, t.info.Size)
		}
		e.pad(w.alignment)
		if e.err != nil {
			return cw.n, e.err
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	return cw.n, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// encoder writes little-endian GGUF values, keeping the first error.
type encoder struct {
	w   *countingWriter
	err error
	buf [8]byte
}

func (e *encoder) bytes(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}

func (e *encoder) u8(v uint8) { e.buf[0] = v; e.bytes(e.buf[:1]) }

func (e *encoder) u16(v uint16) { binary.LittleEndian.PutUint16(e.buf[:], v); e.bytes(e.buf[:2]) }

func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.buf[:], v); e.bytes(e.buf[:4]) }

func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.buf[:], v); e.bytes(e.buf[:8]) }

func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.bytes([]byte(s)) }

func (e *encoder) pad(a uint64) {
	for e.err == nil && uint64(e.w.n)%a != 0 {
		e.u8(0)
	}
}

func (e *encoder) value(vt ValueType, v any) {
	switch vt {
	case ValueUint8:
		e.u8(v.(uint8))
	case ValueInt8:
		e.u8(uint8(v.(int8)))
	case ValueUint16:
		e.u16(v.(uint16))
	case ValueInt16:
		e.u16(uint16(v.(int16)))
	case ValueUint32:
		e.u32(v.(uint32))
	case ValueInt32:
		e.u32(uint32(v.(int32)))
	case ValueFloat32:
		e.u32(math.Float32bits(v.(float32)))
	case ValueBool:
		if v.(bool) {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case ValueString:
		e.str(v.(string))
	case ValueUint64:
		e.u64(v.(uint64))
	case ValueInt64:
		e.u64(uint64(v.(int64)))
	case ValueFloat64:
		e.u64(math.Float64bits(v.(float64)))
	case ValueArray:
		e.array(v.(Array))
	}
}

func (e *encoder) array(a Array) {
	e.u32(uint32(a.Type))
	e.u64(uint64(a.Len()))
	switch x := a.Values.(type) {
	case []uint8:
		e.bytes(x)
	case []int8:
		for _, v := range x {
			e.u8(uint8(v))
		}
	case []bool:
		for _, v := range x {
			e.value(ValueBool, v)
		}
	case []uint16:
		for _, v := range x {
			e.u16(v)
		}
	case []int16:
		for _, v := range x {
			e.u16(uint16(v))
		}
	case []uint32:
		for _, v := range x {
			e.u32(v)
		}
	case []int32:
		for _, v := range x {
			e.u32(uint32(v))
		}
	case []float32:
		for _, v := range x {
			e.u32(math.Float32bits(v))
		}
	case []string:
		for _, v := range x {
			e.str(v)
		}
	case []uint64:
		for _, v := range x {
			e.u64(v)
		}
	case []int64:
		for _, v := range x {
			e.u64(uint64(v))
		}
	case []float64:
		for _, v := range x {
			e.u64(math.Float64bits(v))
		}
	case []Array:
		for _, v := range x {
			e.array(v)
		}
	}
}
