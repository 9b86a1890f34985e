//go:build linux && cgo

package gl_test

// must returns v, panicking on err: for allocations in tests, which fail
// only when the machine is out of memory.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// mustOK panics on err: for reads in tests, which fail only on a broken
// backend.
func mustOK(err error) {
	if err != nil {
		panic(err)
	}
}
