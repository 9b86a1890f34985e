package cpu_test

import (
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/internal/goldentest"
)

// TestGolden checks every shared model against every shared prompt, with a
// float32 KV cache (as the references used) and with the f16 (default) and
// q8_0 caches.
func TestGolden(t *testing.T) {
	for _, kv := range []engine.KVType{engine.KVF32, engine.KVF16, engine.KVQ8_0} {
		for _, name := range goldentest.Models(t) {
			t.Run(kv.String()+"/"+name, func(t *testing.T) {
				goldentest.CheckKV(t, name, kv, func(tb testing.TB, f *gguf.File) *engine.State {
					b := cpu.New(0)
					tb.Cleanup(func() { b.Close() })
					m, err := engine.Load(f, engine.Placement{CPU: b})
					if err != nil {
						tb.Fatal(err)
					}
					st, err := m.NewStateWith(engine.StateOptions{Context: 1024, KVType: kv})
					if err != nil {
						tb.Fatal(err)
					}
					return st
				})
			})
		}
	}
}
