package app

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestVersionMatchesFyneApp(t *testing.T) {
	data, err := os.ReadFile("../FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^Version\s*=\s*"([^"]+)"`).FindSubmatch(data)
	if m == nil || string(m[1]) != Version {
		t.Fatalf("FyneApp.toml's Version is %q, app.Version is %q", m, Version)
	}
	if line := VersionLine(); !strings.HasPrefix(line, "llamadesk "+Version+" (") {
		t.Errorf("VersionLine() = %q", line)
	}
}
