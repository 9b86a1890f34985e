package cpu_test

import (
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/cpu"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/internal/goldentest"
)

// TestGolden checks every shared model against every shared prompt.
func TestGolden(t *testing.T) {
	for _, name := range goldentest.Models(t) {
		t.Run(name, func(t *testing.T) {
			goldentest.Check(t, name, func(tb testing.TB, f *gguf.File) *engine.State {
				b := cpu.New(0)
				tb.Cleanup(func() { b.Close() })
				m, err := engine.Load(f, engine.Placement{CPU: b})
				if err != nil {
					tb.Fatal(err)
				}
				st, err := m.NewState(1024)
				if err != nil {
					tb.Fatal(err)
				}
				return st
			})
		})
	}
}
