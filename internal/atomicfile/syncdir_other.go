//go:build !unix

package atomicfile

// SyncDir is a no-op where folders cannot be synced (Windows: MoveFileEx is
// durable enough).
func SyncDir(string) error { return nil }
