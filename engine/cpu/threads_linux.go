package cpu

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// physicalCores counts the distinct (package, core) pairs of the online
// CPUs in sysfs, or else in /proc/cpuinfo; 0 when neither can be read.
func physicalCores() int {
	if n := sysfsCores("/sys/devices/system/cpu"); n > 0 {
		return n
	}
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	return cpuinfoCores(bufio.NewScanner(f))
}

// sysfsCores reads cpuN/topology/{physical_package_id,core_id} under root.
func sysfsCores(root string) int {
	dirs, err := filepath.Glob(filepath.Join(root, "cpu[0-9]*"))
	if err != nil {
		return 0
	}
	cores := map[[2]string]bool{}
	for _, d := range dirs {
		if online, err := os.ReadFile(filepath.Join(d, "online")); err == nil && strings.TrimSpace(string(online)) == "0" {
			continue
		}
		pkg, err1 := os.ReadFile(filepath.Join(d, "topology", "physical_package_id"))
		core, err2 := os.ReadFile(filepath.Join(d, "topology", "core_id"))
		if err1 != nil || err2 != nil {
			continue
		}
		cores[[2]string{strings.TrimSpace(string(pkg)), strings.TrimSpace(string(core))}] = true
	}
	return len(cores)
}

// cpuinfoCores counts distinct "physical id"/"core id" pairs of a
// /proc/cpuinfo listing (0 if it has none).
func cpuinfoCores(sc *bufio.Scanner) int {
	cores := map[[2]int]bool{}
	phys, core := -1, -1
	flush := func() {
		if phys >= 0 && core >= 0 {
			cores[[2]int{phys, core}] = true
		}
		phys, core = -1, -1
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil {
			continue
		}
		switch strings.TrimSpace(key) {
		case "physical id":
			phys = n
		case "core id":
			core = n
		}
	}
	flush()
	return len(cores)
}
