package engine_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// rewrite copies a shared model through the GGUF writer, letting edit change
// its metadata and tensors, and parses the result.
func rewrite(t *testing.T, name string, edit func(kv map[string]any, tensors map[string]*gguf.TensorInfo) (drop []string)) *gguf.File {
	t.Helper()
	src, err := gguf.Open(testenv.Path(t, "models", name+".gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	kv := map[string]any{}
	tensors := map[string]*gguf.TensorInfo{}
	for _, p := range src.KV {
		kv[p.Key] = p.Value
	}
	for i := range src.Tensors {
		ti := src.Tensors[i]
		tensors[ti.Name] = &ti
	}
	drop := edit(kv, tensors)
	w := gguf.NewWriter()
	for _, p := range src.KV {
		if v, ok := kv[p.Key]; ok {
			if err := w.Set(p.Key, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, ti := range src.Tensors {
		if containsString(drop, ti.Name) {
			continue
		}
		edited := tensors[ti.Name]
		data := src.TensorData(&ti)
		size := edited.Type.RowBytes(int(edited.Dims[0]))
		for _, d := range edited.Dims[1:] {
			size *= int(d)
		}
		buf := make([]byte, size)
		copy(buf, data)
		if err := w.AddTensorBytes(ti.Name, edited.Type, edited.Dims, buf); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if _, err := w.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "edited.gguf")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestLoadRefusesBadModels: files that parse but are not usable Llama models
// give errors naming the problem.
func TestLoadRefusesBadModels(t *testing.T) {
	cases := []struct {
		name string
		edit func(kv map[string]any, ts map[string]*gguf.TensorInfo) []string
		want string
	}{
		{"other architecture", func(kv map[string]any, _ map[string]*gguf.TensorInfo) []string {
			kv["general.architecture"] = "gpt2"
			return nil
		}, `architecture "gpt2" is not supported`},
		{"missing embedding length", func(kv map[string]any, _ map[string]*gguf.TensorInfo) []string {
			delete(kv, "llama.embedding_length")
			return nil
		}, `"llama.embedding_length"`},
		{"heads not dividing", func(kv map[string]any, _ map[string]*gguf.TensorInfo) []string {
			kv["llama.attention.head_count"] = uint32(7)
			return nil
		}, "not a multiple of the head count"},
		{"absurd layer count", func(kv map[string]any, _ map[string]*gguf.TensorInfo) []string {
			kv["llama.block_count"] = uint32(1 << 30)
			return nil
		}, "out of range"},
		{"missing tensor", func(map[string]any, map[string]*gguf.TensorInfo) []string {
			return []string{"blk.1.ffn_up.weight"}
		}, `missing tensor "blk.1.ffn_up.weight"`},
		{"wrong shape", func(_ map[string]any, ts map[string]*gguf.TensorInfo) []string {
			ts["blk.0.attn_q.weight"].Dims = []uint64{256, 128}
			return nil
		}, `tensor "blk.0.attn_q.weight" has shape [256 128]`},
		{"more layers than tensors", func(kv map[string]any, _ map[string]*gguf.TensorInfo) []string {
			kv["llama.block_count"] = uint32(3)
			return nil
		}, `missing tensor "blk.2.attn_norm.weight"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := rewrite(t, "tiny-q8_0", c.edit)
			b := cpu.New(1)
			defer b.Close()
			_, err := engine.Load(f, engine.Placement{CPU: b})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %s", err, c.want)
			}
		})
	}
}

func TestContextFullAndBadTokens(t *testing.T) {
	f := rewrite(t, "tiny-q8_0", func(map[string]any, map[string]*gguf.TensorInfo) []string { return nil })
	b := cpu.New(1)
	defer b.Close()
	m, err := engine.Load(f, engine.Placement{CPU: b})
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.NewState(8)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Eval(ctx, []int32{1, 2, 3, 4, 5, 6}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Eval(ctx, []int32{7, 8, 9}, false); !errors.Is(err, engine.ErrContextFull) {
		t.Fatalf("err = %v, want ErrContextFull", err)
	}
	if st.Len() != 6 {
		t.Fatalf("a refused eval changed the state: len %d", st.Len())
	}
	if _, err := st.Eval(ctx, []int32{1, 100000}, false); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Fatalf("err = %v", err)
	}
	if st.Len() != 6 {
		t.Fatalf("a failed eval changed the state: len %d", st.Len())
	}
	st.Truncate(2)
	if _, err := st.Eval(ctx, []int32{3, 4, 5}, false); err != nil || st.Len() != 5 {
		t.Fatalf("after truncate: len %d, err %v", st.Len(), err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := st.Eval(cancelled, []int32{6}, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled eval: err = %v", err)
	}
}
