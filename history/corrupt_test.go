package history

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// filledDB makes a real, closed database with enough data to span many pages.
func filledDB(t *testing.T, path string) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		chat(t, s, "", fmt.Sprintf("question %d %s", i, strings.Repeat("lorem ipsum ", 40)),
			fmt.Sprintf("answer %d %s", i, strings.Repeat("dolor sit amet ", 60)))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatalf("the WAL was not checkpointed on close")
	}
}

func TestCorruptDatabaseIsCopiedAsideAndReported(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"garbage bytes", func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("this is not a database\x00\xff"), 500), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"short garbage", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("SQLite"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated real database", func(t *testing.T, path string) {
			filledDB(t, path)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, st.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"overwritten pages", func(t *testing.T, path string) {
			filledDB(t, path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := 4096 * 2; i < len(data)-4096; i += 4096 * 3 {
				copy(data[i+100:i+1200], bytes.Repeat([]byte{0xA5}, 1100))
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "llamadesk.db")
			tc.damage(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a damaged database")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *CorruptError", err, err)
			}
			if ce.Path != path || ce.CopyPath == "" || !strings.HasPrefix(filepath.Base(ce.CopyPath), "llamadesk.db.corrupt-") {
				t.Errorf("CorruptError = %+v", ce)
			}
			if !strings.Contains(err.Error(), ce.CopyPath) {
				t.Errorf("message %q does not say where the copy is", err)
			}
			saved, err := os.ReadFile(ce.CopyPath)
			if err != nil || !bytes.Equal(saved, before) {
				t.Errorf("copy differs from the damaged file (%v)", err)
			}
			after, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(after, before) {
				t.Errorf("the damaged file was changed (%v)", err)
			}

			// Later attempts refuse the file again, naming the same copy,
			// and make no more copies.
			for range 3 {
				_, err2 := Open(path)
				var ce2 *CorruptError
				if !errors.As(err2, &ce2) || ce2.CopyPath != ce.CopyPath || !ce2.Earlier {
					t.Errorf("later open: %v", err2)
				}
			}
			if copies, _ := filepath.Glob(path + ".corrupt-*"); len(copies) != 1 {
				t.Errorf("copies after four opens: %v", copies)
			}

			// With the person's agreement: a fresh database in its place.
			fresh, moved, err := StartFresh(path, false)
			if err != nil {
				t.Fatalf("StartFresh: %v", err)
			}
			defer fresh.Close()
			if moved == "" || moved == ce.CopyPath {
				t.Errorf("StartFresh moved the file to %q", moved)
			}
			if got, err := os.ReadFile(moved); err != nil || !bytes.Equal(got, before) {
				t.Errorf("moved file differs from the damaged one (%v)", err)
			}
			if _, err := os.Stat(ce.CopyPath); err != nil {
				t.Errorf("the first copy is gone: %v", err)
			}
			id := chat(t, fresh, "Llama 2 default", "hello again")
			if _, err := fresh.Thread(context.Background(), id); err != nil {
				t.Errorf("fresh database does not work: %v", err)
			}
			mustCheck(t, fresh)
		})
	}
}

func TestStartFreshWithoutFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	s, moved, err := StartFresh(path, false)
	if err != nil || moved != "" {
		t.Fatalf("StartFresh = %q, %v", moved, err)
	}
	s.Close()
}

func TestOtherOpenErrorsAreNotCorruption(t *testing.T) {
	dir := t.TempDir()
	// A folder where the file should be.
	path := filepath.Join(dir, "folder.db")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	if err == nil {
		t.Fatal("Open of a folder succeeded")
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		t.Errorf("a folder was reported as a corrupt database: %v", err)
	}
	if matches, _ := filepath.Glob(path + ".corrupt-*"); len(matches) > 0 {
		t.Errorf("copies made: %v", matches)
	}
}

func TestDamageChangedAfterCopyIsCopiedAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "llamadesk.db")
	if err := os.WriteFile(path, []byte("not a database, first version"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	var first *CorruptError
	if !errors.As(err, &first) || first.Earlier {
		t.Fatalf("first open: %v", err)
	}
	// The damaged file changes (another damage, a restore attempt...): a new
	// copy keeps this state too.
	if err := os.WriteFile(path, []byte("not a database, second version, longer"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	var second *CorruptError
	if !errors.As(err, &second) || second.Earlier || second.CopyPath == first.CopyPath {
		t.Fatalf("open after the change: %v", err)
	}
	if copies, _ := filepath.Glob(path + ".corrupt-*"); len(copies) != 2 {
		t.Errorf("copies: %v", copies)
	}
}

func TestStartFreshRefusesHealthyDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "llamadesk.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	id := chat(t, s, "", "keep me")
	s.Close()

	if _, _, err := StartFresh(path, false); !errors.Is(err, ErrHealthy) {
		t.Fatalf("StartFresh on a healthy database: %v, want ErrHealthy", err)
	}
	if aside, _ := filepath.Glob(path + ".*-2*"); len(aside) != 0 {
		t.Fatalf("a refused start-fresh moved files: %v", aside)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Thread(context.Background(), id); err != nil {
		t.Fatalf("the history was changed: %v", err)
	}
	s.Close()

	fresh, moved, err := StartFresh(path, true)
	if err != nil {
		t.Fatalf("forced StartFresh: %v", err)
	}
	defer fresh.Close()
	if !strings.HasPrefix(filepath.Base(moved), "llamadesk.db.old-") {
		t.Errorf("a healthy history was moved to %q", moved)
	}
	if convs, _ := fresh.Conversations(context.Background()); len(convs) != 0 {
		t.Errorf("the fresh history has %d conversations", len(convs))
	}
}

// A database a Store has open is never set aside, even forced: the other
// process would go on writing into the file moved away.
func TestStartFreshRefusesOpenDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "llamadesk.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	chat(t, s, "", "keep me")
	for _, force := range []bool{false, true} {
		if _, _, err := StartFresh(path, force); !errors.Is(err, ErrInUse) {
			t.Errorf("StartFresh(force %v) while open: %v, want ErrInUse", force, err)
		}
	}
	if aside, _ := filepath.Glob(path + ".*-2*"); len(aside) != 0 {
		t.Fatalf("a refused start-fresh moved files: %v", aside)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fresh, moved, err := StartFresh(path, true)
	if err != nil || moved == "" {
		t.Fatalf("StartFresh(force) once closed: %q, %v", moved, err)
	}
	fresh.Close()
}
