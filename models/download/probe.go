package download

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Asking the server about a file before fetching it: its size, whether it
// takes Range requests, and the parts to fetch it in.

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
