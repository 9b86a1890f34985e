package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/llamadesk/llamadesk/internal/atomicfile"
)

// errNoRanges means the server answered a ranged request with the whole
// file: the download restarts as one stream.
var errNoRanges = errors.New("server ignores Range requests")

// errRestart means the file on the server changed under a resumed download:
// the partial bytes are dropped and the download starts again.
var errRestart = errors.New("the file on the server changed")

// fetcher is one attempt at one job: it owns the partial file while it runs.
type fetcher struct {
	m   *Manager
	cfg *Config
	job *Job
	req *Request

	partial, statePath string

	file File

	mu sync.Mutex
	st *resumeState

	saved atomic.Int64 // bytes done at the last checkpoint
}

// fetch brings j's file to its destination: it checks what is already on
// disk, asks the server, runs the parts, verifies and renames.
func (m *Manager) fetch(ctx context.Context, j *Job) (err error) {
	req := &j.req
	j.setState(StateChecking)
	dir := filepath.Dir(req.Dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("download %s: %w", req.Name, err)
	}
	if done, err := m.checkExisting(ctx, j); done || err != nil {
		return err
	}
	lock, err := lockFile(lockPath(req.Dest))
	if err != nil {
		return fmt.Errorf("download %s: %w", req.Dest, err)
	}
	finished := false
	defer func() {
		lock.Close() // before the removal: Windows cannot remove an open file
		if finished || !HasPartial(req.Dest) {
			os.Remove(lockPath(req.Dest))
		}
	}()

	f := &fetcher{m: m, cfg: &m.cfg, job: j, req: req, partial: PartialPath(req.Dest), statePath: StatePath(req.Dest)}
	defer func() {
		if f.file != nil {
			f.file.Close()
		}
	}()
	for restarts := 0; ; restarts++ {
		if err := f.prepare(ctx); err != nil {
			return err
		}
		err = f.download(ctx)
		if errors.Is(err, errRestart) && restarts < 2 {
			f.discard()
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	if err := f.finish(ctx); err != nil {
		return err
	}
	finished = true
	return nil
}

// checkExisting handles a destination that already exists: with a matching
// checksum the job is done; otherwise it is refused, never overwritten.
func (m *Manager) checkExisting(ctx context.Context, j *Job) (done bool, err error) {
	req := &j.req
	fi, err := os.Stat(req.Dest)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("download %s: %w", req.Dest, err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("download %s: %w and is not a regular file", req.Dest, ErrExists)
	}
	if req.SHA256 == "" {
		if req.Size > 0 && fi.Size() == req.Size {
			return true, nil
		}
		return false, fmt.Errorf("download %s: %w; remove it first", req.Dest, ErrExists)
	}
	j.total.Store(fi.Size())
	j.bytes.Store(0)
	j.setState(StateVerifying)
	fh, err := os.Open(req.Dest)
	if err != nil {
		return false, fmt.Errorf("download %s: %w", req.Dest, err)
	}
	defer fh.Close()
	sum, err := hashReader(ctx, fh, fi.Size(), func(n int64) { j.bytes.Add(n) })
	if err != nil {
		return false, fmt.Errorf("verify %s: %w", req.Dest, err)
	}
	if sum != req.SHA256 {
		return false, fmt.Errorf("download %s: %w with a different checksum (SHA-256 %s, expected %s); remove it first", req.Dest, ErrExists, sum, req.SHA256)
	}
	_ = RemovePartial(req.Dest) // leftovers of an attempt that finished
	return true, nil
}

// prepare sets f.st and f.file: the recorded state when it is valid and
// matches the request, or a fresh state from the server. It also checks the
// free disk space.
func (f *fetcher) prepare(ctx context.Context) error {
	if f.st == nil {
		st, err := f.resumable(ctx)
		if err != nil {
			return err
		}
		f.st = st
	}
	if f.st == nil {
		st, err := f.probe(ctx)
		if err != nil {
			return err
		}
		if err := f.checkSpace(st.Size); err != nil {
			return err
		}
		file, err := f.cfg.OpenFile(f.partial)
		if err != nil {
			return fmt.Errorf("download %s: %w", f.req.Name, err)
		}
		f.file = file
		if err := file.Truncate(max(st.Size, 0)); err != nil {
			return fmt.Errorf("download %s: size %s: %w", f.req.Name, f.partial, err)
		}
		f.st = st
		f.saved.Store(-1)
		if err := f.checkpoint(); err != nil {
			return err
		}
	}
	f.job.total.Store(f.st.Size)
	f.job.bytes.Store(f.st.done())
	return nil
}

// resumable loads the recorded state and checks it against the request and
// the partial file, whose finished bytes are verified by CRC. Anything that
// does not hold up is discarded and nil is returned.
func (f *fetcher) resumable(ctx context.Context) (*resumeState, error) {
	st, err := loadState(f.statePath)
	if err != nil || st == nil {
		f.discard()
		return nil, nil
	}
	if !f.matches(st) {
		f.discard()
		return nil, nil
	}
	fi, err := os.Stat(f.partial)
	if err != nil || (st.Size >= 0 && fi.Size() != st.Size) || (st.Size < 0 && fi.Size() < st.done()) {
		f.discard()
		return nil, nil
	}
	if err := f.checkSpace(st.Size - st.done()); err != nil {
		return nil, err
	}
	file, err := f.cfg.OpenFile(f.partial)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", f.req.Name, err)
	}
	f.job.total.Store(st.Size)
	f.job.bytes.Store(0)
	if _, err := verifyParts(ctx, file, st, func(n int64) { f.job.bytes.Add(n) }); err != nil {
		file.Close()
		return nil, fmt.Errorf("download %s: %w", f.req.Name, err)
	}
	f.file = file
	f.saved.Store(st.done())
	return st, nil
}

// matches reports whether a recorded state belongs to this request: the
// same content (checksum, or URL when there is none) and size.
func (f *fetcher) matches(st *resumeState) bool {
	if f.req.SHA256 != "" {
		if st.SHA256 != f.req.SHA256 {
			return false
		}
	} else if st.URL != f.req.URL || st.SHA256 != "" {
		return false
	}
	return f.req.Size == 0 || st.Size == f.req.Size
}

// discard drops the partial file and its state.
func (f *fetcher) discard() {
	if f.file != nil {
		f.file.Close()
		f.file = nil
	}
	f.st = nil
	os.Remove(f.partial)
	os.Remove(f.statePath)
}

// checkSpace refuses to start when the disk cannot hold the bytes still missing.
func (f *fetcher) checkSpace(need int64) error {
	if need <= 0 {
		return nil
	}
	dir := filepath.Dir(f.req.Dest)
	free, err := f.cfg.FreeSpace(dir)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", f.req.Name, err)
	}
	if free < uint64(need) {
		return permanent(&InsufficientSpaceError{Dir: dir, Need: uint64(need), Free: free})
	}
	return nil
}

// finish verifies the complete partial file and renames it into place.
func (f *fetcher) finish(ctx context.Context) error {
	size := f.st.Size
	if err := f.file.Truncate(size); err != nil {
		return fmt.Errorf("download %s: size %s: %w", f.req.Name, f.partial, err)
	}
	if f.req.Size > 0 && size != f.req.Size {
		f.discard()
		return fmt.Errorf("download %s: got %d bytes, expected %d", f.req.Name, size, f.req.Size)
	}
	if f.req.SHA256 != "" {
		f.job.bytes.Store(0)
		f.job.setState(StateVerifying)
		sum, err := hashReader(ctx, f.file, size, func(n int64) { f.job.bytes.Add(n) })
		if err != nil {
			return fmt.Errorf("verify %s: %w", f.partial, err)
		}
		if sum != f.req.SHA256 {
			f.discard()
			return &ChecksumError{Dest: f.req.Dest, Want: f.req.SHA256, Got: sum}
		}
	}
	if err := f.file.Sync(); err != nil {
		return fmt.Errorf("download %s: sync: %w", f.req.Name, err)
	}
	if err := f.file.Close(); err != nil {
		f.file = nil
		return fmt.Errorf("download %s: close: %w", f.req.Name, err)
	}
	f.file = nil
	if err := os.Rename(f.partial, f.req.Dest); err != nil {
		return fmt.Errorf("download %s: %w", f.req.Name, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(f.req.Dest)); err != nil {
		return err
	}
	os.Remove(f.statePath)
	f.job.bytes.Store(size)
	f.job.total.Store(size)
	return nil
}

// hashReader returns the hex SHA-256 of the first size bytes of r,
// reporting each block read.
func hashReader(ctx context.Context, r io.ReaderAt, size int64, progress func(int64)) (string, error) {
	h := sha256.New()
	buf := make([]byte, 4<<20)
	var off int64
	for off < size {
		if err := ctx.Err(); err != nil {
			return "", context.Cause(ctx)
		}
		n := int64(len(buf))
		if size-off < n {
			n = size - off
		}
		k, err := r.ReadAt(buf[:n], off)
		h.Write(buf[:k])
		off += int64(k)
		progress(int64(k))
		if err != nil && !(errors.Is(err, io.EOF) && off == size) {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
