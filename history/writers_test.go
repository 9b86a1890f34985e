package history

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestOrphanedRepliesAreMarkedAtOpen checks the writer sessions: a reply a
// live Store streams is left alone by another Store; once its Store is
// gone without finishing it, the next open marks it interrupted, and it can
// be continued.
func TestOrphanedRepliesAreMarkedAtOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.CreateConversation(ctx, NewConversation{})
	if err != nil {
		t.Fatal(err)
	}
	a.AppendUser(ctx, c.ID, "hello")
	m, err := a.StartAssistant(ctx, c.ID, "m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	a.UpdateContent(ctx, m.ID, "half a rep")

	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := messageByID(t, b, c.ID, m.ID); got.Status != StatusStreaming {
		t.Fatalf("a live reply became %s", got.Status)
	}
	b.Close()

	a.Close() // gone without finishing the reply
	if entries, _ := os.ReadDir(path + ".writers"); len(entries) != 0 {
		t.Errorf("lock files left after every Store closed: %v", entries)
	}
	c2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	got := messageByID(t, c2, c.ID, m.ID)
	if got.Status != StatusInterrupted || got.Content != "half a rep" {
		t.Fatalf("orphaned reply after reopening: %+v", got)
	}
	// It can be continued (saving again makes it streaming under the new
	// session) and finished.
	if err := c2.UpdateContent(ctx, m.ID, "half a reply, continued"); err != nil {
		t.Fatal(err)
	}
	seed := int64(42)
	if err := c2.FinishAssistant(ctx, m.ID, Finish{Content: "half a reply, continued.", Status: StatusDone, Seed: &seed}); err != nil {
		t.Fatal(err)
	}
	if got := messageByID(t, c2, c.ID, m.ID); got.Status != StatusDone || got.Seed == nil || *got.Seed != 42 {
		t.Errorf("finished reply: %+v", got)
	}
}

// TestStaleLockFilesAreRemoved checks that the lock of a session whose
// process ended without closing is cleaned up by the next open.
func TestStaleLockFilesAreRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	stale := filepath.Join(path+".writers", newID()+lockSuffix)
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(stale); err == nil {
		t.Error("the stale lock file is still there")
	}
}

// messageByID returns message id of conversation conv.
func messageByID(t *testing.T, s *Store, conv string, id int64) Message {
	t.Helper()
	all, err := s.Messages(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("no message %d", id)
	return Message{}
}

// sessionHeld tells a live session (whose lock is held) from one that
// ended, so that markOrphans leaves alone the replies of a session that
// started after it listed the live ones.
func TestSessionHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "llamadesk.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	id := s.session.id
	if !sessionHeld(path, id) {
		t.Error("an open Store's session is not held")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, id string }{{"closed", id}, {"unknown", "nosuchsession"}, {"invalid", "../x"}} {
		if sessionHeld(path, tt.id) {
			t.Errorf("%s session: held", tt.name)
		}
	}
}
