package app

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is Llamadesk's version; FyneApp.toml's Version says the same (a
// test checks).
const Version = "0.1.0"

// VersionLine describes this build in one line: the version, the commit it
// was built from when the build recorded it, the Go version and the
// platform, such as "llamadesk 0.1.0 (commit 2eb48b8c1d0e; go1.26.8 linux/amd64)".
func VersionLine() string {
	build := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			build = "commit " + rev[:min(12, len(rev))]
			if modified == "true" {
				build += " with local changes"
			}
			build += "; "
		}
	}
	return fmt.Sprintf("llamadesk %s (%s%s %s/%s)", Version, build, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
