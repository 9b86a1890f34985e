package history

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// childStream is the child of TestKillDuringStreaming: one finished turn,
// then a reply saved token by token, forever; after each committed update
// it prints "saved N".
func childStream(ctx context.Context, s *Store) error {
	c, err := s.CreateConversation(ctx, NewConversation{Persona: "Llama 2 default", Model: "tiny.gguf"})
	if err != nil {
		return err
	}
	fmt.Printf("conversation %s\n", c.ID)
	if _, err := s.AppendUser(ctx, c.ID, "first question"); err != nil {
		return err
	}
	a, err := s.StartAssistant(ctx, c.ID, "")
	if err != nil {
		return err
	}
	if err := s.FinishAssistant(ctx, a.ID, Finish{Content: "first answer", Status: StatusDone, TokenCount: 2}); err != nil {
		return err
	}
	if _, err := s.AppendUser(ctx, c.ID, "second question"); err != nil {
		return err
	}
	a, err = s.StartAssistant(ctx, c.ID, "")
	if err != nil {
		return err
	}
	var text strings.Builder
	for i := 1; ; i++ {
		fmt.Fprintf(&text, "token%d ", i)
		if err := s.UpdateContent(ctx, a.ID, text.String()); err != nil {
			return err
		}
		fmt.Printf("saved %d\n", i)
	}
}

// startChild re-executes the test binary in the given child mode on db; it
// returns the child, its standard output by lines, and that pipe's closer.
func startChild(t *testing.T, mode, db string) (*exec.Cmd, *bufio.Scanner, io.Closer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childDBEnv+"="+db)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	return cmd, bufio.NewScanner(out), out
}

func TestKillDuringStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crash.db")
	for round := 1; round <= 3; round++ {
		cmd, lines, stdout := startChild(t, "stream", path)
		var id string
		saved := 0
		for lines.Scan() {
			line := lines.Text()
			if rest, ok := strings.CutPrefix(line, "conversation "); ok {
				id = rest
			}
			if rest, ok := strings.CutPrefix(line, "saved "); ok {
				saved, _ = strconv.Atoi(rest)
				if saved >= 40*round {
					break
				}
			}
		}
		// Another process opening the history meanwhile leaves the live
		// reply alone.
		if id != "" {
			live, err := Open(path)
			if err != nil {
				t.Fatalf("round %d: open beside the writer: %v", round, err)
			}
			if th, err := live.Thread(ctx, id); err != nil || th.Messages[len(th.Messages)-1].Status != StatusStreaming {
				t.Errorf("round %d: a live reply was marked: %v", round, err)
			}
			live.Close()
		}
		if round == 3 && runtime.GOOS != "windows" {
			// As `llamadesk chat … | head` ends: the reader goes away and
			// the next write kills the child with SIGPIPE.
			stdout.Close()
			err := cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.Success() || !strings.Contains(ee.Error(), "broken pipe") {
				t.Errorf("round %d: the child ended with %v, want SIGPIPE", round, err)
			}
		} else {
			// SIGKILL (TerminateProcess on Windows) in the middle of the loop.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill: %v", err)
			}
			cmd.Wait()
		}
		if id == "" || saved == 0 {
			t.Fatalf("round %d: child did not get going (id %q, saved %d)", round, id, saved)
		}

		s, err := Open(path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		mustCheck(t, s)
		th, err := s.Thread(ctx, id)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		msgs := th.Messages
		if len(msgs) != 4 {
			t.Fatalf("round %d: %d messages on the path, want 4: %q", round, len(msgs), contents(msgs))
		}
		if msgs[0].Content != "first question" || msgs[1].Content != "first answer" || msgs[2].Content != "second question" {
			t.Errorf("round %d: earlier messages = %q", round, contents(msgs[:3]))
		}
		// Opening after the crash marked the orphaned reply interrupted.
		last := msgs[3]
		if last.Status != StatusInterrupted {
			t.Errorf("round %d: reply status %s, want interrupted", round, last.Status)
		}
		if want := fmt.Sprintf("token1 token2 token3 "); !strings.HasPrefix(last.Content, want) {
			t.Errorf("round %d: reply starts %.40q", round, last.Content)
		}
		if !strings.Contains(last.Content, fmt.Sprintf("token%d ", saved)) {
			t.Errorf("round %d: reply lost committed text: saved %d, have %d bytes ending %q",
				round, saved, len(last.Content), last.Content[max(0, len(last.Content)-30):])
		}
		// Nothing is left streaming, and the conversation goes on.
		if n, err := s.MarkInterrupted(ctx, 0); err != nil || n != 0 {
			t.Errorf("round %d: MarkInterrupted = %d, %v; want 0", round, n, err)
		}
		if _, err := s.AppendUser(ctx, id, "are you there?"); err != nil {
			t.Errorf("round %d: append after crash: %v", round, err)
		}
		mustCheck(t, s)
		s.Close()
	}
}

// writerRounds is how many conversations each writer of
// TestTwoWritersAtOnce creates.
const writerRounds = 25

// writeConversations is one writer's work: conversations with a user
// message and a reply saved in several updates.
func writeConversations(ctx context.Context, s *Store, name string) error {
	for i := range writerRounds {
		c, err := s.CreateConversation(ctx, NewConversation{Title: fmt.Sprintf("%s %d", name, i)})
		if err != nil {
			return fmt.Errorf("%s: create: %w", name, err)
		}
		if _, err := s.AppendUser(ctx, c.ID, "question from "+name); err != nil {
			return fmt.Errorf("%s: append: %w", name, err)
		}
		a, err := s.StartAssistant(ctx, c.ID, "m")
		if err != nil {
			return fmt.Errorf("%s: start: %w", name, err)
		}
		for k := 1; k <= 3; k++ {
			if err := s.UpdateContent(ctx, a.ID, strings.Repeat("word ", k)); err != nil {
				return fmt.Errorf("%s: update: %w", name, err)
			}
		}
		if err := s.FinishAssistant(ctx, a.ID, Finish{Content: "answer for " + name, Status: StatusDone}); err != nil {
			return fmt.Errorf("%s: finish: %w", name, err)
		}
		if _, err := s.Conversations(ctx); err != nil {
			return fmt.Errorf("%s: list: %w", name, err)
		}
	}
	return nil
}

// childWrite is the child of TestTwoWritersAtOnce.
func childWrite(ctx context.Context, s *Store) error {
	return writeConversations(ctx, s, "child")
}

func TestTwoWritersAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	first, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()

	// Another process (the window, say) writes at the same time as two
	// stores of this one (the command line).
	cmd, lines, _ := startChild(t, "write", path)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*Store{first, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = writeConversations(ctx, s, fmt.Sprintf("store%d", i+1))
		}()
	}
	wg.Wait()
	for lines.Scan() {
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("child writer failed: %v", err)
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("child writer did not finish")
	}
	for _, err := range errs {
		if err != nil {
			t.Errorf("writer: %v", err)
		}
	}
	convs, err := first.Conversations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 3*writerRounds {
		t.Errorf("%d conversations, want %d", len(convs), 3*writerRounds)
	}
	for _, c := range convs {
		if c.MessageCount != 2 {
			t.Errorf("conversation %q has %d messages, want 2", c.Title, c.MessageCount)
		}
	}
	mustCheck(t, first)
}
