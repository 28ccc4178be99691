package scanner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goSrc returns the Go toolchain's src/ tree (about 11,500 files, some
// ninety testdata archives): a large real tree to time `gemscan dir` on, as
// bench/dir.sh does against ripgrep.
func goSrc(b *testing.B) string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skip("no go command to find GOROOT")
	}
	root := filepath.Join(strings.TrimSpace(string(out)), "src")
	if _, err := os.Stat(root); err != nil {
		b.Skip("no GOROOT/src")
	}
	return root
}

// BenchmarkDirGoSrc scans the Go toolchain's src/ tree with archives off
// (the work ripgrep does: read every file, look for the keywords) and with
// the default depth (archives opened). Their errors are those of Go's own
// deliberately broken test archives.
func BenchmarkDirGoSrc(b *testing.B) {
	root := goSrc(b)
	for _, bc := range []struct {
		name  string
		depth int
	}{{"archives-off", -1}, {"archives-on", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			opts := Options{MaxArchiveDepth: bc.depth}
			opts.detector()
			for b.Loop() {
				res := ScanPaths(context.Background(), []string{root}, opts)
				if res.Stats.Files == 0 || len(res.Findings) > 0 {
					b.Fatalf("%+v, %d findings", res.Stats, len(res.Findings))
				}
				b.SetBytes(res.Stats.Bytes)
			}
		})
	}
}
