package download

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// served is one request as the test server saw it.
type served struct {
	Range  string // the Range header ("" for none)
	From   int64  // first byte sent
	To     int64  // one past the last byte promised
	Status int
}

// faultServer serves one file over loopback HTTP with the faults a test
// turns on. Its log records every request.
type faultServer struct {
	*httptest.Server
	data []byte
	sum  string
	etag string

	mu  sync.Mutex
	log []served
	n   int // requests so far

	// Faults. Each is read under mu.
	ignoreRange   bool          // answer 200 with the whole file to everything
	rangeOnlyOnce bool          // honour Range for the probe only, then answer 200
	failFirst     int           // answer the first failFirst requests with failCode
	failCode      int           // 503 by default
	retryAfter    string        // Retry-After header of those answers
	dropAfter     int64         // abort each body after this many bytes ...
	drops         int           // ... for this many responses
	stallAfter    int64         // stop sending after this many bytes ...
	stallFor      time.Duration // ... for this long ...
	stalls        int           // ... in this many responses
	lieLength     int64         // added to the Content-Length of 200 answers
	corrupt       bool          // flip one byte in the middle of the file
	chunkDelay    time.Duration // sleep between 16 KiB chunks
	chunked       bool          // no Content-Length on 200 answers
	noTotal       bool          // answer ranges with "bytes A-B/*" (size unknown)
	status        int           // when set, answer every request with it
}

// newFaultServer serves size random bytes.
func newFaultServer(t testing.TB, size int) *faultServer {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(data)
	s := &faultServer{data: data, sum: hex.EncodeToString(sum[:]), etag: `"` + hex.EncodeToString(sum[:8]) + `"`, failCode: http.StatusServiceUnavailable}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL returns the file's address.
func (s *faultServer) URL() string { return s.Server.URL + "/file.bin" }

// requests returns a copy of the log.
func (s *faultServer) requests() []served {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]served(nil), s.log...)
}

func (s *faultServer) set(f func(s *faultServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *faultServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.n++
	n := s.n
	entry := served{Range: r.Header.Get("Range")}
	if s.status != 0 {
		entry.Status = s.status
		s.log = append(s.log, entry)
		s.mu.Unlock()
		http.Error(w, "status", entry.Status)
		return
	}
	if n <= s.failFirst {
		entry.Status = s.failCode
		s.log = append(s.log, entry)
		ra := s.retryAfter
		code := s.failCode
		s.mu.Unlock()
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		http.Error(w, "try later", code)
		return
	}
	ignore := s.ignoreRange || (s.rangeOnlyOnce && n > 1)
	data := s.data
	if s.corrupt {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0xff
	}
	from, to := int64(0), int64(len(data))
	status := http.StatusOK
	if rg := entry.Range; rg != "" && !ignore {
		a, b, ok := parseRangeHeader(rg, int64(len(data)))
		if !ok {
			entry.Status = http.StatusRequestedRangeNotSatisfiable
			s.log = append(s.log, entry)
			s.mu.Unlock()
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(entry.Status)
			return
		}
		if ir := r.Header.Get("If-Range"); ir != "" && ir != s.etag {
			a, b = 0, int64(len(data))-1
		} else {
			status = http.StatusPartialContent
		}
		from, to = a, b+1
	}
	entry.From, entry.To, entry.Status = from, to, status
	s.log = append(s.log, entry)
	drop := int64(-1)
	if s.drops > 0 && to-from > s.dropAfter {
		s.drops--
		drop = s.dropAfter
	}
	stall := int64(-1)
	stallFor := s.stallFor
	if s.stalls > 0 && to-from > s.stallAfter {
		s.stalls--
		stall = s.stallAfter
	}
	lie, delay, chunked, noTotal := s.lieLength, s.chunkDelay, s.chunked, s.noTotal
	s.mu.Unlock()

	h := w.Header()
	h.Set("ETag", s.etag)
	if !ignore {
		h.Set("Accept-Ranges", "bytes")
	}
	if status == http.StatusPartialContent && noTotal {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/*", from, to-1))
	} else if status == http.StatusPartialContent {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to-1, len(data)))
		h.Set("Content-Length", strconv.FormatInt(to-from, 10))
	} else if !chunked {
		h.Set("Content-Length", strconv.FormatInt(to-from+lie, 10))
	}
	w.WriteHeader(status)
	fl := w.(http.Flusher)
	var sent int64
	if lie < 0 && status == http.StatusOK {
		to += lie // send what the header says, a truncated file
	}
	for off := from; off < to; {
		end := min(off+16<<10, to)
		if drop >= 0 && sent+end-off > drop {
			end = off + (drop - sent)
		}
		if stall >= 0 && sent+end-off > stall {
			end = off + (stall - sent)
		}
		if end > off {
			if _, err := w.Write(data[off:end]); err != nil {
				return
			}
			fl.Flush()
			sent += end - off
			off = end
		}
		if drop >= 0 && sent >= drop {
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		if stall >= 0 && sent >= stall {
			stall = -1
			select {
			case <-time.After(stallFor):
			case <-r.Context().Done():
				return
			}
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
	}
}

// parseRangeHeader reads "bytes=A-B" or "bytes=A-" (one range only).
func parseRangeHeader(v string, size int64) (a, b int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	as, bs, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	a, err := strconv.ParseInt(as, 10, 64)
	if err != nil || a >= size {
		return 0, 0, false
	}
	b = size - 1
	if bs != "" {
		if b, err = strconv.ParseInt(bs, 10, 64); err != nil || b < a {
			return 0, 0, false
		}
		b = min(b, size-1)
	}
	return a, b, true
}
