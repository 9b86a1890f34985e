package download

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestPermanentErrorsFailAtOnce checks failures that no retry can fix: each
// fails the download with a message after one round of requests, not after
// minutes of backoff.
func TestPermanentErrorsFailAtOnce(t *testing.T) {
	farFuture := time.Now().Add(3 * 365 * 24 * time.Hour).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		want    string
		maxReqs int32
	}{
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/file.bin", http.StatusFound)
		}, "redirect loop", 1},
		{"endless redirects", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", time.Now().UnixNano()), http.StatusFound)
		}, "more than 10 redirects", 11},
		{"redirect to file://", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "file:///etc/passwd")
			w.WriteHeader(http.StatusFound)
		}, "not an http or https address", 1},
		{"Retry-After of years (seconds)", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "99999999")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}, "run it again then", 1},
		{"Retry-After of years (date)", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", farFuture)
			http.Error(w, "busy", http.StatusTooManyRequests)
		}, "retry after", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				tc.handler(w, r)
			}))
			defer srv.Close()
			cfg := fastConfig()
			cfg.BackoffBase, cfg.BackoffMax = time.Second, 10*time.Second // a retry would show
			dest := filepath.Join(t.TempDir(), "f.bin")
			start := time.Now()
			err := fetchFile(t, cfg, Request{URL: srv.URL + "/file.bin", Dest: dest})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if got := n.Load(); got > tc.maxReqs {
				t.Errorf("%d requests, want at most %d: a permanent error was retried", got, tc.maxReqs)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("failing took %v", d)
			}
			requireAbsent(t, dest)
		})
	}
}

// writeLog wraps the partial file and records the lowest offset written.
type writeLog struct {
	File
	mu     sync.Mutex
	lowest int64
}

func (w *writeLog) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	if w.lowest < 0 || off < w.lowest {
		w.lowest = off
	}
	w.mu.Unlock()
	return w.File.WriteAt(p, off)
}

// TestUnknownSizeResumesAfterFullDisk checks that a download whose size the
// server does not tell, stopped by a full disk, continues from where its
// bytes end when run again (asking for the rest where the server takes
// ranges), instead of starting over.
func TestUnknownSizeResumesAfterFullDisk(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(s *faultServer)
	}{
		{"ranges without a total", func(s *faultServer) { s.noTotal = true }},
		{"no ranges, no length", func(s *faultServer) { s.ignoreRange, s.chunked = true, true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFaultServer(t, 700<<10)
			srv.set(tc.fault)
			dest := filepath.Join(t.TempDir(), "f.bin")
			const room = 300 << 10
			cfg := fastConfig()
			cfg.OpenFile = func(path string) (File, error) {
				f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
				if err != nil {
					return nil, err
				}
				return &fullDisk{File: f, limit: room}, nil
			}
			err := fetchFile(t, cfg, Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum})
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("err = %v, want ENOSPC", err)
			}
			st, err := loadState(StatePath(dest))
			if err != nil || st == nil || st.Size != -1 {
				t.Fatalf("resume state after a full disk: %+v %v", st, err)
			}
			done := st.done()
			if done == 0 || done > room {
				t.Fatalf("state claims %d bytes", done)
			}
			before := len(srv.requests())
			log := &writeLog{lowest: -1}
			cfg = fastConfig()
			cfg.OpenFile = func(path string) (File, error) {
				f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
				log.File = f
				return log, err
			}
			if err := fetchFile(t, cfg, Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum}); err != nil {
				t.Fatal(err)
			}
			requireFile(t, dest, srv.data)
			if log.lowest < done {
				t.Errorf("the second run rewrote from byte %d; %d bytes were on disk already", log.lowest, done)
			}
			if tc.name == "ranges without a total" {
				reqs := srv.requests()[before:]
				if len(reqs) == 0 || reqs[len(reqs)-1].From != done {
					t.Errorf("the rest was not asked for from byte %d: %+v", done, reqs)
				}
			}
		})
	}
}
