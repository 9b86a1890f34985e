package download

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"sync"
	"time"
)

// Downloading a file's parts: each retried, resumed where it stopped and
// checkpointed as it goes.

// readBufSize is the size of each part's read buffer.
const readBufSize = 256 << 10

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
