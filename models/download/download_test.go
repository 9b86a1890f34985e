package download

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fastConfig retries quickly so that fault tests run in milliseconds.
func fastConfig() Config {
	return Config{
		Parts:              4,
		MinPartSize:        64 << 10,
		StallTimeout:       5 * time.Second,
		MaxRetries:         5,
		BackoffBase:        2 * time.Millisecond,
		BackoffMax:         20 * time.Millisecond,
		CheckpointInterval: 20 * time.Millisecond,
		ProgressInterval:   10 * time.Millisecond,
	}
}

// fetchFile runs one download to completion (or failure) and returns its error.
func fetchFile(t *testing.T, cfg Config, req Request) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	job, err := NewManager(cfg).Start(ctx, req)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return job.Wait(ctx)
}

// requireFile checks that path holds exactly want and that no partial
// file, resume state or lock is left beside it.
func requireFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read result: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("result differs from the served file (%d vs %d bytes)", len(got), len(want))
	}
	requireNoLeftovers(t, path)
}

func requireNoLeftovers(t *testing.T, dest string) {
	t.Helper()
	for _, p := range []string{PartialPath(dest), StatePath(dest), lockPath(dest)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind", filepath.Base(p))
		}
	}
}

func requireAbsent(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists (err %v); it must not", filepath.Base(path), err)
	}
}

func TestDownloadInParallelParts(t *testing.T) {
	srv := newFaultServer(t, 1<<20+12345)
	dest := filepath.Join(t.TempDir(), "model.gguf")
	var events atomic.Int32
	var sawDownloading atomic.Bool
	err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum, Size: int64(len(srv.data)),
		OnProgress: func(p Progress) {
			events.Add(1)
			if p.State == StateDownloading {
				sawDownloading.Store(true)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
	log := srv.requests()
	if len(log) != 5 || log[0].Range != "bytes=0-0" {
		t.Fatalf("want a probe and 4 ranged parts, server saw %+v", log)
	}
	var total int64
	for _, r := range log[1:] {
		if r.Status != http.StatusPartialContent {
			t.Errorf("part request answered %d", r.Status)
		}
		total += r.To - r.From
	}
	if total != int64(len(srv.data)) {
		t.Errorf("parts covered %d bytes, want %d (no byte twice)", total, len(srv.data))
	}
	if events.Load() == 0 || !sawDownloading.Load() {
		t.Error("no progress events while downloading")
	}
}

func TestRetriesDroppedConnections(t *testing.T) {
	srv := newFaultServer(t, 600<<10)
	srv.set(func(s *faultServer) { s.dropAfter, s.drops = 50<<10, 6 })
	dest := filepath.Join(t.TempDir(), "f.bin")
	if err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum}); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
	// Every retry continues where its part stopped: no range starts twice.
	seen := map[int64]bool{}
	for _, r := range srv.requests()[1:] {
		if seen[r.From] {
			t.Errorf("bytes from %d were requested twice", r.From)
		}
		seen[r.From] = true
	}
}

func TestRetriesServerErrorsHonouringRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		code       int
		retryAfter string
		atLeast    time.Duration
	}{
		{http.StatusServiceUnavailable, "1", 900 * time.Millisecond},
		{http.StatusTooManyRequests, "", 0},
		{http.StatusBadGateway, "", 0},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			srv := newFaultServer(t, 100<<10)
			srv.set(func(s *faultServer) { s.failFirst, s.failCode, s.retryAfter = 2, tc.code, tc.retryAfter })
			dest := filepath.Join(t.TempDir(), "f.bin")
			var retries atomic.Int32
			start := time.Now()
			err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum, OnProgress: func(p Progress) {
				retries.Store(int32(p.Retries))
			}})
			if err != nil {
				t.Fatal(err)
			}
			requireFile(t, dest, srv.data)
			if retries.Load() != 2 {
				t.Errorf("%d retries reported, want 2", retries.Load())
			}
			// Two answers said "Retry-After: 1"; backoff alone is milliseconds.
			if d := time.Since(start); d < 2*tc.atLeast {
				t.Errorf("finished after %v: Retry-After was not honoured", d)
			}
		})
	}
}

func TestGivesUpOnPermanentErrors(t *testing.T) {
	for _, tc := range []struct {
		code int
		want string
	}{
		{http.StatusNotFound, "no such file"},
		{http.StatusUnauthorized, "llamadesk login"},
		{http.StatusForbidden, "gated"},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			srv := newFaultServer(t, 1000)
			srv.set(func(s *faultServer) { s.status = tc.code })
			dest := filepath.Join(t.TempDir(), "f.bin")
			err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fmt.Sprint(tc.code)) {
				t.Fatalf("err = %v, want HTTP %d and %q", err, tc.code, tc.want)
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests; a permanent error must not be retried", n)
			}
			requireAbsent(t, dest)
		})
	}
}

func TestGivesUpAfterMaxRetries(t *testing.T) {
	srv := newFaultServer(t, 1000)
	srv.set(func(s *faultServer) { s.failFirst = 1000 })
	dest := filepath.Join(t.TempDir(), "f.bin")
	cfg := fastConfig()
	cfg.MaxRetries = 3
	err := fetchFile(t, cfg, Request{URL: srv.URL(), Dest: dest})
	if err == nil || !strings.Contains(err.Error(), "giving up after 4 failed attempts") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestServerIgnoringRangeUsesOneStream(t *testing.T) {
	srv := newFaultServer(t, 700<<10)
	srv.set(func(s *faultServer) { s.ignoreRange = true })
	dest := filepath.Join(t.TempDir(), "f.bin")
	if err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum, Size: int64(len(srv.data))}); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
	log := srv.requests()
	if len(log) != 2 || log[1].Range != "" || log[1].Status != http.StatusOK {
		t.Fatalf("want the probe then one plain GET, server saw %+v", log)
	}
}

func TestServerDroppingRangeSupportRestartsCleanly(t *testing.T) {
	srv := newFaultServer(t, 700<<10)
	srv.set(func(s *faultServer) { s.rangeOnlyOnce = true })
	dest := filepath.Join(t.TempDir(), "f.bin")
	if err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum}); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
	log := srv.requests()
	last := log[len(log)-1]
	if last.Range != "" || last.Status != http.StatusOK {
		t.Fatalf("the download should end with one plain stream, server saw %+v", log)
	}
}

func TestOneStreamRetriesFromTheStart(t *testing.T) {
	srv := newFaultServer(t, 300<<10)
	srv.set(func(s *faultServer) { s.ignoreRange, s.dropAfter, s.drops = true, 100<<10, 2 })
	dest := filepath.Join(t.TempDir(), "f.bin")
	if err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum}); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
}

func TestUnknownSizeStream(t *testing.T) {
	srv := newFaultServer(t, 200<<10)
	srv.set(func(s *faultServer) { s.ignoreRange, s.chunked = true, true })
	dest := filepath.Join(t.TempDir(), "f.bin")
	if err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum}); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
}

func TestDetectsLyingContentLength(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lie      int64
		size     bool // tell the expected size in the request
		checksum bool
		want     string
	}{
		{"longer than sent", 5000, false, true, "giving up"},
		{"longer than expected size", 5000, true, true, "announces"},
		{"shorter than sent", -5000, false, true, "checksum mismatch (SHA-256"},
		{"shorter, size known", -5000, true, false, "announces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFaultServer(t, 100<<10)
			srv.set(func(s *faultServer) { s.ignoreRange, s.lieLength = true, tc.lie })
			dest := filepath.Join(t.TempDir(), "f.bin")
			req := Request{URL: srv.URL(), Dest: dest}
			if tc.size {
				req.Size = int64(len(srv.data))
			}
			if tc.checksum {
				req.SHA256 = srv.sum
			}
			cfg := fastConfig()
			cfg.MaxRetries = 2
			err := fetchFile(t, cfg, req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			requireAbsent(t, dest)
		})
	}
}

func TestWrongBytesFailTheChecksum(t *testing.T) {
	srv := newFaultServer(t, 300<<10)
	srv.set(func(s *faultServer) { s.corrupt = true })
	dest := filepath.Join(t.TempDir(), "f.bin")
	err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum})
	var ce *ChecksumError
	if !errors.As(err, &ce) || !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want a ChecksumError", err)
	}
	if ce.Want != srv.sum || ce.Got == srv.sum || !strings.Contains(err.Error(), "checksum mismatch (SHA-256 ") {
		t.Errorf("error %q does not name both checksums", err)
	}
	requireAbsent(t, dest)
	requireNoLeftovers(t, dest)
}

func TestStalledRequestIsRetried(t *testing.T) {
	srv := newFaultServer(t, 300<<10)
	srv.set(func(s *faultServer) { s.stallAfter, s.stallFor, s.stalls = 32<<10, 10*time.Second, 1 })
	dest := filepath.Join(t.TempDir(), "f.bin")
	cfg := fastConfig()
	cfg.StallTimeout = 300 * time.Millisecond
	cfg.Parts = 1
	var lastRetry atomic.Value
	err := fetchFile(t, cfg, Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum, OnProgress: func(p Progress) {
		if p.LastRetry != "" {
			lastRetry.Store(p.LastRetry)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
	if s, _ := lastRetry.Load().(string); !strings.Contains(s, "stalled") {
		t.Errorf("last retry reason %q, want a stall", s)
	}
	log := srv.requests()
	if len(log) != 3 || log[2].From != 32<<10 {
		t.Errorf("after the stall the download should continue from byte %d: %+v", 32<<10, log)
	}
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// requireResumedFrom checks that requests made after a resume never ask
// again for bytes that st recorded as done.
func requireResumedFrom(t *testing.T, st *resumeState, after []served) {
	t.Helper()
	if len(after) == 0 {
		t.Fatal("no requests after the resume")
	}
	for _, r := range after {
		if r.Range == "" {
			t.Fatalf("a plain GET after the resume fetched everything again: %+v", r)
		}
		for _, p := range st.Parts {
			if r.From < p.Start+p.Done && r.To > p.Start {
				t.Errorf("request %q overlaps bytes %d-%d that were already done", r.Range, p.Start, p.Start+p.Done)
			}
		}
	}
}

func TestBandwidthLimitIsRoughlyRespected(t *testing.T) {
	const size = 300 << 10
	srv := newFaultServer(t, size)
	dest := filepath.Join(t.TempDir(), "f.bin")
	cfg := fastConfig()
	cfg.BytesPerSecond = 200 << 10
	start := time.Now()
	if err := fetchFile(t, cfg, Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum}); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
	// 300 KiB at 200 KiB/s with a 20 KiB burst takes at least 1.4 s; only a
	// loose lower bound is asserted.
	if d := time.Since(start); d < time.Second {
		t.Errorf("finished in %v; the limit allows no less than about 1.4s", d)
	}
}

func TestExistingDestination(t *testing.T) {
	srv := newFaultServer(t, 1000)
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, srv.data, 0o644)
	if err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: good, SHA256: srv.sum}); err != nil {
		t.Fatalf("a complete file with the right checksum: %v", err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests for a file already in place", n)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("something else"), 0o644)
	err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: bad, SHA256: srv.sum})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if got, _ := os.ReadFile(bad); string(got) != "something else" {
		t.Error("an existing file was overwritten")
	}
}

func TestRejectsBadRequests(t *testing.T) {
	m := NewManager(Config{})
	for _, req := range []Request{
		{},
		{URL: "ftp://x/y", Dest: "a"},
		{URL: "http://x/y"},
		{URL: "http://x/y", Dest: "a", SHA256: "abc"},
		{URL: "http://x/y", Dest: "a", Size: -1},
	} {
		if _, err := m.Start(context.Background(), req); err == nil {
			t.Errorf("%+v accepted", req)
		}
	}
}

func TestEmptyFile(t *testing.T) {
	srv := newFaultServer(t, 0)
	dest := filepath.Join(t.TempDir(), "empty")
	if err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum}); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, nil)
}

// BenchmarkLoopbackDownload measures a 32 MiB download in 4 parts over
// loopback, checksum included.
func BenchmarkLoopbackDownload(b *testing.B) {
	srv := newFaultServer(b, 32<<20)
	cfg := fastConfig()
	cfg.MinPartSize = 1 << 20
	dir := b.TempDir()
	b.SetBytes(int64(len(srv.data)))
	for i := 0; b.Loop(); i++ {
		dest := filepath.Join(dir, fmt.Sprint(i))
		job, err := NewManager(cfg).Start(context.Background(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum})
		if err != nil {
			b.Fatal(err)
		}
		if err := job.Wait(context.Background()); err != nil {
			b.Fatal(err)
		}
		os.Remove(dest)
	}
}
