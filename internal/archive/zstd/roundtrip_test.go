package zstd

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	kzstd "github.com/klauspost/compress/zstd"
)

// inputs are the contents the round trips compress, made once.
var inputs = sync.OnceValue(func() []struct {
	name string
	data []byte
} {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	var src bytes.Buffer
	for i := 0; src.Len() < 3<<20; i++ {
		fmt.Fprintf(&src, "func handler%d(w http.ResponseWriter, r *http.Request) {\n\tif err := r.ParseForm(); err != nil {\n\t\treturn fmt.Errorf(\"parse %%d: %%w\", %d, err)\n\t}\n\tkey := os.Getenv(\"KEY_%d\")\n", i, rng.IntN(1000), rng.IntN(50))
		for j := rng.IntN(4); j > 0; j-- {
			fmt.Fprintf(&src, "\t// %x\n", rng.Uint64())
		}
		src.WriteString("}\n\n")
	}
	mixed := bytes.Repeat([]byte("aaaa"), 70<<10)
	mixed = append(mixed, random[:5000]...)
	mixed = append(mixed, bytes.Repeat([]byte{0}, 200<<10)...)
	mixed = append(mixed, src.Bytes()[:100<<10]...)
	return []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"tiny", []byte("a")},
		{"text", []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 40) + "done\n")},
		{"random", random},
		{"runs", bytes.Repeat([]byte{'x'}, 1<<20)},
		{"source", src.Bytes()},
		{"mixed", mixed},
	}
})

// check decodes compressed and compares it with want.
func check(t *testing.T, compressed, want []byte, maxWindow int64) {
	t.Helper()
	got, err := decode(compressed, maxWindow)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("decoded %d bytes differ from the %d compressed", len(got), len(want))
	}
}

// TestKlauspost round-trips through klauspost's encoder at every level and
// with its frame options.
func TestKlauspost(t *testing.T) {
	type opts struct {
		name string
		o    []kzstd.EOption
	}
	var all []opts
	for _, l := range []kzstd.EncoderLevel{kzstd.SpeedFastest, kzstd.SpeedDefault, kzstd.SpeedBetterCompression, kzstd.SpeedBestCompression} {
		all = append(all, opts{l.String(), []kzstd.EOption{kzstd.WithEncoderLevel(l)}})
	}
	all = append(all,
		opts{"no-checksum", []kzstd.EOption{kzstd.WithEncoderCRC(false)}},
		opts{"no-size", []kzstd.EOption{kzstd.WithEncoderCRC(true), kzstd.WithSingleSegment(false)}},
		opts{"window-1k", []kzstd.EOption{kzstd.WithWindowSize(1 << 10)}},
		opts{"window-4k-best", []kzstd.EOption{kzstd.WithWindowSize(4 << 10), kzstd.WithEncoderLevel(kzstd.SpeedBestCompression)}},
		opts{"window-64k-better", []kzstd.EOption{kzstd.WithWindowSize(64 << 10), kzstd.WithEncoderLevel(kzstd.SpeedBetterCompression)}},
		opts{"no-entropy", []kzstd.EOption{kzstd.WithNoEntropyCompression(true)}},
		opts{"all-lits", []kzstd.EOption{kzstd.WithAllLitEntropyCompression(true)}},
	)
	for _, o := range all {
		enc, err := kzstd.NewWriter(nil, o.o...)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range inputs() {
			if in.name == "source" && o.name != kzstd.SpeedDefault.String() {
				in.data = in.data[:512<<10] // the whole only once: it is slow to make
			}
			t.Run(o.name+"/"+in.name, func(t *testing.T) {
				check(t, enc.EncodeAll(in.data, nil), in.data, 8<<20)
			})
		}
		enc.Close()
	}
}

// TestKlauspostStream: the streaming encoder, with concurrent block
// encoders, writes multi-block frames without a content size.
func TestKlauspostStream(t *testing.T) {
	for _, in := range inputs() {
		for _, conc := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/%d", in.name, conc), func(t *testing.T) {
				var buf bytes.Buffer
				enc, err := kzstd.NewWriter(&buf, kzstd.WithEncoderConcurrency(conc), kzstd.WithWindowSize(256<<10))
				if err != nil {
					t.Fatal(err)
				}
				// Uneven writes make uneven blocks.
				for p := in.data; len(p) > 0; {
					n := min(len(p), 1+len(p)/3)
					if _, err := enc.Write(p[:n]); err != nil {
						t.Fatal(err)
					}
					p = p[n:]
				}
				if err := enc.Close(); err != nil {
					t.Fatal(err)
				}
				check(t, buf.Bytes(), in.data, 8<<20)
			})
		}
	}
}

// TestCLI round-trips through the reference implementation's zstd command,
// when it is installed.
func TestCLI(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("no zstd command")
	}
	dir := t.TempDir()
	zstd := func(t *testing.T, in []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.Command("zstd", append([]string{"-q", "-c"}, args...)...)
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("zstd %v: %v: %s", args, err, stderr.Bytes())
		}
		return out
	}
	for _, args := range [][]string{
		// The slow levels get a size hint: with no size, -22 sets up
		// tables for a 128 MiB window, which takes seconds. --long=24
		// covers large windows.
		{"-1"}, {"-3"}, {"-9"}, {"--size-hint=65536", "-19"}, {"--size-hint=65536", "--ultra", "-22"}, {"--long=24", "-3"},
		{"-B1024", "--no-check", "-3"}, {"--size-hint=65536", "-B2048", "--no-check", "-19"},
	} {
		slow := args[len(args)-1] == "-19" || args[len(args)-1] == "-22"
		for _, in := range inputs() {
			if in.name == "random" && args[len(args)-1] != "-3" {
				continue // raw blocks whatever the level
			}
			if in.name == "source" && args[0] != "-3" {
				in.data = in.data[:512<<10] // the whole only once
			}
			if slow {
				// Keep the slow levels quick: a part of the source.
				if in.name != "source" {
					continue
				}
				in.data = in.data[:64<<10]
			}
			t.Run(strings.Join(args, "")+"/"+in.name, func(t *testing.T) {
				check(t, zstd(t, in.data, args...), in.data, 1<<27)
			})
		}
	}
	// A file compressed from disk has its size; from a pipe, not.
	src := inputs()[5].data[:200<<10]
	p := filepath.Join(dir, "src")
	if err := os.WriteFile(p, src, 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := zstd(t, nil, "-3", p)
	check(t, fromFile, src, 1<<20)
	// Frames concatenated, with skippable frames between them.
	skip := []byte{0x5F, 0x2A, 0x4D, 0x18, 5, 0, 0, 0, 1, 2, 3, 4, 5}
	var cat, want []byte
	for i, in := range inputs() {
		cat = append(cat, skip...)
		cat = append(cat, zstd(t, in.data[:min(len(in.data), 100<<10)], fmt.Sprintf("-%d", 1+i*3))...)
		want = append(want, in.data[:min(len(in.data), 100<<10)]...)
	}
	cat = append(cat, fromFile...)
	want = append(want, src...)
	check(t, cat, want, 8<<20)
}
