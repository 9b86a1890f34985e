// Command gen writes the MSL translation of every program the Metal backend
// runs (kernels.MSLPrograms, with and without subgroup reductions) into a
// folder, with a TOOLS file naming the translators, and removes .metal
// files no program has. It runs from `go generate ./gpu/kernels/msl`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/llamadesk/llamadesk/gpu/kernels"
)

func main() {
	dir := flag.String("dir", ".", "folder to write the .metal files into")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	t, err := kernels.NewTranslator()
	if err != nil {
		return err
	}
	defer t.Close()
	versions, err := t.Versions()
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, k := range kernels.MSLPrograms() {
		for _, sg := range subgroupChoices(k) {
			src, err := t.MSL(k, sg)
			if err != nil {
				return err
			}
			name := kernels.MSLFile(k, sg)
			keep[name] = true
			if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
				return err
			}
		}
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.metal"))
	if err != nil {
		return err
	}
	for _, path := range old {
		if !keep[filepath.Base(path)] {
			if err := os.Remove(path); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, "TOOLS"), []byte(strings.TrimSpace(versions)+"\n"), 0o644)
}

// subgroupChoices are the translations a program has: with and without
// subgroup operations for those that reduce, one for the others.
func subgroupChoices(k kernels.Spec) []bool {
	if k.Reduces {
		return []bool{false, true}
	}
	return []bool{false}
}
