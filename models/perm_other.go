//go:build !unix

package models

// keepPrivate does nothing where files have no Unix permission bits; the
// data folder lives in the user's own profile.
func keepPrivate(string) error { return nil }
