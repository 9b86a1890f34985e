package gguf

import (
	"fmt"

	"github.com/llamadesk/llamadesk/internal/inputfile"
)

// Open memory-maps and parses the GGUF file at path. Close the File when
// done. Only a regular file is accepted, and opening never waits: a named
// pipe or a device is refused at once.
func Open(path string) (*File, error) {
	fh, st, err := inputfile.Open(path) // never blocks on a named pipe; refuses what is not a regular file
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	defer fh.Close()
	if st.Size() < 8 {
		return nil, fmt.Errorf("open model %s: %w: file truncated (%d bytes)", path, ErrInvalid, st.Size())
	}
	data, unmap, err := mmapFile(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("open model %s: map: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		_ = unmap()
		return nil, fmt.Errorf("open model %s: %w", path, err)
	}
	f.closer = unmap
	return f, nil
}

// Tensor returns the info of the named tensor.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tIndex[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorData returns the bytes of a tensor's data, a view into the file.
func (f *File) TensorData(t *TensorInfo) []byte {
	start := f.DataOffset + t.Offset
	return f.data[start : start+t.Size : start+t.Size]
}

// Lookup returns the metadata pair with the given key.
func (f *File) Lookup(key string) (KV, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return KV{}, false
	}
	return f.KV[i], true
}

// String returns a string metadata value.
func (f *File) String(key string) (string, bool) {
	kv, ok := f.Lookup(key)
	if !ok {
		return "", false
	}
	s, ok := kv.Value.(string)
	return s, ok
}

// Uint returns an unsigned or non-negative signed integer metadata value of any width.
func (f *File) Uint(key string) (uint64, bool) {
	kv, ok := f.Lookup(key)
	if !ok {
		return 0, false
	}
	return asUint(kv.Value)
}

func asUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// Float returns a floating-point metadata value (float32 or float64).
func (f *File) Float(key string) (float64, bool) {
	kv, ok := f.Lookup(key)
	if !ok {
		return 0, false
	}
	switch x := kv.Value.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Bool returns a boolean metadata value.
func (f *File) Bool(key string) (bool, bool) {
	kv, ok := f.Lookup(key)
	if !ok {
		return false, false
	}
	b, ok := kv.Value.(bool)
	return b, ok
}

// Array returns an array metadata value.
func (f *File) Array(key string) (Array, bool) {
	kv, ok := f.Lookup(key)
	if !ok {
		return Array{}, false
	}
	a, ok := kv.Value.(Array)
	return a, ok
}

// Architecture returns general.architecture, or "" when the file has none.
func (f *File) Architecture() string {
	s, _ := f.String("general.architecture")
	return s
}
