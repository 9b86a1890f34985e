package gguf

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// paddedFiles are headers whose metadata is mostly nothing: millions of
// empty strings or empty arrays (n elements each).
func paddedFiles(n int) map[string][]byte {
	strs := header(0, 1).str("tokenizer.ggml.tokens").u32(uint32(ValueArray)).u32(uint32(ValueString)).u64(uint64(n))
	for range n {
		strs.u64(0)
	}
	arrays := header(0, 1).str("padding").u32(uint32(ValueArray)).u32(uint32(ValueArray)).u64(uint64(n))
	for range n {
		arrays.u32(uint32(ValueUint32)).u64(0)
	}
	nested := header(0, 1).str("padding").u32(uint32(ValueArray)).u32(uint32(ValueArray)).u64(uint64(n / 2))
	for range n / 2 {
		nested.u32(uint32(ValueString)).u64(1).u64(0)
	}
	return map[string][]byte{"empty strings": strs.Bytes(), "empty arrays": arrays.Bytes(), "arrays of one empty string": nested.Bytes()}
}

// TestPaddedMetadataMemory checks that parsing costs memory in proportion
// to what the file holds: at most 3.5 bytes allocated per byte of a file
// padded with empty values (the Go values of an empty string or array are
// two to three times their encoding; it was 13 to 19 when every element
// built its own error context). maxDecoded bounds the total.
func TestPaddedMetadataMemory(t *testing.T) {
	for name, data := range paddedFiles(1 << 20) {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f, err := Parse(data)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		runtime.KeepAlive(f)
		alloc := after.TotalAlloc - before.TotalAlloc
		if ratio := float64(alloc) / float64(len(data)); ratio > 3.5 {
			t.Errorf("%s: parsing %d bytes allocated %d (%.1f× the file)", name, len(data), alloc, ratio)
		}
	}
}

// TestDecodedBudget checks that a header whose decoded form would exceed
// the budget is refused with a message, before the memory is taken.
func TestDecodedBudget(t *testing.T) {
	for name, data := range paddedFiles(1 << 16) {
		_, err := parse(data, 256<<10)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "of memory") {
			t.Errorf("%s: err = %v, want the memory bound", name, err)
		}
		if _, err := parse(data, maxDecoded); err != nil {
			t.Errorf("%s within the real budget: %v", name, err)
		}
	}
	// The budget covers what the counts announce, too: 2^20 tensors.
	b := header(1<<20, 0)
	b.Write(make([]byte, 32<<20))
	if _, err := parse(b.Bytes(), 64<<20); err == nil || !strings.Contains(err.Error(), "tensor count") {
		t.Errorf("a million announced tensors: %v", err)
	}
}
