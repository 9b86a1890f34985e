//go:build !windows

package main

// windowOnly reports whether this executable only opens the window (the
// GUI-subsystem Windows build); elsewhere one executable does both.
func windowOnly() bool { return false }

// showError shows an error where a console would not: only Windows' GUI
// executable needs it.
func showError(string) {}
