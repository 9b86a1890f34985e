//go:build !linux && !darwin

package cpu

// cacheBytes returns n zeroed bytes for a KV cache, from Go's heap on this
// system (see pages_unix.go for why Linux and macOS map them instead).
func cacheBytes[T any](owner *T, n int64) ([]byte, error) {
	return make([]byte, n), nil
}
