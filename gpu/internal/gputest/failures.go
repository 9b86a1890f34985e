package gputest

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/llamadesk/llamadesk/engine"
	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/engine/quant"
	"github.com/llamadesk/llamadesk/gpu/compute"
)

// The checks of what goes wrong: bad arguments, memory that runs out, and
// interrupted work.

// BadInput checks that impossible weights are refused with an error.
func (s Suite) BadInput(t *testing.T) {
	g := s.open(t, compute.Options{})
	cases := []struct {
		typ        gguf.TensorType
		rows, cols int
		bytes      int
	}{
		{gguf.TypeQ4_0, 2, 48, 2 * 27},   // not whole blocks
		{gguf.TypeQ4_0, 2, 64, 10},       // wrong data size
		{gguf.TypeF16, 2, 36, 144},       // row not a multiple of 8
		{gguf.TypeQ8_1, 1, 32, 36},       // unsupported type
		{gguf.TensorType(99), 1, 32, 32}, // unknown type
		{gguf.TypeQ4_K, 0, 256, 0},       // no rows
	}
	for _, c := range cases {
		if _, err := g.LoadWeight("bad", c.typ, c.rows, c.cols, make([]byte, c.bytes)); err == nil {
			t.Errorf("%s %d×%d with %d bytes: no error", c.typ, c.rows, c.cols, c.bytes)
		}
	}
	if _, err := g.AllocKV(1<<20, 1<<10, engine.KVF32); err == nil {
		t.Errorf("a 4 GiB KV cache was accepted")
	}
	for _, c := range []struct {
		capacity, kvDim int
		typ             engine.KVType
		unsupported     bool
	}{
		{64, 48, engine.KVQ8_0, true}, // not whole Q8_0 blocks
		{64, 64, engine.KVType(9), true},
		{0, 64, engine.KVF16, false},
		{64, 6, engine.KVF32, false},
		{1 << 30, 1 << 10, engine.KVF16, false}, // positions × width overflow 32 bits
	} {
		_, err := g.AllocKV(c.capacity, c.kvDim, c.typ)
		if err == nil || errors.Is(err, engine.ErrUnsupportedKV) != c.unsupported {
			t.Errorf("AllocKV(%d, %d, %s) = %v (unsupported: want %v)", c.capacity, c.kvDim, c.typ, err, c.unsupported)
		}
	}
}

// OutOfMemory checks that allocations beyond the GPU's memory (here a
// MemoryLimit) fail with ErrOutOfMemory, and that work which needs memory
// while it is recorded (the rounded copy of a product's activations)
// reports the failure through Read instead of panicking, after which the
// backend still works.
func (s Suite) OutOfMemory(t *testing.T) {
	g := s.open(t, compute.Options{MemoryLimit: 1 << 20})
	const rows, cols = 64, 1024
	typ := gguf.TypeQ8_0
	data := make([]byte, rows*typ.RowBytes(cols))
	quant.RandomBlocks(typ, data, rand.New(rand.NewPCG(1, 1)))
	w, err := g.LoadWeight("w", typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Alloc(1 << 20); !errors.Is(err, compute.ErrOutOfMemory) {
		t.Fatalf("Alloc beyond the limit: %v", err)
	}
	if _, err := g.LoadWeight("big", typ, 16*rows, cols, make([]byte, 16*len(data))); !errors.Is(err, compute.ErrOutOfMemory) {
		t.Fatalf("LoadWeight beyond the limit: %v", err)
	}
	if _, err := g.AllocKV(1024, 1024, engine.KVF16); !errors.Is(err, compute.ErrOutOfMemory) {
		t.Fatalf("AllocKV beyond the limit: %v", err)
	}
	// 150 tokens of activations fit, their rounded copy does not.
	n := 150
	x := Must(g.Alloc(n * cols))
	y := Must(g.Alloc(n * rows))
	g.MatMul(y, w, x, n)
	out := make([]float32, 1)
	if err := g.Read(out, y); !errors.Is(err, compute.ErrOutOfMemory) {
		t.Fatalf("Read after a product that could not round its activations: %v", err)
	}
	// The failure is reported once; one token's work fits and runs.
	xs := RandomFloats(rand.New(rand.NewPCG(2, 2)), cols, 1)
	g.Write(x, xs)
	g.MatMul(y, w, x, 1)
	if err := g.Read(out, y); err != nil {
		t.Fatalf("Read after the failure was reported: %v", err)
	}
	if out[0] == 0 {
		t.Errorf("the product after the failure gave 0")
	}
}

// Interrupt checks engine.Interruptible: after Interrupt, recorded work may
// be skipped (uploads too) and Read still succeeds; after ResetInterrupt the
// work runs in full again.
func (s Suite) Interrupt(t *testing.T) {
	g := s.open(t, compute.Options{})
	ib, ok := g.(engine.Interruptible)
	if !ok {
		t.Fatal("the backend is not engine.Interruptible")
	}
	c := newCPU(t)
	const rows, cols = 64, 512
	typ := gguf.TypeQ4_K
	rng := rand.New(rand.NewPCG(3, 3))
	data := make([]byte, rows*typ.RowBytes(cols))
	quant.RandomBlocks(typ, data, rng)
	gw := Must(g.LoadWeight("w", typ, rows, cols, data))
	cw := Must(c.LoadWeight("w", typ, rows, cols, data))
	x1, x2 := RandomFloats(rng, 4*cols, 1), RandomFloats(rng, 4*cols, 1)
	x, y := Must(g.Alloc(4*cols)), Must(g.Alloc(4*rows))
	product := func() []float32 {
		g.MatMul(y, gw, x, 4)
		out := make([]float32, 4*rows)
		if err := g.Read(out, y); err != nil {
			t.Fatal(err)
		}
		return out
	}
	g.Write(x, x1)
	product()
	ib.Interrupt()
	g.Write(x, x2)
	product() // may be skipped: the result is undefined, but no error
	ib.ResetInterrupt()
	g.Write(x, x2) // as the engine writes its input again
	got := product()
	cy := Must(c.Alloc(4 * rows))
	c.MatMul(cy, cw, Upload(c, x2), 4)
	closeTo(t, "product after an interrupt", got, download(c, cy, 4*rows), 1e-4, 1e-4)
}
