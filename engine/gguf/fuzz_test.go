package gguf

import (
	"bytes"
	"os"
	"testing"

	"github.com/llamadesk/llamadesk/internal/testenv"
)

// FuzzParse feeds arbitrary bytes to the parser: it must return a File or an
// error, never panic, and a File it returns must be safe to use.
// Seeds: the headers of the shared models (their metadata and tensor table,
// with the tensor data dropped) and small complete files.
func FuzzParse(f *testing.F) {
	for _, m := range testenv.Models(f) {
		data, err := os.ReadFile(testenv.Path(f, "models", m+".gguf"))
		if err != nil {
			f.Fatal(err)
		}
		parsed, err := Parse(data)
		if err != nil {
			f.Fatal(err)
		}
		if parsed.DataOffset <= 32<<10 {
			// Large headers (the 32,000-token vocabulary) make each execution slow.
			f.Add(data[:parsed.DataOffset])
		}
		// A small complete file: the metadata but for the large arrays, and two tiny tensors.
		w := NewWriter()
		for _, kv := range parsed.KV {
			if a, ok := kv.Value.(Array); ok && a.Len() > 16 {
				continue
			}
			w.Set(kv.Key, kv.Value)
		}
		w.AddTensorBytes("a", TypeF32, []uint64{4}, make([]byte, 16))
		w.AddTensorBytes("b", parsed.Tensors[2].Type, []uint64{uint64(parsed.Tensors[2].Type.BlockSize())}, make([]byte, parsed.Tensors[2].Type.BlockBytes()))
		var buf bytes.Buffer
		w.WriteTo(&buf)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for i := range file.Tensors {
			ti := &file.Tensors[i]
			if got := len(file.TensorData(ti)); got != int(ti.Size) {
				t.Fatalf("tensor %q: %d bytes, size %d", ti.Name, got, ti.Size)
			}
		}
		for _, kv := range file.KV {
			file.Uint(kv.Key)
			file.Float(kv.Key)
			file.String(kv.Key)
			if a, ok := kv.Value.(Array); ok {
				a.Len()
			}
		}
	})
}
