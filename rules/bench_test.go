package rules_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

// goSource returns about n bytes of the Go toolchain's own sources: real
// code text with no Gemini keywords in most of it.
func goSource(b *testing.B, n int) []byte {
	var buf bytes.Buffer
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skip("no go command to find GOROOT")
	}
	root := filepath.Join(strings.TrimSpace(string(goroot)), "src")
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || buf.Len() >= n {
			return filepath.SkipAll
		}
		if !d.IsDir() && filepath.Ext(p) == ".go" {
			if data, err := os.ReadFile(p); err == nil {
				buf.Write(data)
			}
		}
		return nil
	})
	if buf.Len() == 0 {
		b.Skip("no Go sources under GOROOT")
	}
	return buf.Bytes()
}

func benchDetect(b *testing.B, data []byte) {
	det := rules.NewDetector()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		det.Detect(data)
	}
}

// BenchmarkDetectCode is ordinary source text with few keyword hits.
func BenchmarkDetectCode(b *testing.B) { benchDetect(b, goSource(b, 16<<20)) }

// BenchmarkDetectKeywordDense is source text with a credential pair every
// 4 KiB.
func BenchmarkDetectKeywordDense(b *testing.B) {
	src := goSource(b, 16<<20)
	k := testkeys.New(1).Set()
	pair := []byte("\nGEMINI_API_KEY=" + k.ExchangeKey + "\nGEMINI_API_SECRET=" + k.Secret + "\nkey=" + k.AQKey + "\n")
	var buf bytes.Buffer
	for len(src) > 4096 {
		buf.Write(src[:4096])
		buf.Write(pair)
		src = src[4096:]
	}
	benchDetect(b, buf.Bytes())
}

// BenchmarkDetectHostile runs the inputs shaped to defeat the matcher.
func BenchmarkDetectHostile(b *testing.B) {
	for name, data := range hostileInputs() {
		b.Run(name, func(b *testing.B) { benchDetect(b, data) })
	}
}

// BenchmarkBytesIndexFloor is the yardstick: one bytes.Index pass per plain
// keyword over the same text.
func BenchmarkBytesIndexFloor(b *testing.B) {
	data := goSource(b, 16<<20)
	kws := rules.Keywords()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, kw := range kws {
			k := []byte(kw)
			for d := data; ; {
				j := bytes.Index(d, k)
				if j < 0 {
					break
				}
				d = d[j+1:]
			}
		}
	}
}
