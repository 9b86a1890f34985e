package models

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/internal/testenv"
	"github.com/llamadesk/llamadesk/models/download"
)

// tinyParameters is the weight count of the shared tiny models: vocabulary
// 512, width 256, 2 layers, FFN 1280, 8 KV heads.
const tinyParameters = 2*512*256 + 2*(4*256*256+3*256*1280+2*256) + 256

// tinyGQAParameters is the same with one KV head of 32: K and V are 256×32.
const tinyGQAParameters = 2*512*256 + 2*(2*256*256+2*256*32+3*256*1280+2*256) + 256

func symlinkOrSkip(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symbolic links unavailable: %v", err)
	}
}

func TestScanSharedModels(t *testing.T) {
	dir := t.TempDir()
	lib := &Library{Dir: dir}
	for _, name := range []string{"tiny-f16", "tiny-q4_k_m", "tiny-q4_0", "tiny-gqa-q8_0"} {
		symlinkOrSkip(t, testenv.Path(t, "models", name+".gguf"), filepath.Join(dir, name+".gguf"))
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	data, err := os.ReadFile(testenv.Path(t, "models", "tiny-q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "sub", "copy.GGUF"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "broken.gguf"), []byte("GGUF\x03\x00\x00\x00 truncated"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a model"), 0o644)
	os.WriteFile(filepath.Join(dir, "big.gguf.partial"), []byte("in progress"), 0o644)
	os.Mkdir(filepath.Join(dir, ".hidden"), 0o755)
	os.WriteFile(filepath.Join(dir, ".hidden", "x.gguf"), data, 0o644)
	symlinkOrSkip(t, filepath.Join(dir, "gone.gguf-target"), filepath.Join(dir, "dangling.gguf"))

	got, err := lib.Scan()
	if err != nil {
		t.Fatal(err)
	}
	byFile := map[string]LocalModel{}
	var names []string
	for _, m := range got {
		byFile[m.File] = m
		names = append(names, m.File)
	}
	want := []string{"broken.gguf", "dangling.gguf", "sub/copy.GGUF", "tiny-f16.gguf", "tiny-gqa-q8_0.gguf", "tiny-q4_0.gguf", "tiny-q4_k_m.gguf"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("scan listed %v, want %v", names, want)
	}
	for _, tc := range []struct {
		file, quant string
		kvHeads     int
		params      uint64
	}{
		{"tiny-f16.gguf", "F16", 8, tinyParameters},
		{"tiny-q4_k_m.gguf", "Q4_K_M", 8, tinyParameters},
		{"tiny-q4_0.gguf", "Q4_0", 8, tinyParameters},
		{"tiny-gqa-q8_0.gguf", "Q8_0", 1, tinyGQAParameters},
		{"sub/copy.GGUF", "Q8_0", 8, tinyParameters},
	} {
		m := byFile[tc.file]
		if m.Err != "" {
			t.Errorf("%s: %s", tc.file, m.Err)
			continue
		}
		if m.Quantization != tc.quant || m.Parameters != tc.params || m.Architecture != "llama" ||
			m.ContextLength != 4096 || m.Shape.Layers != 2 || m.Shape.KVHeads != tc.kvHeads || m.Shape.HeadDim != 32 ||
			!strings.HasPrefix(m.Name, "tiny-llama2") {
			t.Errorf("%s: %+v", tc.file, m)
		}
		if m.Shape.LayerBytes == 0 || m.Shape.LayerBytes >= m.Shape.WeightBytes || m.Shape.WeightBytes >= uint64(m.Size) {
			t.Errorf("%s: weights %d, layers %d, file %d", tc.file, m.Shape.WeightBytes, m.Shape.LayerBytes, m.Size)
		}
	}
	if m := byFile["tiny-f16.gguf"]; m.Link == "" {
		t.Error("a symbolic link is not reported as one")
	}
	for _, bad := range []string{"broken.gguf", "dangling.gguf"} {
		if byFile[bad].Err == "" {
			t.Errorf("%s listed without its error", bad)
		}
	}
}

func TestScanMissingFolderIsEmpty(t *testing.T) {
	got, err := (&Library{Dir: filepath.Join(t.TempDir(), "none")}).Scan()
	if err != nil || len(got) != 0 {
		t.Fatalf("%v %v", got, err)
	}
}

func TestQuantizationFromDominantType(t *testing.T) {
	w := gguf.NewWriter()
	w.Set("general.architecture", "llama")
	w.Set("llama.block_count", uint32(1))
	w.AddTensorBytes("token_embd.weight", gguf.TypeF16, []uint64{32, 2}, make([]byte, 128))
	w.AddTensorBytes("blk.0.attn_q.weight", gguf.TypeQ8_0, []uint64{32, 8}, make([]byte, 8*34))
	w.AddTensorBytes("blk.0.attn_norm.weight", gguf.TypeF32, []uint64{32}, make([]byte, 128))
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	os.WriteFile(path, buf.Bytes(), 0o644)
	m := Describe(path, "m.gguf")
	if m.Err != "" || m.Quantization != "Q8_0" || m.Parameters != 64+256+32 || m.Shape.LayerBytes != 8*34+128 {
		t.Errorf("%+v", m)
	}
}

func TestImportLinkAndCopy(t *testing.T) {
	src := testenv.Path(t, "models", "tiny-q4_k_m.gguf")
	lib := &Library{Dir: filepath.Join(t.TempDir(), "models")}
	ctx := context.Background()

	linked, err := lib.Import(ctx, src, ImportLink, nil)
	if err != nil {
		t.Skipf("link import unavailable: %v", err)
	}
	if linked.Err != "" || linked.Link == "" || linked.Quantization != "Q4_K_M" {
		t.Errorf("linked: %+v", linked)
	}
	if _, err := lib.Import(ctx, src, ImportCopy, nil); err == nil || !strings.Contains(err.Error(), "already has") {
		t.Errorf("importing a name twice: %v", err)
	}
	if err := lib.Delete("tiny-q4_k_m"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("deleting a link removed its target: %v", err)
	}

	var calls, last int64
	copied, err := lib.Import(ctx, src, ImportCopy, func(done, total int64) { calls++; last = done })
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(src)
	if copied.Link != "" || copied.Size != fi.Size() || calls == 0 || last != fi.Size() {
		t.Errorf("copy: %+v, %d progress calls, last %d", copied, calls, last)
	}
	if _, err := os.Stat(copied.Path + ".importing"); err == nil {
		t.Error("temporary copy left behind")
	}
}

func TestImportRefuses(t *testing.T) {
	dir := t.TempDir()
	lib := &Library{Dir: filepath.Join(dir, "models")}
	text := filepath.Join(dir, "notes.gguf")
	os.WriteFile(text, []byte("hello, not a model"), 0o644)
	if _, err := lib.Import(context.Background(), text, ImportCopy, nil); err == nil || !strings.Contains(err.Error(), "not a usable GGUF") {
		t.Errorf("non-GGUF import: %v", err)
	}
	if _, err := lib.Import(context.Background(), dir, ImportCopy, nil); err == nil {
		t.Error("importing a folder accepted")
	}
	if _, err := lib.Import(context.Background(), filepath.Join(dir, "missing.gguf"), ImportCopy, nil); err == nil {
		t.Error("importing a missing file accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := testenv.Path(t, "models", "tiny-q8_0.gguf")
	if _, err := lib.Import(ctx, src, ImportCopy, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled copy: %v", err)
	}
	if entries, _ := os.ReadDir(lib.Dir); len(entries) != 0 {
		t.Errorf("a canceled copy left %d files", len(entries))
	}
}

func TestDeleteStaysInsideTheFolder(t *testing.T) {
	root := t.TempDir()
	lib := &Library{Dir: filepath.Join(root, "models")}
	os.MkdirAll(lib.Dir, 0o755)
	outside := filepath.Join(root, "outside.gguf")
	os.WriteFile(outside, []byte("x"), 0o644)
	inside := filepath.Join(lib.Dir, "m.gguf")
	os.WriteFile(inside, []byte("x"), 0o644)
	os.WriteFile(download.PartialPath(inside), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(lib.Dir, "notes.txt"), []byte("x"), 0o644)
	for _, name := range []string{"../outside.gguf", outside, "", ".", "..", "notes.txt", "missing.gguf"} {
		if err := lib.Delete(name); err == nil {
			t.Errorf("Delete(%q) accepted", name)
		}
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatal("a file outside the folder was deleted")
	}
	if err := lib.Delete("m.gguf"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{inside, download.PartialPath(inside)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s still there", filepath.Base(p))
		}
	}
}

func TestJoinPieces(t *testing.T) {
	dir := t.TempDir()
	whole := bytes.Repeat([]byte("0123456789abcdef"), 1000)
	cuts := []int{0, 5000, 11000, len(whole)}
	pieces := make([]Piece, 3)
	write := func() {
		for i := range pieces {
			pieces[i] = Piece{Path: filepath.Join(dir, "m.gguf-split-"+string(rune('a'+i))), Size: int64(cuts[i+1] - cuts[i])}
			os.WriteFile(pieces[i].Path, whole[cuts[i]:cuts[i+1]], 0o644)
		}
	}
	write()
	dest := filepath.Join(dir, "m.gguf")
	if err := JoinPieces(context.Background(), dest, pieces); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, whole) {
		t.Fatal("joined file differs")
	}
	for _, p := range pieces {
		if _, err := os.Stat(p.Path); err == nil {
			t.Errorf("%s left behind", p.Path)
		}
	}

	// An interrupted join: the first piece already renamed and half of
	// another appended.
	os.Remove(dest)
	write()
	tmp := dest + ".joining"
	os.Rename(pieces[0].Path, tmp)
	f, _ := os.OpenFile(tmp, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(whole[cuts[1] : cuts[1]+300])
	f.Close()
	if err := JoinPieces(context.Background(), dest, pieces); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, whole) {
		t.Fatal("resumed join differs")
	}

	write()
	os.Truncate(pieces[2].Path, 10)
	if err := JoinPieces(context.Background(), filepath.Join(dir, "other.gguf"), pieces); err == nil || !strings.Contains(err.Error(), "expected") {
		t.Errorf("a short piece: %v", err)
	}
}
