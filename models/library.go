package models

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/internal/inputfile"
	"github.com/llamadesk/llamadesk/models/download"
)

// Library is the models folder: the GGUF files in it (and in its
// sub-folders, symbolic links included) are the local models.
type Library struct {
	Dir string
}

// LocalModel describes one GGUF file of the library. A file that cannot be
// read is listed with Err set, never hidden.
type LocalModel struct {
	// File is the path relative to the models folder, such as "llama-2-7b-chat.Q4_K_M.gguf".
	File string `json:"file"`
	// Path is the absolute path.
	Path string `json:"path"`
	// Link is the target when the file is a symbolic link.
	Link string `json:"link,omitempty"`
	Size int64  `json:"size"`
	// Name is general.name from the metadata.
	Name         string `json:"name,omitempty"`
	Architecture string `json:"architecture,omitempty"`
	// Parameters is the number of weights: the sum of all tensors' elements.
	Parameters    uint64 `json:"parameters,omitempty"`
	Quantization  string `json:"quantization,omitempty"`
	ContextLength int    `json:"context_length,omitempty"`
	Shape         Shape  `json:"shape"`
	// Err says why the file could not be read; empty when it was.
	Err string `json:"error,omitempty"`
}

// ggufExt is the extension of model files.
const ggufExt = ".gguf"

// Scan lists the library's models sorted by file name. A missing folder is
// an empty library.
func (l *Library) Scan() ([]LocalModel, error) {
	var out []LocalModel
	err := filepath.WalkDir(l.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == l.Dir && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			if d != nil && d.IsDir() && path != l.Dir {
				return filepath.SkipDir // an unreadable sub-folder
			}
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != l.Dir && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.EqualFold(filepath.Ext(name), ggufExt) || strings.HasPrefix(name, ".") {
			return nil
		}
		rel, err := filepath.Rel(l.Dir, path)
		if err != nil {
			return err
		}
		out = append(out, Describe(path, filepath.ToSlash(rel)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", l.Dir, err)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].File < out[k].File })
	return out, nil
}

// Describe reads a GGUF file's metadata. rel is the name to list it under.
// Problems are reported in the result's Err.
func Describe(path, rel string) LocalModel {
	m := LocalModel{File: rel, Path: path}
	if abs, err := filepath.Abs(path); err == nil {
		m.Path = abs
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		m.Link, _ = os.Readlink(path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		m.Err = err.Error()
		return m
	}
	if !fi.Mode().IsRegular() {
		m.Err = "not a regular file"
		return m
	}
	m.Size = fi.Size()
	f, err := gguf.Open(path)
	if err != nil {
		m.Err = err.Error()
		return m
	}
	defer f.Close()
	describeGGUF(f, &m)
	return m
}

// describeGGUF fills m from f's metadata and tensor table.
func describeGGUF(f *gguf.File, m *LocalModel) {
	m.Name, _ = f.String("general.name")
	arch := f.Architecture()
	m.Architecture = arch
	u := func(key string) int {
		v, _ := f.Uint(arch + "." + key)
		if v > 1<<31 {
			return 0
		}
		return int(v)
	}
	s := Shape{
		Layers:        u("block_count"),
		Embedding:     u("embedding_length"),
		Heads:         u("attention.head_count"),
		FFN:           u("feed_forward_length"),
		ContextLength: u("context_length"),
	}
	if t, ok := f.Tensor("token_embd.weight"); ok && len(t.Dims) == 2 && t.Dims[1] < 1<<31 {
		s.Vocab = int(t.Dims[1])
	}
	s.KVHeads = u("attention.head_count_kv")
	if s.KVHeads == 0 {
		s.KVHeads = s.Heads
	}
	s.HeadDim = u("attention.key_length")
	if s.HeadDim == 0 && s.Heads > 0 {
		s.HeadDim = s.Embedding / s.Heads
	}
	bytesByType := map[gguf.TensorType]uint64{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		m.Parameters += t.Elements()
		s.WeightBytes += t.Size
		if strings.HasPrefix(t.Name, "blk.") {
			s.LayerBytes += t.Size
		}
		if len(t.Dims) >= 2 {
			bytesByType[t.Type] += t.Size
		}
	}
	m.ContextLength = s.ContextLength
	m.Shape = s
	m.Quantization = quantization(f, bytesByType)
}

// fileTypeNames are llama.cpp's names of general.file_type values.
var fileTypeNames = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
	16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
	22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
	28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
}

// quantization names the file's quantization: general.file_type when
// present, else the tensor type holding most of the matrix bytes.
func quantization(f *gguf.File, bytesByType map[gguf.TensorType]uint64) string {
	if ft, ok := f.Uint("general.file_type"); ok {
		if name, ok := fileTypeNames[ft]; ok {
			return name
		}
		return "file type " + strconv.FormatUint(ft, 10)
	}
	var best gguf.TensorType
	var most uint64
	for t, n := range bytesByType {
		if n > most || (n == most && t < best) {
			best, most = t, n
		}
	}
	if most == 0 {
		return ""
	}
	return best.String()
}

// ErrNotFound is wrapped by the errors for a name the library does not have.
var ErrNotFound = errors.New("no such model file")

// Find returns the library entry for a file name (with or without .gguf,
// relative to the models folder).
func (l *Library) Find(name string) (LocalModel, error) {
	path, err := l.pathOf(name)
	if err != nil {
		return LocalModel{}, err
	}
	if _, err := os.Lstat(path); err != nil {
		if !strings.EqualFold(filepath.Ext(path), ggufExt) {
			if _, err2 := os.Lstat(path + ggufExt); err2 == nil {
				path += ggufExt
				err = nil
			}
		}
		if err != nil {
			return LocalModel{}, fmt.Errorf("%w: %q in %s", ErrNotFound, name, l.Dir)
		}
	}
	rel, _ := filepath.Rel(l.Dir, path)
	return Describe(path, filepath.ToSlash(rel)), nil
}

// pathOf resolves a name inside the models folder, refusing anything that
// would lead outside it.
func (l *Library) pathOf(name string) (string, error) {
	if name == "" || filepath.IsAbs(name) || strings.HasPrefix(name, `\`) || filepath.VolumeName(name) != "" {
		return "", fmt.Errorf("%q: give a file name inside the models folder %s", name, l.Dir)
	}
	path := filepath.Join(l.Dir, filepath.FromSlash(name))
	rel, err := filepath.Rel(l.Dir, path)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%q is not inside the models folder %s", name, l.Dir)
	}
	return path, nil
}

// Delete removes a model file from the models folder (for a symbolic link,
// only the link), together with any unfinished download of it. Names that
// lead outside the folder, and files that are not GGUF, are refused.
func (l *Library) Delete(name string) error {
	m, err := l.Find(name)
	if err != nil {
		return err
	}
	if !strings.EqualFold(filepath.Ext(m.Path), ggufExt) {
		return fmt.Errorf("delete %s: not a %s file", m.File, ggufExt)
	}
	fi, err := os.Lstat(m.Path)
	if err != nil {
		return fmt.Errorf("delete %s: %w", m.File, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("delete %s: is a folder", m.File)
	}
	if err := os.Remove(m.Path); err != nil {
		return fmt.Errorf("delete %s: %w", m.File, err)
	}
	if err := download.RemovePartial(m.Path); err != nil {
		return fmt.Errorf("delete %s: %w", m.File, err)
	}
	return nil
}

// ImportMode says how Import brings a file into the library.
type ImportMode int

const (
	// ImportLink leaves the file where it is and puts a symbolic link to it
	// in the models folder.
	ImportLink ImportMode = iota
	// ImportCopy copies the file into the models folder.
	ImportCopy
)

// Import brings a GGUF file from anywhere into the library, by symbolic
// link or by copy (reporting bytes copied to progress, which may be nil). A
// file that is not a valid GGUF file is refused, and so is a name already
// in the library. A canceled copy leaves nothing behind.
func (l *Library) Import(ctx context.Context, src string, mode ImportMode, progress func(done, total int64)) (LocalModel, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return LocalModel{}, fmt.Errorf("import %s: %w", src, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return LocalModel{}, fmt.Errorf("import %s: %w", src, err)
	}
	if !fi.Mode().IsRegular() {
		return LocalModel{}, fmt.Errorf("import %s: not a regular file", src)
	}
	f, err := gguf.Open(abs)
	if err != nil {
		return LocalModel{}, fmt.Errorf("import %s: not a usable GGUF model: %w", src, err)
	}
	f.Close()
	name := filepath.Base(abs)
	if !strings.EqualFold(filepath.Ext(name), ggufExt) {
		name += ggufExt
	}
	dest := filepath.Join(l.Dir, name)
	if _, err := os.Lstat(dest); err == nil {
		return LocalModel{}, fmt.Errorf("import %s: the library already has a %s", src, name)
	}
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return LocalModel{}, fmt.Errorf("import %s: %w", src, err)
	}
	switch mode {
	case ImportLink:
		if err := os.Symlink(abs, dest); err != nil {
			return LocalModel{}, fmt.Errorf("import %s: link: %w (copy it instead)", src, err)
		}
	case ImportCopy:
		if err := copyInto(ctx, abs, dest, fi.Size(), progress); err != nil {
			return LocalModel{}, fmt.Errorf("import %s: %w", src, err)
		}
	default:
		return LocalModel{}, fmt.Errorf("import %s: unknown mode %d", src, mode)
	}
	return Describe(dest, name), nil
}

// copyInto copies src to dest through a temporary name, synced, then renamed.
func copyInto(ctx context.Context, src, dest string, size int64, progress func(done, total int64)) error {
	in, _, err := inputfile.Open(src) // never blocks, even if src became a pipe meanwhile
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dest + ".importing"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			out.Close()
			os.Remove(tmp)
		}
	}()
	buf := make([]byte, 4<<20)
	var done int64
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		n, rerr := in.Read(buf)
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				return fmt.Errorf("write %s: %w", tmp, err)
			}
			done += int64(n)
			if progress != nil {
				progress(done, size)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return err
	}
	ok = true
	return nil
}

// Piece is one downloaded piece of a file that was uploaded split.
type Piece struct {
	Path string
	Size int64
}

// JoinPieces makes dest from pieces joined in order. The first piece
// becomes the file (renamed to a temporary name) and the others are
// appended to it, so the join needs no more disk space than the pieces
// already take; the pieces are removed once dest is in place. Run again
// after an interruption, it picks up where it stopped.
func JoinPieces(ctx context.Context, dest string, pieces []Piece) error {
	fail := func(err error) error { return fmt.Errorf("join %s: %w", filepath.Base(dest), err) }
	if len(pieces) < 2 {
		return fail(errors.New("fewer than two pieces"))
	}
	tmp := dest + ".joining"
	if _, err := os.Stat(pieces[0].Path); err == nil {
		if err := os.Rename(pieces[0].Path, tmp); err != nil {
			return fail(err)
		}
	} else if _, err := os.Stat(tmp); err != nil {
		return fail(fmt.Errorf("neither %s nor an interrupted join is there", filepath.Base(pieces[0].Path)))
	}
	for _, p := range pieces[1:] {
		fi, err := os.Stat(p.Path)
		if err != nil {
			return fail(err)
		}
		if fi.Size() != p.Size {
			return fail(fmt.Errorf("%s has %d bytes, expected %d", filepath.Base(p.Path), fi.Size(), p.Size))
		}
	}
	out, err := os.OpenFile(tmp, os.O_WRONLY, 0)
	if err != nil {
		return fail(err)
	}
	defer out.Close()
	fi, err := out.Stat()
	if err != nil {
		return fail(err)
	}
	if fi.Size() < pieces[0].Size {
		return fail(fmt.Errorf("the first piece has %d bytes, expected %d", fi.Size(), pieces[0].Size))
	}
	// Drop whatever an interrupted join had appended.
	if err := out.Truncate(pieces[0].Size); err != nil {
		return fail(err)
	}
	off := pieces[0].Size
	for _, p := range pieces[1:] {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		in, err := os.Open(p.Path)
		if err != nil {
			return fail(err)
		}
		n, err := io.Copy(io.NewOffsetWriter(out, off), download.ContextReader(ctx, in))
		in.Close()
		if err != nil {
			return fail(err)
		}
		off += n
	}
	if err := out.Sync(); err != nil {
		return fail(err)
	}
	if err := out.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fail(err)
	}
	for _, p := range pieces[1:] {
		os.Remove(p.Path)
	}
	return nil
}
