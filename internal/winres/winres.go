//go:build windows

// Package winres carries the Windows executables' resources (the icon).
// `make windows` compiles them with windres into rsrc_windows_amd64.syso in
// this folder (ignored by git), which the go command links into any Windows
// program importing this package. The object lives here rather than beside
// main.go so that a Windows build running next to the Linux tests and vet
// (as .ci/run does) never adds or removes a file in a package those are
// reading: on Linux this package has no files to build and is skipped.
package winres
