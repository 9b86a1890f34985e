package cpu

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCpuinfoCores(t *testing.T) {
	tests := []struct {
		name, text string
		want       int
	}{
		{"two cores, SMT", "processor: 0\nphysical id: 0\ncore id: 0\n\nprocessor: 1\nphysical id: 0\ncore id: 1\n\nprocessor: 2\nphysical id: 0\ncore id: 0\n\nprocessor: 3\nphysical id: 0\ncore id: 1\n", 2},
		{"two sockets", "physical id : 0\ncore id : 0\n\nphysical id : 1\ncore id : 0\n", 2},
		{"no topology (arm)", "processor: 0\nBogoMIPS: 50\n\nprocessor: 1\n", 0},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cpuinfoCores(bufio.NewScanner(strings.NewReader(tt.text))); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSysfsCores(t *testing.T) {
	root := t.TempDir()
	add := func(cpu, pkg, core, online string) {
		d := filepath.Join(root, cpu, "topology")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "physical_package_id"), []byte(pkg+"\n"), 0o644)
		os.WriteFile(filepath.Join(d, "core_id"), []byte(core+"\n"), 0o644)
		if online != "" {
			os.WriteFile(filepath.Join(root, cpu, "online"), []byte(online+"\n"), 0o644)
		}
	}
	add("cpu0", "0", "0", "")
	add("cpu1", "0", "1", "1")
	add("cpu2", "0", "0", "1") // SMT sibling of cpu0
	add("cpu3", "0", "2", "0") // offline
	if got := sysfsCores(root); got != 2 {
		t.Errorf("got %d cores, want 2", got)
	}
	if got := sysfsCores(filepath.Join(root, "missing")); got != 0 {
		t.Errorf("missing folder: got %d, want 0", got)
	}
}
