package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/internal/goldentest"
)

// stallBackend is a CPU backend whose first Interrupt stalls until
// released, as a context.AfterFunc goroutine that the scheduler runs late
// would, and whose next MatMul runs a hook.
type stallBackend struct {
	*cpu.Backend
	hook                        func()
	entered, release, delivered chan struct{}
	once                        sync.Once
}

func (w *stallBackend) MatMul(dst engine.Buffer, wt engine.Weight, x engine.Buffer, n int) {
	if h := w.hook; h != nil {
		w.hook = nil
		h()
	}
	w.Backend.MatMul(dst, wt, x, n)
}

func (w *stallBackend) Interrupt() {
	first := false
	w.once.Do(func() {
		first = true
		close(w.entered)
		<-w.release
	})
	w.Backend.Interrupt()
	if first {
		close(w.delivered)
	}
}

// TestLateInterruptDoesNotReachNextEval: the cancellation of one Eval,
// delivered after that Eval returned, must not interrupt the next Eval (which
// would then report success with a half-computed cache and wrong logits).
func TestLateInterruptDoesNotReachNextEval(t *testing.T) {
	f, _ := goldentest.OpenModel(t, "tiny-q4_0")
	w := &stallBackend{Backend: cpu.New(1), entered: make(chan struct{}), release: make(chan struct{}), delivered: make(chan struct{})}
	defer w.Close()
	m, err := engine.Load(f, engine.Placement{CPU: w})
	if err != nil {
		t.Fatal(err)
	}
	first, second := []int32{1, 5, 9, 30}, []int32{7, 8, 9, 10, 11, 12}

	ref, err := m.NewState(64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Eval(context.Background(), first[:1], false); err != nil {
		t.Fatal(err)
	}
	want, err := ref.Eval(context.Background(), second, false)
	if err != nil {
		t.Fatal(err)
	}

	st, err := m.NewState(64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Eval(context.Background(), first[:1], false); err != nil {
		t.Fatal(err)
	}
	// The first Eval is cancelled while it runs; its interrupt is delivered
	// to the backend only 100 ms later.
	ctx, cancel := context.WithCancel(context.Background())
	w.hook = func() {
		cancel()
		<-w.entered
	}
	go func() {
		<-w.entered
		time.Sleep(100 * time.Millisecond)
		close(w.release)
	}()
	if _, err := st.Eval(ctx, first[1:], false); err == nil {
		t.Fatal("a cancelled Eval succeeded")
	}
	// The next Eval starts before that late delivery; its first product
	// waits until the delivery has happened.
	w.hook = func() {
		select {
		case <-w.delivered:
		case <-time.After(2 * time.Second):
		}
	}
	got, err := st.Eval(context.Background(), second, false)
	if err != nil {
		t.Fatalf("the next Eval failed: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("the next Eval returned %d logits, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("the next Eval's logit %d is %g, want %g: a stale interrupt reached it", i, got[i], want[i])
		}
	}
	if st.Len() != 1+len(second) {
		t.Errorf("the state holds %d tokens, want %d", st.Len(), 1+len(second))
	}
}
