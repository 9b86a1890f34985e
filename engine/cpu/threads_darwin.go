package cpu

import "golang.org/x/sys/unix"

// physicalCores returns the performance cores of Apple silicon
// (hw.perflevel0.physicalcpu), else hw.physicalcpu; 0 if neither is known.
func physicalCores() int {
	for _, name := range []string{"hw.perflevel0.physicalcpu", "hw.physicalcpu"} {
		if n, err := unix.SysctlUint32(name); err == nil && n > 0 {
			return int(n)
		}
	}
	return 0
}
