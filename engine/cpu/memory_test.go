package cpu_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/internal/goldentest"
	"github.com/llamadesk/llamadesk/internal/testenv"
)

// TestNeedsMatchAllocations compares the engine's memory model (what
// engine.NeedsOf says a context takes) with what the CPU backend and the
// state really allocate once a full batch has run, for every shared model,
// KV cache type and a few context sizes: within 5 %.
func TestNeedsMatchAllocations(t *testing.T) {
	for _, name := range []string{"tiny-f16", "tiny-q4_0", "tiny-q4_k_m", "tiny-q8_0", "tiny-gqa-q4_k_m", "chat-q4_k_m"} {
		f, err := gguf.Open(testenv.Path(t, "models", name+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, typ := range engine.KVTypes() {
			for _, ctx := range []int{256, 1024, 4096} {
				for _, all := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%s/ctx=%d/all=%v", name, typ, ctx, all), func(t *testing.T) {
						b := cpu.New(2)
						defer b.Close()
						m, err := engine.Load(f, engine.Placement{CPU: b})
						if err != nil {
							t.Fatal(err)
						}
						o := engine.StateOptions{Context: ctx, KVType: typ, AllLogits: all}
						st, err := m.NewStateWith(o)
						if err != nil {
							t.Fatal(err)
						}
						tokens := make([]int32, min(ctx, engine.DefaultBatch))
						for i := range tokens {
							tokens[i] = int32(i % m.Config.Vocab)
						}
						if _, err := st.Eval(context.Background(), tokens, all); err != nil {
							t.Fatal(err)
						}
						need, err := engine.NeedsOf(f, o)
						if err != nil {
							t.Fatal(err)
						}
						if need.Weights != engine.WeightBytes(f) || need.Weights <= 0 {
							t.Errorf("weights %d, want the tensors' %d bytes", need.Weights, engine.WeightBytes(f))
						}
						want := need.Total() - need.Weights
						got := b.AllocatedBytes() + st.HostBytes()
						if d := math.Abs(float64(got-want)) / float64(got); d > 0.05 {
							t.Errorf("estimated %d bytes (KV %d, buffers %d, logits %d), allocated %d: %.1f%% apart",
								want, need.KV, need.Buffers, need.Logits, got, 100*d)
						}
					})
				}
			}
		}
	}
}

// TestContextTooLargeForMemory: a context beyond the memory limit is an
// error saying how much it needs, before anything is allocated.
func TestContextTooLargeForMemory(t *testing.T) {
	f, _ := goldentest.OpenModel(t, "tiny-q4_0")
	b := cpu.New(1)
	defer b.Close()
	m, err := engine.Load(f, engine.Placement{CPU: b})
	if err != nil {
		t.Fatal(err)
	}
	before := b.AllocatedBytes()
	_, err = m.NewStateWith(engine.StateOptions{Context: 1 << 20, MemoryLimit: 64 << 20})
	if err == nil || !errors.Is(err, engine.ErrTooLarge) {
		t.Fatalf("got %v, want an error wrapping ErrTooLarge", err)
	}
	if b.AllocatedBytes() != before {
		t.Errorf("allocated %d bytes before refusing", b.AllocatedBytes()-before)
	}
	t.Log(err)
	if _, err := m.NewStateWith(engine.StateOptions{Context: 512, MemoryLimit: 64 << 20}); err != nil {
		t.Fatalf("a small context: %v", err)
	}
}
