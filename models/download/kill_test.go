package download

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// childEnv makes the test binary act as a downloader process that the test
// kills with SIGKILL halfway.
const childEnv = "LLAMADESK_DOWNLOAD_CHILD"

// TestKillAndResume downloads in a child process, kills it with SIGKILL
// mid-download, then resumes in this process: the requests after the kill
// must not ask for any byte the resume state recorded as done.
func TestKillAndResume(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		runDownloadChild(t)
		return
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("needs a killable child process")
	}
	srv := newFaultServer(t, 4<<20)
	srv.set(func(s *faultServer) { s.chunkDelay = 30 * time.Millisecond })
	dest := filepath.Join(t.TempDir(), "model.gguf")

	cmd := exec.Command(os.Args[0], "-test.run=^TestKillAndResume$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_URL="+srv.URL(), "CHILD_DEST="+dest, "CHILD_SHA="+srv.sum)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	waitFor(t, "the child to record progress", func() bool {
		st, err := loadState(StatePath(dest))
		return err == nil && st != nil && st.done() >= 512<<10
	})
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no chance to clean up
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	st, err := loadState(StatePath(dest))
	if err != nil || st == nil {
		t.Fatalf("resume state after kill -9: %v", err)
	}
	if st.done() >= int64(len(srv.data)) {
		t.Fatal("the child finished before it was killed; slow the server down")
	}
	requireAbsent(t, dest)
	before := len(srv.requests())
	srv.set(func(s *faultServer) { s.chunkDelay = 0 })
	if err := fetchFile(t, fastConfig(), Request{URL: srv.URL(), Dest: dest, SHA256: srv.sum}); err != nil {
		t.Fatal(err)
	}
	requireFile(t, dest, srv.data)
	after := srv.requests()[before:]
	requireResumedFrom(t, st, after)
	var fetched int64
	for _, r := range after {
		fetched += r.To - r.From
	}
	if want := int64(len(srv.data)) - st.done(); fetched != want {
		t.Errorf("the resume fetched %d bytes, want exactly the %d missing", fetched, want)
	}
}

// runDownloadChild is the killed process: it downloads until killed.
func runDownloadChild(t *testing.T) {
	cfg := fastConfig()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := NewManager(cfg).Start(ctx, Request{URL: os.Getenv("CHILD_URL"), Dest: os.Getenv("CHILD_DEST"), SHA256: os.Getenv("CHILD_SHA")})
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}
