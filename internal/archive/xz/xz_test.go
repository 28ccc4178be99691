package xz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ulikunitz/xz"
)

// testMaxDict is large enough for every preset (xz -9 asks for 64 MiB).
const testMaxDict = 64 << 20

// sample returns n bytes mixing text-like words, random bytes and long
// runs, deterministic in seed.
func sample(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("the quick brown fox jumps over lazy dog func return error nil if for range package import " +
		"key secret token config value := == != { } ( ) [ ] 0 1 42 1024 \"string\" // comment")
	var b bytes.Buffer
	for b.Len() < n {
		switch rng.IntN(10) {
		case 0: // random bytes
			for range rng.IntN(300) {
				b.WriteByte(byte(rng.Uint32()))
			}
		case 1: // a long run, or a repeated short pattern
			c := byte(rng.Uint32())
			pat := []byte{c, c + 1, c + 2}[:1+rng.IntN(3)]
			b.Write(bytes.Repeat(pat, rng.IntN(2000)))
		default:
			for range rng.IntN(40) {
				b.WriteString(words[rng.IntN(len(words))])
				if rng.IntN(8) == 0 {
					b.WriteByte('\n')
				} else {
					b.WriteByte(' ')
				}
			}
		}
	}
	return b.Bytes()[:n]
}

// xzCLI compresses data with the xz command, skipping the test without it.
func xzCLI(tb testing.TB, data []byte, args ...string) []byte {
	tb.Helper()
	path, err := exec.LookPath("xz")
	if err != nil {
		tb.Skip("no xz command")
	}
	cmd := exec.Command(path, append([]string{"-c", "-q", "-T1"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("xz %v: %v: %s", args, err, stderr.Bytes())
	}
	return out
}

// ulikunitzXz compresses data with ulikunitz/xz's writer.
func ulikunitzXz(tb testing.TB, data []byte, cfg xz.WriterConfig) []byte {
	tb.Helper()
	return compressWith(tb, data, func(w io.Writer) (io.WriteCloser, error) { return cfg.NewWriter(w) })
}

// compressWith compresses data with the writer newWriter makes.
func compressWith(tb testing.TB, data []byte, newWriter func(io.Writer) (io.WriteCloser, error)) []byte {
	tb.Helper()
	var b bytes.Buffer
	w, err := newWriter(&b)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// decode decodes an .xz file whole.
func decode(data []byte, maxDict int64) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(data), maxDict)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// ulikunitzDecode decodes an .xz file with ulikunitz/xz, the oracle.
func ulikunitzDecode(data []byte) ([]byte, error) {
	r, err := xz.ReaderConfig{DictCap: 4096}.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func mustDecode(t *testing.T, xzData, want []byte) {
	t.Helper()
	got, err := decode(xzData, testMaxDict)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("decoded %d bytes differing from the %d original", len(got), len(want))
	}
}

func TestRoundTripCLI(t *testing.T) {
	text := sample(60_000, 1)
	random := make([]byte, 40_000)
	rand.NewChaCha8([32]byte{2}).Read(random)
	repetitive := bytes.Repeat([]byte("abcdefgh"), 50_000) // 400 KB: long matches
	cases := []struct {
		name string
		data []byte
		args []string
	}{
		{"empty", nil, []string{"-6"}},
		{"random", random, []string{"-6"}},
		{"repetitive", repetitive, []string{"-6"}},
		{"extreme", text, []string{"-6e"}},
		{"check-none", text, []string{"--check=none"}},
		{"check-crc32", text, []string{"--check=crc32"}},
		{"check-crc64", text, []string{"--check=crc64"}},
		{"check-sha256", text, []string{"--check=sha256"}},
		{"blocks", text, []string{"--block-size=5000"}},
		{"blocks-tiny", text[:400], []string{"-0", "--block-size=1"}},
		{"threaded-sizes-in-headers", text, []string{"-T2", "--block-size=20000"}},
		{"lc0-lp0-pb0", text, []string{"--lzma2=lc=0,lp=0,pb=0"}},
		{"lc4-lp0-pb4", text, []string{"--lzma2=lc=4,lp=0,pb=4"}},
		{"lc0-lp4-pb2", text, []string{"--lzma2=lc=0,lp=4,pb=2"}},
		{"lc1-lp3-pb1", text, []string{"--lzma2=lc=1,lp=3,pb=1"}},
		{"dict-4k", text, []string{"--lzma2=dict=4KiB"}},
		{"dict-4k-repetitive", repetitive, []string{"--lzma2=dict=4KiB"}},
		{"dict-4k-random", random, []string{"--lzma2=dict=4KiB"}}, // stored chunks larger than the dictionary
		{"dict-6k", text, []string{"--lzma2=dict=6KiB,mode=fast"}},
	}
	for p := range 10 {
		cases = append(cases, struct {
			name string
			data []byte
			args []string
		}{fmt.Sprintf("preset-%d", p), text, []string{fmt.Sprintf("-%d", p)}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mustDecode(t, xzCLI(t, c.data, c.args...), c.data)
		})
	}
}

func TestMultiStream(t *testing.T) {
	a, b := sample(20_000, 3), sample(30_000, 4)
	xa, xb := xzCLI(t, a, "--check=crc32"), xzCLI(t, b, "--check=sha256")
	xe := xzCLI(t, nil)
	pad := make([]byte, 8)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	want := cat(a, b)
	t.Run("concatenated", func(t *testing.T) { mustDecode(t, cat(xa, xb), want) })
	t.Run("padding", func(t *testing.T) { mustDecode(t, cat(xa, pad, xe, pad[:4], xb, pad), want) })
	t.Run("empty-streams", func(t *testing.T) { mustDecode(t, cat(xe, xe), nil) })
	for _, bad := range []struct {
		name string
		data []byte
	}{
		{"padding-not-four", cat(xa, pad[:3], xb)},
		{"trailing-padding-not-four", cat(xa, pad[:6])},
		{"trailing-garbage", cat(xa, []byte("junk"))},
		{"padding-first", cat(pad[:4], xa)},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if _, err := decode(bad.data, testMaxDict); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestRoundTripUlikunitz(t *testing.T) {
	data := sample(50_000, 5)
	checks := []byte{xz.None, xz.CRC32, xz.CRC64, xz.SHA256}
	for i, dict := range []int{4096, 1 << 16, 1 << 20, 8 << 20} {
		check := checks[i]
		t.Run(fmt.Sprintf("dict-%d-check-%d", dict, check), func(t *testing.T) {
			mustDecode(t, ulikunitzXz(t, data, xz.WriterConfig{DictCap: dict, CheckSum: check, BlockSize: 20_000}), data)
		})
	}
}

// TestPartialReads reads through tiny input and output buffers.
func TestPartialReads(t *testing.T) {
	data := sample(60_000, 6)
	enc := ulikunitzXz(t, data, xz.WriterConfig{DictCap: 4096, BlockSize: 10_000, CheckSum: xz.CRC64})
	r, err := NewReader(iotest.HalfReader(bytes.NewReader(enc)), testMaxDict)
	if err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(r, data); err != nil {
		t.Fatal(err)
	}
	r, err = NewReader(iotest.OneByteReader(bytes.NewReader(enc)), testMaxDict)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(iotest.OneByteReader(r))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("one byte at a time: %d bytes, %v", len(got), err)
	}
}

func TestUnsupportedFilters(t *testing.T) {
	data := sample(10_000, 7)
	for _, c := range []struct{ arg, name string }{
		{"--x86", "x86 BCJ"}, {"--arm", "ARM BCJ"}, {"--arm64", "ARM64 BCJ"}, {"--delta=dist=4", "delta"},
		{"--sparc", "SPARC BCJ"}, {"--powerpc", "PowerPC BCJ"}, {"--ia64", "IA-64 BCJ"}, {"--armthumb", "ARM-Thumb BCJ"},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc := xzCLI(t, data, c.arg, "--lzma2")
			_, err := decode(enc, testMaxDict)
			if err == nil || !strings.Contains(err.Error(), "unsupported filter "+c.name) {
				t.Fatalf("got %v, want an error naming %s", err, c.name)
			}
		})
	}
}

// xzFile builds an .xz file from raw parts, computing its CRCs: a stream
// with check ID check and one block whose header holds filters and
// extra (after the flags), holding lzma2 data and the check bytes sum.
func xzFile(check byte, blockFlags byte, blockBody []byte, lzma2 []byte, sum []byte, unc uint64) []byte {
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	var f bytes.Buffer
	flags := []byte{0, check}
	f.WriteString(headerMagic)
	f.Write(flags)
	f.Write(le32(crc32.ChecksumIEEE(flags)))
	hdr := append([]byte{0, blockFlags}, blockBody...)
	for len(hdr)%4 != 0 {
		hdr = append(hdr, 0)
	}
	hdr[0] = byte(len(hdr) / 4) // the size with the CRC32, in words, less one
	hdr = append(hdr, le32(crc32.ChecksumIEEE(hdr))...)
	f.Write(hdr)
	f.Write(lzma2)
	for range -len(lzma2) & 3 {
		f.WriteByte(0)
	}
	f.Write(sum)
	idx := []byte{0, 1}
	idx = binary.AppendUvarint(idx, uint64(len(hdr)+len(lzma2)+len(sum)))
	idx = binary.AppendUvarint(idx, unc)
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = append(idx, le32(crc32.ChecksumIEEE(idx))...)
	f.Write(idx)
	foot := append(le32(uint32(len(idx)/4-1)), flags...)
	f.Write(le32(crc32.ChecksumIEEE(foot)))
	f.Write(foot)
	f.WriteString(footerMagic)
	return f.Bytes()
}

// storedLZMA2 is LZMA2 data holding p in one stored chunk.
func storedLZMA2(p []byte) []byte {
	return append(append([]byte{1, byte((len(p) - 1) >> 8), byte(len(p) - 1)}, p...), 0)
}

func TestCraftedFiles(t *testing.T) {
	hello := []byte("hello")
	crc := binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(hello))
	lz := storedLZMA2(hello)
	good := xzFile(checkCRC32, 0, []byte{0x21, 1, 0}, lz, crc, 5)
	mustDecode(t, good, hello)
	if got, err := ulikunitzDecode(good); err != nil || !bytes.Equal(got, hello) {
		t.Fatalf("the oracle reads the crafted file as %q, %v", got, err)
	}
	sizes := []byte{0x21, 1, 0}
	withSizes := func(comp, unc byte) []byte { return append([]byte{comp, unc}, sizes...) }
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"not-xz", "not an xz stream", []byte("\x1f\x8b\x08\x00 this is gzip, not xz")},
		{"empty", "stream header: unexpected EOF", nil},
		{"check-id-2", "unsupported check ID 0x2", xzFile(2, 0, []byte{0x21, 1, 0}, lz, crc, 5)},
		{"check-id-15", "unsupported check ID 0xf", xzFile(15, 0, []byte{0x21, 1, 0}, lz, crc, 5)},
		{"unknown-filter", "unsupported filter ID 0x42", xzFile(checkCRC32, 0, []byte{0x42, 1, 0}, lz, crc, 5)},
		{"two-lzma2", "not the last filter", xzFile(checkCRC32, 1, []byte{0x21, 1, 0, 0x21, 1, 0}, lz, crc, 5)},
		{"reserved-block-flag", "unsupported block flags", xzFile(checkCRC32, 0x04, []byte{0x21, 1, 0}, lz, crc, 5)},
		{"dict-over-40", "LZMA2 properties", xzFile(checkCRC32, 0, []byte{0x21, 1, 41}, lz, crc, 5)},
		{"props-size-2", "LZMA2 properties", xzFile(checkCRC32, 0, []byte{0x21, 2, 0, 0}, lz, crc, 5)},
		{"header-padding", "non-zero padding", xzFile(checkCRC32, 0, []byte{0x21, 1, 0, 7}, lz, crc, 5)},
		{"compressed-size", "compressed size", xzFile(checkCRC32, 0xc0, withSizes(byte(len(lz)+1), 5), lz, crc, 5)},
		{"uncompressed-size", "more than the 4 bytes its header declares", xzFile(checkCRC32, 0xc0, withSizes(byte(len(lz)), 4), lz, crc, 5)},
		{"index-uncompressed", "index does not match", xzFile(checkCRC32, 0, []byte{0x21, 1, 0}, lz, crc, 6)},
		{"check", "block check (CRC32) mismatch", xzFile(checkCRC32, 0, []byte{0x21, 1, 0}, lz, []byte{1, 2, 3, 4}, 5)},
		{"first-chunk-no-reset", "does not reset the dictionary",
			xzFile(checkCRC32, 0, []byte{0x21, 1, 0}, append([]byte{2, 0, 4}, append(hello, 0)...), crc, 5)},
		{"control-3", "invalid control byte 0x3", xzFile(checkCRC32, 0, []byte{0x21, 1, 0}, append([]byte{3}, lz...), crc, 5)},
		{"lzma-no-props", "sets no properties",
			xzFile(checkCRC32, 0, []byte{0x21, 1, 0}, append(storedLZMA2(hello)[:8], 0xa0, 0, 4, 0, 5, 0, 0, 0, 0, 0, 0, 0), crc, 5)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decode(c.data, testMaxDict)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "xz: ") {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
	t.Run("declared-sizes", func(t *testing.T) {
		mustDecode(t, xzFile(checkCRC32, 0xc0, withSizes(byte(len(lz)), 5), lz, crc, 5), hello)
	})
}

// TestMaxDict checks that a dictionary over the limit is refused, and that
// a large one within it costs memory for the data, not the dictionary.
func TestMaxDict(t *testing.T) {
	data := sample(50_000, 8)
	enc := xzCLI(t, data, "-9") // a 64 MiB dictionary
	if _, err := decode(enc, 8<<20); !errors.Is(err, ErrDictTooLarge) {
		t.Fatalf("got %v, want ErrDictTooLarge", err)
	}
	hello := []byte("hello")
	crc := binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(hello))
	huge := xzFile(checkCRC32, 0, []byte{0x21, 1, 40}, storedLZMA2(hello), crc, 5) // 4 GiB - 1
	if _, err := decode(huge, 1<<31); !errors.Is(err, ErrDictTooLarge) {
		t.Fatalf("got %v, want ErrDictTooLarge", err)
	}
	r, err := NewReader(bytes.NewReader(huge), 1<<32)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	if n := cap(r.d.buf); n > initialDict {
		t.Fatalf("a 5-byte block grew the dictionary buffer to %d bytes", n)
	}
}

// TestTruncated cuts a small file at every length.
func TestTruncated(t *testing.T) {
	data := sample(3000, 9)
	enc := xzCLI(t, data, "--block-size=1000", "--check=crc64")
	for n := range len(enc) {
		_, err := decode(enc[:n], testMaxDict)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d of %d: got %v, want io.ErrUnexpectedEOF", n, len(enc), err)
		}
	}
}

// TestCorrupt flips every bit of small files. A flip must be an error, or
// decode as the oracle decodes it: a file with a check must then decode to
// its original bytes (a flip the check cannot see changes nothing, as when
// lc drops from 3 to 2 over a block whose literals all follow a zero byte).
func TestCorrupt(t *testing.T) {
	data := sample(1500, 10)
	for _, check := range []string{"none", "crc32", "crc64", "sha256"} {
		t.Run(check, func(t *testing.T) {
			t.Parallel()
			enc := xzCLI(t, data, "--block-size=600", "--check="+check)
			mustDecode(t, enc, data)
			bad := make([]byte, len(enc))
			for i := range len(enc) * 8 {
				copy(bad, enc)
				bad[i/8] ^= 1 << (i % 8)
				got, err := decode(bad, testMaxDict)
				if err != nil {
					continue
				}
				if check != "none" && !bytes.Equal(got, data) {
					t.Fatalf("bit %d of byte %d/%d flipped: no error, and different data", i%8, i/8, len(enc))
				}
				want, oerr := ulikunitzDecode(bad)
				if oerr != nil || !bytes.Equal(got, want) {
					t.Fatalf("bit %d of byte %d/%d flipped: we decode %d bytes, the oracle %d bytes, %v",
						i%8, i/8, len(enc), len(got), len(want), oerr)
				}
			}
		})
	}
}
