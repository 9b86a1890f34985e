package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llamadesk/llamadesk/internal/atomicfile"
)

// errNoRanges means the server answered a ranged request with the whole
// file: the download restarts as one stream.
var errNoRanges = errors.New("server ignores Range requests")

// errRestart means the file on the server changed under a resumed download:
// the partial bytes are dropped and the download starts again.
var errRestart = errors.New("the file on the server changed")

// readBufSize is the size of each part's read buffer.
const readBufSize = 256 << 10

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

// newRequest builds a GET for the request's URL with its headers.
func (f *fetcher) newRequest(ctx context.Context) (*http.Request, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, f.req.URL, nil)
	if err != nil {
		return nil, permanent(fmt.Errorf("download %s: %w", f.req.Name, err))
	}
	for k, vs := range f.req.Header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	r.Header.Set("Accept-Encoding", "identity")
	return r, nil
}

// probe asks the server for the first byte to learn the size, whether it
// honours Range, and the ETag; it retries like any request.
func (f *fetcher) probe(ctx context.Context) (*resumeState, error) {
	var st *resumeState
	err := f.retry(ctx, func() (int64, error) {
		var err error
		st, err = f.probeOnce(ctx)
		return 0, err
	})
	if err != nil {
		return nil, err
	}
	if f.req.Size > 0 && st.Size >= 0 && st.Size != f.req.Size {
		return nil, permanent(fmt.Errorf("download %s: the server announces %d bytes, expected %d", f.req.Name, st.Size, f.req.Size))
	}
	if st.Size < 0 && f.req.Size > 0 {
		st.Size = f.req.Size
	}
	st.Version, st.URL, st.SHA256 = stateVersion, f.req.URL, f.req.SHA256
	st.Parts = f.split(st.Size, st.Ranged)
	return st, nil
}

func (f *fetcher) probeOnce(ctx context.Context) (*resumeState, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(f.cfg.StallTimeout, func() { cancel(errStalled) })
	defer watchdog.Stop()
	r, err := f.newRequest(rctx)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Range", "bytes=0-0")
	resp, err := f.cfg.Client.Do(r)
	if err != nil {
		return nil, f.netErr(ctx, rctx, err)
	}
	defer resp.Body.Close()
	st := &resumeState{Size: -1}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, _, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != 0 {
			return st, nil // a range answer that makes no sense: use one stream
		}
		// A total of "*" is a file of unknown size that can still be
		// resumed by range (one part, fetched to its end).
		st.Size, st.Ranged = total, true
		if etag := resp.Header.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
			st.ETag = etag
		}
	case http.StatusOK:
		st.Size = resp.ContentLength
	case http.StatusRequestedRangeNotSatisfiable:
		// Only an empty file has no byte 0.
		if _, _, total, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && total == 0 {
			st.Size, st.Ranged = 0, true
			return st, nil
		}
		return nil, newStatusError(resp, time.Now())
	default:
		return nil, newStatusError(resp, time.Now())
	}
	return st, nil
}

// split divides [0, size) into parts of at least MinPartSize.
func (f *fetcher) split(size int64, ranged bool) []partState {
	if size < 0 || !ranged {
		return []partState{{Start: 0, End: max(size, 0)}}
	}
	n := int64(f.cfg.Parts)
	if most := (size + f.cfg.MinPartSize - 1) / f.cfg.MinPartSize; most < n {
		n = most
	}
	if n < 1 {
		n = 1
	}
	parts := make([]partState, n)
	for i := range n {
		parts[i] = partState{Start: size * i / n, End: size * (i + 1) / n}
	}
	return parts
}

// download runs every unfinished part in parallel until all are done. A
// server that turns out to ignore Range makes it start over with one stream.
func (f *fetcher) download(ctx context.Context) error {
	for {
		err := f.runParts(ctx)
		if !errors.Is(err, errNoRanges) {
			return err
		}
		f.mu.Lock()
		f.st.Ranged, f.st.ETag = false, ""
		f.st.Parts = []partState{{Start: 0, End: max(f.st.Size, 0)}}
		f.mu.Unlock()
		f.job.bytes.Store(0)
		f.saved.Store(-1)
		if err := f.checkpoint(); err != nil {
			return err
		}
	}
}

// runParts starts a goroutine per unfinished part plus a checkpointer, and
// stops them all at the first error.
func (f *fetcher) runParts(ctx context.Context) error {
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	f.job.setState(StateDownloading)
	stopTicker := f.job.ticker()
	defer stopTicker()

	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	fail := func(err error) {
		once.Do(func() {
			firstErr = err
			cancel(err)
		})
	}
	f.mu.Lock()
	n := len(f.st.Parts)
	f.mu.Unlock()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.runPart(pctx, i); err != nil {
				fail(err)
			}
		}()
	}
	cpDone := make(chan struct{})
	go func() {
		defer close(cpDone)
		t := time.NewTicker(f.cfg.CheckpointInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := f.checkpoint(); err != nil {
					f.job.noteProblem(err)
				}
			case <-pctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	cancel(nil)
	<-cpDone
	cpErr := f.checkpoint()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = context.Cause(ctx)
	}
	if firstErr == nil {
		return cpErr
	}
	return firstErr
}

// part returns a copy of part i.
func (f *fetcher) part(i int) partState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.Parts[i]
}

// runPart fetches part i, retrying failures with backoff.
func (f *fetcher) runPart(ctx context.Context, i int) error {
	return f.retry(ctx, func() (int64, error) {
		p := f.part(i)
		if p.Done >= p.End-p.Start && f.st.Size >= 0 {
			return p.Done, nil
		}
		// Without Range the stream comes from the start again: getPart
		// checks the bytes already on disk against it and writes on from
		// where they end.
		err := f.getPart(ctx, i)
		return f.part(i).Done, err
	})
}

// retry calls attempt until it succeeds, fails permanently, or fails
// MaxRetries times in a row without getting further than before (attempt
// returns how far it got).
func (f *fetcher) retry(ctx context.Context, attempt func() (int64, error)) error {
	failures := 0
	best := int64(-1)
	for {
		got, err := attempt()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if isPermanent(err) || errors.Is(err, errNoRanges) || errors.Is(err, errRestart) {
			return err
		}
		if perr := tooLongWait(err, f.cfg.MaxRetryAfter, time.Now()); perr != nil {
			return perr
		}
		if got > best {
			best = got
			failures = 0
		}
		failures++
		if failures > f.cfg.MaxRetries {
			return fmt.Errorf("download %s: giving up after %d failed attempts: %w", f.req.Name, failures, err)
		}
		f.job.noteRetry(err)
		if err := sleep(ctx, f.cfg.retryWait(err, failures)); err != nil {
			return err
		}
	}
}

// netErr turns a transport error into the error to report: the cause of
// the job's context when it ended, a stall, or a retryable connection error.
func (f *fetcher) netErr(ctx, rctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if errors.Is(context.Cause(rctx), errStalled) {
		return fmt.Errorf("%w for %s", errStalled, f.cfg.StallTimeout)
	}
	if errors.Is(err, errBadRedirect) {
		return permanent(fmt.Errorf("download %s: %w", f.req.Name, err))
	}
	return fmt.Errorf("download %s: %w", f.req.Name, err)
}

// getPart makes one request for the rest of part i and writes what arrives.
func (f *fetcher) getPart(ctx context.Context, i int) error {
	p := f.part(i)
	from := p.Start + p.Done
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := f.cfg.StallTimeout
	watchdog := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer watchdog.Stop()

	r, err := f.newRequest(rctx)
	if err != nil {
		return err
	}
	ranged := f.st.Ranged
	unknown := f.st.Size < 0
	if ranged && unknown {
		r.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
		if f.st.ETag != "" {
			r.Header.Set("If-Range", f.st.ETag)
		}
	} else if ranged {
		r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, p.End-1))
		if f.st.ETag != "" {
			r.Header.Set("If-Range", f.st.ETag)
		}
	}
	resp, err := f.cfg.Client.Do(r)
	if err != nil {
		return f.netErr(ctx, rctx, err)
	}
	defer resp.Body.Close()
	switch {
	case ranged && resp.StatusCode == http.StatusPartialContent:
		start, _, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != from {
			return permanent(fmt.Errorf("download %s: asked for bytes from %d, the server sent %q", f.req.Name, from, resp.Header.Get("Content-Range")))
		}
		if total >= 0 && !unknown && total != f.st.Size {
			if f.req.Size > 0 {
				return permanent(fmt.Errorf("download %s: the server now announces %d bytes, expected %d", f.req.Name, total, f.req.Size))
			}
			return errRestart
		}
	case ranged && resp.StatusCode == http.StatusOK:
		if f.st.ETag != "" && resp.Header.Get("ETag") != f.st.ETag {
			return errRestart
		}
		return errNoRanges
	case ranged && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return errRestart
	case !ranged && resp.StatusCode == http.StatusOK:
		if resp.ContentLength >= 0 && f.st.Size >= 0 && resp.ContentLength != f.st.Size {
			return permanent(fmt.Errorf("download %s: the server announces %d bytes, expected %d", f.req.Name, resp.ContentLength, f.st.Size))
		}
	default:
		return newStatusError(resp, time.Now())
	}

	body := io.Reader(resp.Body)
	if !ranged && from > 0 {
		// The stream starts again at byte 0: the bytes already on disk are
		// read past, checked against their CRC, and not written again.
		if err := f.skipKnown(ctx, rctx, resp.Body, p, watchdog, stall); err != nil {
			return err
		}
	}
	want := p.End - from // bytes this request must deliver
	buf := make([]byte, readBufSize)
	for unknown || want > 0 {
		n := f.m.lim.chunk(len(buf))
		if !unknown && int64(n) > want {
			n = int(want)
		}
		k, rerr := body.Read(buf[:n])
		if k > 0 {
			if _, werr := f.file.WriteAt(buf[:k], from); werr != nil {
				return permanent(fmt.Errorf("download %s: write %s: %w (the partial download is kept: make room and run it again to resume)", f.req.Name, f.partial, werr))
			}
			f.advance(i, buf[:k])
			from += int64(k)
			want -= int64(k)
			watchdog.Stop()
			if err := f.m.lim.wait(rctx, k); err != nil {
				return f.netErr(ctx, rctx, err)
			}
			watchdog.Reset(stall)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return f.netErr(ctx, rctx, rerr)
		}
	}
	if unknown {
		f.mu.Lock()
		f.st.Size = from
		f.st.Parts[i].End = from
		f.mu.Unlock()
		f.job.total.Store(from)
		return nil
	}
	if want > 0 {
		return fmt.Errorf("download %s: short read: the connection ended %d bytes early", f.req.Name, want)
	}
	if !ranged {
		var one [1]byte
		if k, _ := io.ReadFull(resp.Body, one[:]); k > 0 {
			return permanent(fmt.Errorf("download %s: the server sent more than the %d bytes expected", f.req.Name, f.st.Size))
		}
	}
	return nil
}

// skipKnown reads the first p.Done bytes of a stream that starts at byte
// 0 (a server without Range support), checking their CRC against what is
// on disk: a mismatch means the file changed, and the download restarts.
func (f *fetcher) skipKnown(ctx, rctx context.Context, body io.Reader, p partState, watchdog *time.Timer, stall time.Duration) error {
	h := crc32.New(castagnoli)
	buf := make([]byte, readBufSize)
	left := p.Done
	for left > 0 {
		k, err := body.Read(buf[:min(int64(len(buf)), left)])
		if k > 0 {
			h.Write(buf[:k])
			left -= int64(k)
			watchdog.Reset(stall)
		}
		if err == io.EOF && left > 0 {
			if f.st.Size < 0 {
				return errRestart // the stream is shorter than what we have: it changed
			}
			return fmt.Errorf("download %s: short read: the connection ended %d bytes early", f.req.Name, left)
		}
		if err != nil && err != io.EOF {
			return f.netErr(ctx, rctx, err)
		}
	}
	if h.Sum32() != p.CRC {
		return errRestart
	}
	return nil
}

// advance records that data was written at the end of part i.
func (f *fetcher) advance(i int, data []byte) {
	f.mu.Lock()
	p := &f.st.Parts[i]
	p.Done += int64(len(data))
	p.CRC = crc32.Update(p.CRC, castagnoli, data)
	if p.Start+p.Done > p.End {
		p.End = p.Start + p.Done // only for a stream of unknown size
	}
	f.mu.Unlock()
	f.job.bytes.Add(int64(len(data)))
}

// checkpoint syncs the partial file and then records the state, so that the
// state never claims bytes that are not on disk (a file of unknown size
// too: it resumes from where its bytes end).
func (f *fetcher) checkpoint() error {
	f.mu.Lock()
	snap := *f.st
	snap.Parts = append([]partState(nil), f.st.Parts...)
	f.mu.Unlock()
	done := snap.done()
	if done == f.saved.Load() {
		return nil
	}
	if err := f.file.Sync(); err != nil {
		return fmt.Errorf("download %s: sync %s: %w", f.req.Name, f.partial, err)
	}
	if err := saveState(f.statePath, &snap); err != nil {
		return fmt.Errorf("download %s: %w", f.req.Name, err)
	}
	f.saved.Store(done)
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

// parseContentRange reads "bytes START-END/TOTAL" or "bytes */TOTAL"; total
// is -1 for "*". ok is false when the header is malformed.
func parseContentRange(v string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t < 0 {
			return 0, 0, 0, false
		}
		total = t
	}
	if rng == "*" {
		return -1, -1, total, total >= 0
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	s, err1 := strconv.ParseInt(a, 10, 64)
	e, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || s < 0 || e < s || (total >= 0 && e >= total) {
		return 0, 0, 0, false
	}
	return s, e, total, true
}
