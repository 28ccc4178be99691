package inflate

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"
)

// benchStreams are 2,000 zlib streams shaped like a pack's: commit-like
// texts of a few hundred bytes and tree-like records of a few kilobytes,
// each with its content.
func benchStreams(b *testing.B) (srcs, contents [][]byte, total int64) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 2000; i++ {
		var c bytes.Buffer
		if i%2 == 0 {
			fmt.Fprintf(&c, "tree %040x\nparent %040x\nauthor A U Thor <author@example.invalid> %d +0000\n"+
				"committer C O Mitter <committer@example.invalid> %d +0000\n\nSubject line %d\n\nA body of text that explains the change %d.\n",
				r.Uint64(), r.Uint64(), 1700000000+i, 1700000000+i, i, r.Uint32())
		} else {
			for j := 0; j < 100+i%50; j++ {
				fmt.Fprintf(&c, "100644 file-%d-%d.c\x00%020x", j, i%7, r.Uint64())
			}
		}
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(c.Bytes())
		w.Close()
		srcs = append(srcs, z.Bytes())
		contents = append(contents, c.Bytes())
		total += int64(c.Len())
	}
	return srcs, contents, total
}

// BenchmarkZlibSmall inflates the streams with a Decoder.
func BenchmarkZlibSmall(b *testing.B) {
	srcs, contents, total := benchStreams(b)
	var d Decoder
	dst := make([]byte, 1<<20)
	b.SetBytes(total)
	for b.Loop() {
		for i, src := range srcs {
			if _, err := d.Zlib(dst[:len(contents[i])], src); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkZlibSmallStd inflates the same streams with compress/zlib, its
// reader reset for each, for comparison.
func BenchmarkZlibSmallStd(b *testing.B) {
	srcs, contents, total := benchStreams(b)
	dst := make([]byte, 1<<20)
	var br bytes.Reader
	br.Reset(srcs[0])
	zr, err := zlib.NewReader(&br)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	for b.Loop() {
		for i, src := range srcs {
			br.Reset(src)
			zr.(zlib.Resetter).Reset(&br, nil)
			if _, err := io.ReadFull(zr, dst[:len(contents[i])]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkZlibCorpus inflates the streams of a corpus file named by
// GEMSCAN_INFLATE_CORPUS: records of a little-endian uint32 compressed
// size, a uint32 inflated size and the zlib stream (say, every seventh
// object of git.git's pack). Skipped without one.
func BenchmarkZlibCorpus(b *testing.B) {
	path := os.Getenv("GEMSCAN_INFLATE_CORPUS")
	if path == "" {
		b.Skip("set GEMSCAN_INFLATE_CORPUS to a corpus file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	type rec struct {
		src  []byte
		size int
	}
	var recs []rec
	var total int64
	for len(data) >= 8 {
		n, size := binary.LittleEndian.Uint32(data), binary.LittleEndian.Uint32(data[4:])
		recs = append(recs, rec{data[8 : 8+n], int(size)})
		total += int64(size)
		data = data[8+n:]
	}
	var d Decoder
	dst := make([]byte, 64<<20)
	b.SetBytes(total)
	for b.Loop() {
		for _, r := range recs {
			if _, err := d.Zlib(dst[:r.size], r.src); err != nil {
				b.Fatal(err)
			}
		}
	}
}
