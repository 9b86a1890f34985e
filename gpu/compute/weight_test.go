package compute

import (
	"slices"
	"testing"

	"github.com/llamadesk/llamadesk/engine/gguf"
	"github.com/llamadesk/llamadesk/gpu/kernels"
)

// fakeDevice is a Device that runs nothing: it hands out handles and
// records the buffers made, wrapped and deleted.
type fakeDevice struct {
	lim     Limits
	wrapOff int64 // the offset WrapBuffer reports
	next    uint32
	made    []uint32 // by NewBuffer
	wrapped []uint32 // by WrapBuffer
	deleted []uint32 // by Run's batches
}

func (d *fakeDevice) handle() uint32 { d.next++; return d.next }

func (d *fakeDevice) Limits() Limits                             { return d.lim }
func (d *fakeDevice) Program(kernels.Spec, bool) (uint32, error) { return d.handle(), nil }
func (d *fakeDevice) Interrupt(bool)                             {}
func (d *fakeDevice) Close() error                               { return nil }

func (d *fakeDevice) NewBuffer(int64, []byte) (uint32, error) {
	n := d.handle()
	d.made = append(d.made, n)
	return n, nil
}

func (d *fakeDevice) WrapBuffer([]byte) (uint32, int64, bool) {
	n := d.handle()
	d.wrapped = append(d.wrapped, n)
	return n, d.wrapOff, true
}

func (d *fakeDevice) Run(b *Batch) error {
	d.deleted = append(d.deleted, b.Delete...)
	return nil
}

// TestPlaceBindAlign checks that a weight is used in place only at an
// offset the device can bind, and is copied (its wrapper deleted) otherwise.
func TestPlaceBindAlign(t *testing.T) {
	for _, tc := range []struct {
		off     int64
		inPlace bool
	}{
		{off: 0, inPlace: true},
		{off: 512, inPlace: true},
		{off: 48, inPlace: false},  // a multiple of 16, not of 256
		{off: 260, inPlace: false}, // not even a multiple of 16
	} {
		dev := &fakeDevice{wrapOff: tc.off, lim: Limits{MaxBinding: 1 << 30, BindAlign: 256, ParamsAlign: 256, MaxGroups: 65535}}
		b, err := New(dev, "fake", "a fake device", Options{})
		if err != nil {
			t.Fatal(err)
		}
		const rows, cols = 4, 8
		data := make([]byte, rows*gguf.TypeF32.RowBytes(cols))
		ew, err := b.LoadWeight("w", gguf.TypeF32, rows, cols, data)
		if err != nil {
			t.Fatalf("offset %d: %v", tc.off, err)
		}
		w := asWeight(ew)
		if len(w.chunks) != 1 || len(dev.wrapped) != 1 {
			t.Fatalf("offset %d: %d chunks, %d buffers wrapped; want 1 and 1", tc.off, len(w.chunks), len(dev.wrapped))
		}
		main, wrapper := w.chunks[0].main, dev.wrapped[0]
		if tc.inPlace {
			if main.name != wrapper || main.off != tc.off || len(dev.made) != 0 {
				t.Errorf("offset %d: bound %+v with %d buffers made; want buffer %d at %d in place", tc.off, main, len(dev.made), wrapper, tc.off)
			}
		} else if main.name == wrapper || !slices.Contains(dev.made, main.name) || main.off != 0 {
			t.Errorf("offset %d: bound %+v (wrapper %d, made %v); want a copy at 0", tc.off, main, wrapper, dev.made)
		}
		if got, want := b.MemoryUsed(), int64(len(data)); got != want {
			t.Errorf("offset %d: %d bytes in use, want %d", tc.off, got, want)
		}
		b.flush(nil)
		if deleted := slices.Contains(dev.deleted, wrapper); deleted == tc.inPlace {
			t.Errorf("offset %d: wrapper deleted %v, want %v", tc.off, deleted, !tc.inPlace)
		}
		b.Close()
	}
}
