package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/internal/testenv"
)

// sharedFiles lists every GGUF file of the shared test data.
func sharedFiles(tb testing.TB) []string {
	tb.Helper()
	var paths []string
	for _, m := range testenv.Models(tb) {
		paths = append(paths, testenv.Path(tb, "models", m+".gguf"))
	}
	return append(paths, testenv.Path(tb, "vocab", "llama2-spm.gguf"))
}

func TestOpenSharedFiles(t *testing.T) {
	for _, p := range sharedFiles(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			f, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Version != 3 || f.Architecture() != "llama" {
				t.Errorf("version %d architecture %q", f.Version, f.Architecture())
			}
			toks, ok := f.Array("tokenizer.ggml.tokens")
			if !ok || toks.Type != ValueString || toks.Len() < 512 {
				t.Errorf("tokenizer.ggml.tokens: %v %v", ok, toks.Type)
			}
			if n, ok := f.Uint("llama.context_length"); !ok || n != 4096 {
				t.Errorf("llama.context_length = %d, %v", n, ok)
			}
			if strings.HasPrefix(filepath.Base(p), "tiny") || strings.HasPrefix(filepath.Base(p), "chat") {
				if len(f.Tensors) != 21 {
					t.Errorf("%d tensors, want 21", len(f.Tensors))
				}
				emb, ok := f.Tensor("token_embd.weight")
				if !ok || emb.Dims[0] != 256 || len(f.TensorData(emb)) != int(emb.Size) {
					t.Errorf("token_embd.weight: %+v", emb)
				}
			}
		})
	}
}

// TestWriterRoundTrip rewrites every shared file from its parsed form and
// expects the same bytes: the writer and the parser agree with llama.cpp's
// gguf writer on every value type, the alignment and the padding.
func TestWriterRoundTrip(t *testing.T) {
	for _, p := range sharedFiles(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(orig)
			if err != nil {
				t.Fatal(err)
			}
			w := NewWriter()
			for _, kv := range f.KV {
				if err := w.Set(kv.Key, kv.Value); err != nil {
					t.Fatal(err)
				}
			}
			for i := range f.Tensors {
				ti := &f.Tensors[i]
				if err := w.AddTensorBytes(ti.Name, ti.Type, ti.Dims, f.TensorData(ti)); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			if _, err := w.WriteTo(&out); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), orig) {
				t.Fatalf("rewritten file differs (%d bytes vs %d)", out.Len(), len(orig))
			}
		})
	}
}

// TestTruncated cuts a real model at every byte of its header and at every
// tensor boundary of its data: each must give ErrInvalid, never a panic.
func TestTruncated(t *testing.T) {
	data, err := os.ReadFile(testenv.Path(t, "models", "tiny-q4_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	cuts := []int{}
	for n := 0; n < int(f.DataOffset); n++ {
		cuts = append(cuts, n)
	}
	for _, ti := range f.Tensors {
		end := int(f.DataOffset + ti.Offset + ti.Size)
		cuts = append(cuts, end-1, int(f.DataOffset+ti.Offset)+1)
	}
	last := 0
	for _, ti := range f.Tensors {
		last = max(last, int(f.DataOffset+ti.Offset+ti.Size))
	}
	for _, n := range cuts {
		if n >= last {
			continue
		}
		_, err := Parse(data[:n])
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("truncated at %d of %d: err = %v, want ErrInvalid", n, len(data), err)
		}
	}
	if _, err := Parse(data[:last]); err != nil {
		t.Fatalf("file cut right after its last tensor: %v", err)
	}
}

// builder assembles a GGUF file by hand, for malformed cases.
type builder struct{ bytes.Buffer }

func (b *builder) u32(v uint32) *builder {
	binary.Write(&b.Buffer, binary.LittleEndian, v)
	return b
}

func (b *builder) u64(v uint64) *builder {
	binary.Write(&b.Buffer, binary.LittleEndian, v)
	return b
}

func (b *builder) str(s string) *builder {
	b.u64(uint64(len(s)))
	b.WriteString(s)
	return b
}

func header(nTensors, nKV uint64) *builder {
	b := &builder{}
	b.WriteString("GGUF")
	return b.u32(3).u64(nTensors).u64(nKV)
}

func TestMalformed(t *testing.T) {
	pad := func(b *builder, n int) []byte { return append(b.Bytes(), make([]byte, n)...) }
	tensor := func(b *builder, name string, dims []uint64, typ TensorType, off uint64) *builder {
		b.str(name).u32(uint32(len(dims)))
		for _, d := range dims {
			b.u64(d)
		}
		return b.u32(uint32(typ)).u64(off)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"bad magic", []byte("GGML\x03\x00\x00\x00"), "bad magic"},
		{"version 1", append([]byte("GGUF"), 1, 0, 0, 0), "version 1"},
		{"version 4", append([]byte("GGUF"), 4, 0, 0, 0, 0, 0, 0, 0), "unsupported GGUF version 4"},
		{"future version", append([]byte("GGUF"), 9, 0, 0, 0, 0, 0, 0, 0), "unsupported GGUF version 9"},
		{"big endian", append([]byte("GGUF"), 0, 0, 0, 3), "big-endian"},
		{"absurd tensor count", pad(header(1<<60, 0), 64), "tensor count"},
		{"absurd kv count", pad(header(0, 1<<62), 64), "metadata count"},
		{"huge key length", pad(header(0, 1).u64(1<<40), 64), "exceeds"},
		{"unknown value type", pad(header(0, 1).str("k").u32(99), 64), "unknown value type"},
		{"huge string", pad(header(0, 1).str("k").u32(uint32(ValueString)).u64(1<<50), 16), "exceeds"},
		{"huge array", pad(header(0, 1).str("k").u32(uint32(ValueArray)).u32(uint32(ValueUint64)).u64(1<<40), 64), "array length"},
		{"array of unknown type", pad(header(0, 1).str("k").u32(uint32(ValueArray)).u32(42).u64(1), 64), "unknown value type"},
		{"bad bool", pad(header(0, 1).str("k").u32(uint32(ValueBool)), 0), "truncated"},
		{"bool 2", append(header(0, 1).str("k").u32(uint32(ValueBool)).Bytes(), 2), "neither 0 nor 1"},
		{"duplicate key", pad(header(0, 2).str("k").u32(uint32(ValueUint32)).u32(1).str("k").u32(uint32(ValueUint32)).u32(2), 0), "duplicate metadata key"},
		{"alignment not power of two", pad(header(0, 1).str("general.alignment").u32(uint32(ValueUint32)).u32(24), 0), "power of two"},
		{"alignment wrong type", pad(header(0, 1).str("general.alignment").u32(uint32(ValueUint64)).u64(32), 0), "want uint32"},
		{"too many dims", pad(tensor(header(1, 0), "t", []uint64{1, 1, 1, 1, 1}, TypeF32, 0), 64), "dimensions"},
		{"zero dim", pad(tensor(header(1, 0), "t", []uint64{4, 0}, TypeF32, 0), 64), "is zero"},
		{"overflowing dims", pad(tensor(header(1, 0), "t", []uint64{1 << 32, 1 << 32, 1 << 8}, TypeF32, 0), 64), "absurd"},
		{"unknown tensor type", pad(tensor(header(1, 0), "t", []uint64{4}, 77, 0), 64), "unknown type 77"},
		{"row not whole blocks", pad(tensor(header(1, 0), "t", []uint64{30}, TypeQ4_0, 0), 64), "block size"},
		{"misaligned offset", pad(tensor(header(1, 0), "t", []uint64{4}, TypeF32, 8), 128), "not a multiple of the alignment"},
		{"tensor past end", pad(tensor(header(1, 0), "t", []uint64{64}, TypeF32, 0), 40), "extends past end of file"},
		{"tensor offset past end", pad(tensor(header(1, 0), "t", []uint64{4}, TypeF32, 1<<40), 64), "extends past end of file"},
		{"duplicate tensor", pad(tensor(tensor(header(2, 0), "t", []uint64{4}, TypeF32, 0), "t", []uint64{4}, TypeF32, 32), 128), "duplicate tensor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.data)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestNestedArraysAndAllValueTypes(t *testing.T) {
	w := NewWriter()
	values := map[string]any{
		"u8": uint8(200), "i8": int8(-5), "u16": uint16(60000), "i16": int16(-300),
		"u32": uint32(1 << 31), "i32": int32(-1 << 30), "f32": float32(1.5), "bool": true,
		"str": "héllo", "u64": uint64(1 << 63), "i64": int64(-1 << 62), "f64": math.Pi,
		"nested": []Array{{ValueInt32, []int32{1, 2}}, {ValueString, []string{"a", ""}}, {ValueArray, []Array{{ValueBool, []bool{true, false}}}}},
		"floats": []float32{0.5, -2}, "empty": []string(nil), // an empty array reads as a nil slice of its type
	}
	for k, v := range values {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddTensorBytes("w", TypeF32, []uint64{2, 2}, make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := w.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		kv, ok := f.Lookup(k)
		if !ok {
			t.Fatalf("missing %s", k)
		}
		want := v
		if vt, wv, _ := valueOf(v); vt == ValueArray {
			want = wv
		}
		if !reflect.DeepEqual(kv.Value, want) {
			t.Errorf("%s = %#v, want %#v", k, kv.Value, want)
		}
	}
	if n, ok := f.Uint("i8"); ok {
		t.Errorf("negative int8 read as uint %d", n)
	}
	if n, ok := f.Uint("u16"); !ok || n != 60000 {
		t.Errorf("Uint(u16) = %d %v", n, ok)
	}
	if x, ok := f.Float("f32"); !ok || x != 1.5 {
		t.Errorf("Float(f32) = %v %v", x, ok)
	}
}

func TestDeepNestingRefused(t *testing.T) {
	b := header(0, 1).str("k").u32(uint32(ValueArray))
	for i := 0; i < 20; i++ {
		b.u32(uint32(ValueArray)).u64(1)
	}
	b.u32(uint32(ValueUint8)).u64(0)
	if _, err := Parse(b.Bytes()); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Fatalf("err = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.gguf")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "notes.gguf")
	if err := os.WriteFile(text, []byte("this is not a model at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.gguf"), "no such file"},
		{dir, "not a regular file (a folder)"},
		{empty, "truncated"},
		{text, "bad magic"},
	} {
		_, err := Open(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%s) = %v, want an error mentioning %q", c.path, err, c.want)
		}
	}
}

func TestTensorTypes(t *testing.T) {
	for _, c := range []struct {
		typ      TensorType
		name     string
		n, bytes int
	}{
		{TypeF32, "F32", 4, 16}, {TypeF16, "F16", 4, 8}, {TypeQ4_0, "Q4_0", 64, 36}, {TypeQ8_0, "Q8_0", 32, 34},
		{TypeQ4_K, "Q4_K", 256, 144}, {TypeQ6_K, "Q6_K", 512, 420}, {TypeBF16, "BF16", 2, 4},
	} {
		if c.typ.String() != c.name || c.typ.RowBytes(c.n) != c.bytes {
			t.Errorf("%v: name %s rowbytes %d", c.typ, c.typ.String(), c.typ.RowBytes(c.n))
		}
		if got, err := ParseTensorType(c.name); err != nil || got != c.typ {
			t.Errorf("ParseTensorType(%s) = %v, %v", c.name, got, err)
		}
	}
	if TensorType(99).Known() {
		t.Error("type 99 known")
	}
}
