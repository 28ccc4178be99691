package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// Release builds set these with -ldflags "-X main.buildVersion=v1.2.3
// -X main.buildCommit=… -X main.buildDate=…" (see .goreleaser.yaml). Other
// builds leave them empty and buildInfo reads what the Go toolchain
// recorded instead.
var (
	buildVersion string
	buildCommit  string
	buildDate    string
)

// versionInfo says which gemscan this is.
type versionInfo struct {
	// Version is the release (v1.2.3), the module version under
	// `go install …@v1.2.3`, or "devel" for a build from a checkout.
	Version string
	// Commit is the VCS revision, with "-dirty" when the checkout had
	// uncommitted changes; empty when unknown.
	Commit string
	// Date is the build (release) or commit time, RFC 3339; empty when
	// unknown.
	Date string
}

// buildInfo returns the version from the linker flags of a release build,
// else from the module and VCS information the toolchain embeds.
func buildInfo() versionInfo {
	v := versionInfo{Version: buildVersion, Commit: buildCommit, Date: buildDate}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if v.Version == "" {
			v.Version = "devel"
		}
		return v
	}
	if v.Version == "" {
		v.Version = bi.Main.Version
		if v.Version == "" || v.Version == "(devel)" {
			v.Version = "devel"
		}
	}
	if v.Commit == "" {
		var rev, modified, when string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			case "vcs.time":
				when = s.Value
			}
		}
		if rev != "" {
			v.Commit = rev
			if modified == "true" {
				v.Commit += "-dirty"
			}
			if v.Date == "" {
				v.Date = when
			}
		}
	}
	return v
}

// version is the short version string reports and the User-Agent carry.
func version() string { return buildInfo().Version }

// String is the one line `gemscan version` prints.
func (v versionInfo) String() string {
	var b strings.Builder
	b.WriteString("gemscan " + v.Version)
	var extra []string
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 && !strings.HasSuffix(c, "-dirty") {
			c = c[:12]
		} else if strings.HasSuffix(c, "-dirty") && len(c) > 12+len("-dirty") {
			c = c[:12] + "-dirty"
		}
		extra = append(extra, "commit "+c)
	}
	if v.Date != "" {
		extra = append(extra, "built "+v.Date)
	}
	extra = append(extra, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	return b.String()
}

func printVersion(w io.Writer) { fmt.Fprintln(w, buildInfo().String()) }

func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print gemscan's version, commit and build date",
		Description: `Prints the release version (or the module version under go install …@vX.Y.Z,
or "devel" for a build from a checkout), the commit it was built from ("-dirty"
when the checkout had changes), the build date, and the Go toolchain and
platform. Also: gemscan --version, gemscan -v.`,
		Action: func(c *cli.Context) error {
			printVersion(e.stdout)
			return nil
		},
	}
}
