// Package testenv locates the shared test data (tiny GGUF models, the Llama 2
// vocabulary, golden outputs) for tests. The folder is named by the
// LLAMADESK_TESTDATA environment variable and defaults to ../shared/testdata
// beside the repository. Where it is missing, tests skip with a clear
// message, except under CI=true, where they fail.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvVar names the environment variable that points at the test data folder.
const EnvVar = "LLAMADESK_TESTDATA"

// Dir returns the test data folder, skipping (or, under CI=true, failing) the
// test when it cannot be found.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := find()
	if err == nil {
		return dir
	}
	msg := "shared test data not found (" + err.Error() + "); set " + EnvVar + " to the folder holding models/, golden/, prompts/ and vocab/"
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

// Path returns a file inside the test data folder, e.g. Path(t, "models", "tiny-f16.gguf").
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{Dir(tb)}, elem...)...)
}

// Models lists the names (without .gguf) of the shared models.
func Models(tb testing.TB) []string {
	tb.Helper()
	matches, err := filepath.Glob(Path(tb, "models", "*.gguf"))
	if err != nil || len(matches) == 0 {
		tb.Fatalf("no models in %s", Path(tb, "models"))
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = filepath.Base(m[:len(m)-len(".gguf")])
	}
	return names
}

func find() (string, error) {
	dir := os.Getenv(EnvVar)
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "..", "shared", "testdata")
	}
	st, err := os.Stat(filepath.Join(dir, "models"))
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", &os.PathError{Op: "stat", Path: filepath.Join(dir, "models"), Err: os.ErrInvalid}
	}
	return filepath.Abs(dir)
}

// moduleRoot walks up from the working directory to the folder holding go.mod.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", os.ErrNotExist
		}
	}
}
