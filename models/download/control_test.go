package download

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Pausing, resuming, cancelling and queueing downloads, and resuming one
// whose partial file was damaged.

func TestPauseResume(t *testing.T) {
	srv := newFaultServer(t, 1<<20)
	srv.set(func(s *faultServer) { s.chunkDelay = 5 * time.Millisecond })
	dest := filepath.Join(t.TempDir(), "f.bin")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := NewManager(fastConfig())
	job, err := m.Start(ctx, Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "some bytes", func() bool { return job.Progress().Done > 100<<10 })
	job.Pause()
	waitFor(t, "paused", func() bool { return job.Progress().State == StatePaused })
	st, err := loadState(StatePath(dest))
	if err != nil || st == nil || st.done() == 0 {
		t.Fatalf("no resume state while paused: %v %+v", err, st)
	}
	before := len(srv.requests())
	time.Sleep(50 * time.Millisecond)
	if n := len(srv.requests()); n != before {
		t.Fatalf("%d requests while paused", n-before)
	}
	srv.set(func(s *faultServer) { s.chunkDelay = 0 })
	job.Resume()
	if err := job.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
	requireResumedFrom(t, st, srv.requests()[before:])
}

func TestCancelRemovesPartial(t *testing.T) {
	srv := newFaultServer(t, 1<<20)
	srv.set(func(s *faultServer) { s.chunkDelay = 5 * time.Millisecond })
	dest := filepath.Join(t.TempDir(), "f.bin")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	job, err := NewManager(fastConfig()).Start(ctx, Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "some bytes", func() bool { return job.Progress().Done > 50<<10 })
	job.Cancel()
	if err := job.Wait(ctx); !errors.Is(err, ErrCanceled) {
		t.Fatalf("err = %v, want ErrCanceled", err)
	}
	if s := job.Progress().State; s != StateCanceled {
		t.Errorf("state %v", s)
	}
	requireAbsent(t, dest)
	requireNoLeftovers(t, dest)
}

func TestCancelWhilePausedAndWhileQueued(t *testing.T) {
	srv := newFaultServer(t, 512<<10)
	srv.set(func(s *faultServer) { s.chunkDelay = 10 * time.Millisecond })
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := fastConfig()
	cfg.Concurrent = 1
	m := NewManager(cfg)
	first, err := m.Start(ctx, Request{URL: srv.URL(), Dest: filepath.Join(dir, "a"), SHA256: srv.sum})
	if err != nil {
		t.Fatal(err)
	}
	second, err := m.Start(ctx, Request{URL: srv.URL(), Dest: filepath.Join(dir, "b"), SHA256: srv.sum})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first downloading", func() bool { return first.Progress().Done > 0 })
	if p := second.Progress(); p.State != StateQueued {
		t.Fatalf("with one slot the second job is %v (%v), want queued; first is %+v", p.State, p.Err, first.Progress())
	}
	if got := len(m.Jobs()); got != 2 {
		t.Errorf("%d jobs listed", got)
	}
	second.Cancel()
	if err := second.Wait(ctx); !errors.Is(err, ErrCanceled) {
		t.Fatalf("queued cancel: %v", err)
	}
	first.Pause()
	waitFor(t, "paused", func() bool { return first.Progress().State == StatePaused })
	first.Cancel()
	if err := first.Wait(ctx); !errors.Is(err, ErrCanceled) {
		t.Fatalf("paused cancel: %v", err)
	}
	requireNoLeftovers(t, filepath.Join(dir, "a"))
	if len(m.Jobs()) != 0 {
		t.Error("finished jobs still listed")
	}
}

func TestQueueRunsJobsInTurn(t *testing.T) {
	srv := newFaultServer(t, 256<<10)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := fastConfig()
	cfg.Concurrent = 2
	var mu sync.Mutex
	running, most := map[int]bool{}, 0
	cfg.OnProgress = func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		running[p.ID] = p.State == StateDownloading || p.State == StateChecking || p.State == StateVerifying
		n := 0
		for _, r := range running {
			if r {
				n++
			}
		}
		most = max(most, n)
	}
	m := NewManager(cfg)
	var jobs []*Job
	for i := range 5 {
		j, err := m.Start(ctx, Request{URL: srv.URL(), Dest: filepath.Join(dir, fmt.Sprint(i)), SHA256: srv.sum})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	if _, err := m.Start(ctx, Request{URL: srv.URL(), Dest: filepath.Join(dir, "0")}); !errors.Is(err, ErrBusy) {
		t.Errorf("a second job for the same file: %v, want ErrBusy", err)
	}
	for i, j := range jobs {
		if err := j.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		requireFile(t, filepath.Join(dir, fmt.Sprint(i)), srv.data)
	}
	if most > 2 {
		t.Errorf("%d jobs ran at once with Concurrent=2", most)
	}
}

func TestContextEndPausesAndRunAgainResumes(t *testing.T) {
	srv := newFaultServer(t, 1<<20)
	srv.set(func(s *faultServer) { s.chunkDelay = 5 * time.Millisecond })
	dest := filepath.Join(t.TempDir(), "f.bin")
	ctx, cancel := context.WithCancel(context.Background())
	job, err := NewManager(fastConfig()).Start(ctx, Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "some bytes", func() bool { return job.Progress().Done > 100<<10 })
	cancel() // as Ctrl-C does
	if err := job.Wait(context.Background()); !errors.Is(err, ErrPaused) {
		t.Fatalf("err = %v, want ErrPaused", err)
	}
	st, err := loadState(StatePath(dest))
	if err != nil || st == nil {
		t.Fatalf("resume state: %v", err)
	}
	if !HasPartial(dest) {
		t.Fatal("partial file removed on pause")
	}
	before := len(srv.requests())
	srv.set(func(s *faultServer) { s.chunkDelay = 0 })
	if err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum}); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
	requireResumedFrom(t, st, srv.requests()[before:])
}

func TestResumeRefetchesCorruptedParts(t *testing.T) {
	srv := newFaultServer(t, 1<<20)
	srv.set(func(s *faultServer) { s.chunkDelay = 5 * time.Millisecond })
	dest := filepath.Join(t.TempDir(), "f.bin")
	ctx, cancel := context.WithCancel(context.Background())
	job, err := NewManager(fastConfig()).Start(ctx, Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bytes in every part", func() bool { return job.Progress().Done > 300<<10 })
	cancel()
	job.Wait(context.Background())
	st, err := loadState(StatePath(dest))
	if err != nil || st == nil || st.Parts[0].Done < 10 {
		t.Fatalf("resume state: %v %+v", err, st)
	}
	// Damage a byte the state claims is done in part 0.
	f, err := os.OpenFile(PartialPath(dest), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	f.ReadAt(b[:], 5)
	b[0] ^= 0xff
	f.WriteAt(b[:], 5)
	f.Close()
	before := len(srv.requests())
	srv.set(func(s *faultServer) { s.chunkDelay = 0 })
	if err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum}); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
	refetched := false
	for _, r := range srv.requests()[before:] {
		refetched = refetched || r.From == 0
	}
	if !refetched {
		t.Error("the damaged part was not fetched again from its start")
	}
}
