package cpu

import "runtime"

// DefaultThreads is the default worker count: the number of physical cores
// (performance cores on Apple silicon), at most GOMAXPROCS. Where the core
// count cannot be read it is GOMAXPROCS.
func DefaultThreads() int {
	procs := runtime.GOMAXPROCS(0)
	if n := physicalCores(); n > 0 && n < procs {
		return n
	}
	return procs
}
