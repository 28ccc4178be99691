package main

import (
	"os/exec"
	"regexp"
	"testing"
)

// testLdflags stamps the gemscan that buildGemscan builds, as a release's
// linker flags do.
const testLdflags = "-s -w -X main.buildVersion=v9.8.7 -X main.buildCommit=0123456789abcdef0123456789abcdef01234567 -X main.buildDate=2026-11-30T12:00:00Z"

// TestVersionFromLdflags checks that `gemscan version` and `--version` of a
// binary built the way a release is (buildGemscan) print what the linker
// flags say.
func TestVersionFromLdflags(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := buildGemscan(t)
	want := regexp.MustCompile(`^gemscan v9\.8\.7 \(commit 0123456789ab, built 2026-11-30T12:00:00Z, go1\.[0-9.]+[^,]*, [a-z0-9]+/[a-z0-9]+\)\n$`)
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("gemscan %v: %v", args, err)
		}
		if !want.Match(out) {
			t.Errorf("gemscan %v printed %q", args, out)
		}
	}
}

func TestVersionString(t *testing.T) {
	for _, tc := range []struct {
		v    versionInfo
		want string
	}{
		{versionInfo{Version: "devel"}, `^gemscan devel \(go`},
		{versionInfo{Version: "devel", Commit: "0123456789abcdef0123456789abcdef01234567-dirty", Date: "2026-01-02T03:04:05Z"},
			`^gemscan devel \(commit 0123456789ab-dirty, built 2026-01-02T03:04:05Z, go`},
		{versionInfo{Version: "v1.2.3"}, `^gemscan v1\.2\.3 \(go`},
	} {
		if got := tc.v.String(); !regexp.MustCompile(tc.want).MatchString(got) {
			t.Errorf("%+v: %q, want match %s", tc.v, got, tc.want)
		}
	}
}
