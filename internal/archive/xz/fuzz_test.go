package xz

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Fuzzing bounds: dictionaries and output stay small so that every exec
// is fast and its memory bounded.
const (
	fuzzMaxDict = 1 << 20
	fuzzMaxOut  = 256 << 10
)

// readCapped reads r to its end or to fuzzMaxOut bytes.
func readCapped(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, fuzzMaxOut))
}

// bigDictPossible reports whether data could hold LZMA2 filter
// properties asking for a dictionary over fuzzMaxDict: the oracle,
// ulikunitz/xz, allocates whatever a block header asks for, so it is not
// run on such input. Its filter parser wants the props size byte 1 right
// before the dictionary byte.
func bigDictPossible(data []byte) bool {
	for i := 1; i < len(data); i++ {
		if data[i-1] == 1 && data[i] <= 40 && lzma2Dict(data[i]) > fuzzMaxDict {
			return true
		}
	}
	return false
}

// FuzzXz compares the decoder with ulikunitz/xz on arbitrary input: where
// the oracle decodes the input we must produce the same bytes or an error
// lenient accepts as a rule the oracle does not enforce; where we decode
// it, the oracle must too. Either way nothing may panic, hang or allocate
// more than the small dictionary limit allows. The first byte picks how
// the rest is read: when it is odd, the rest has its CRC32s repaired
// first (repairCRCs), so that mutations get past them. Both decoders stop
// at fuzzMaxOut bytes, which keeps each exec fast.
func FuzzXz(f *testing.F) {
	for _, s := range xzSeeds(f) {
		f.Add(append([]byte{0}, s...))
		f.Add(append([]byte{1}, s...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		if data[0]&1 == 1 {
			// Repair what the mutation broke, so that it reaches the
			// checks behind the CRC32s.
			data = bytes.Clone(data[1:])
			repairCRCs(data)
		} else {
			data = data[1:]
		}
		var got []byte
		r, err := NewReader(bytes.NewReader(data), fuzzMaxDict)
		if err == nil {
			got, err = readCapped(r)
		}
		if errors.Is(err, ErrDictTooLarge) || bigDictPossible(data) {
			return
		}
		var want []byte
		or, oerr := xz.ReaderConfig{DictCap: 4096}.NewReader(bytes.NewReader(data))
		if oerr == nil {
			want, oerr = readCapped(or)
		}
		compare(t, got, err, want, oerr, func(err error, got, want []byte) bool {
			// ulikunitz/xz takes the end of its input for the end of the
			// data in many places: input that does not end with a stream
			// footer is no .xz file, whatever error we give.
			return lenient(err, got, want) || !endsWithFooter(data) && bytes.HasPrefix(want, got)
		})
	})
}

// endsWithFooter reports whether data, less its stream padding, ends as
// a stream footer does.
func endsWithFooter(data []byte) bool {
	for len(data) >= 4 && allZero(data[len(data)-4:]) {
		data = data[:len(data)-4]
	}
	return len(data) >= 24 && string(data[len(data)-2:]) == footerMagic
}

// repairCRCs walks data as an .xz file as far as its structure allows and
// rewrites the CRC32s of its stream headers, block headers, indexes and
// footers; not the blocks' checks, which cover the decoded data.
func repairCRCs(data []byte) {
	le := binary.LittleEndian
	uv := func(p int) (int, bool) {
		if p >= len(data) {
			return 0, false
		}
		_, n := binary.Uvarint(data[p:])
		return p + n, n > 0
	}
	pos := 0
	for pos+12 <= len(data) && string(data[pos:pos+6]) == headerMagic {
		le.PutUint32(data[pos+8:], crc32.ChecksumIEEE(data[pos+6:pos+8]))
		cs := [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}[data[pos+7]&0xf]
		pos += 12
		for pos < len(data) && data[pos] != 0 {
			hs := (int(data[pos]) + 1) * 4
			if pos+hs > len(data) {
				return
			}
			le.PutUint32(data[pos+hs-4:], crc32.ChecksumIEEE(data[pos:pos+hs-4]))
			pos += hs
			end := lzma2End(data, pos)
			if end < 0 {
				return
			}
			pos = end + -(end-pos)&3 + cs
		}
		start := pos
		p, ok := uv(pos + 1)
		if !ok {
			return
		}
		count, _ := binary.Uvarint(data[pos+1:])
		for i := uint64(0); i < count*2; i++ {
			if p, ok = uv(p); !ok {
				return
			}
		}
		p += -(p - start) & 3
		if p+16 > len(data) {
			return
		}
		le.PutUint32(data[p:], crc32.ChecksumIEEE(data[start:p]))
		le.PutUint32(data[p+4:], crc32.ChecksumIEEE(data[p+8:p+14]))
		pos = p + 16
		for pos+4 <= len(data) && allZero(data[pos:pos+4]) {
			pos += 4
		}
	}
}

// lzma2End returns where the LZMA2 data starting at pos ends (after its
// end byte), found from its chunk headers, or -1.
func lzma2End(data []byte, pos int) int {
	for pos < len(data) {
		c := data[pos]
		switch {
		case c == 0:
			return pos + 1
		case c <= 2 && pos+3 <= len(data):
			pos += 3 + (int(data[pos+1])<<8 | int(data[pos+2])) + 1
		case c >= 0x80 && pos+5 <= len(data):
			pos += 5 + (int(data[pos+3])<<8 | int(data[pos+4])) + 1
			if c >= 0xc0 {
				pos++
			}
		default:
			return -1
		}
	}
	return -1
}

// compare checks our result against the oracle's.
func compare(t *testing.T, got []byte, err error, want []byte, oerr error, lenient func(err error, got, want []byte) bool) {
	t.Helper()
	switch {
	case err == nil && oerr == nil:
		if !bytes.Equal(got, want) {
			t.Fatalf("we decode %d bytes, the oracle %d different ones", len(got), len(want))
		}
	case err == nil:
		t.Fatalf("we decode %d bytes, the oracle fails: %v", len(got), oerr)
	case oerr == nil:
		if !lenient(err, got, want) {
			t.Fatalf("we fail (%v), the oracle decodes %d bytes", err, len(want))
		}
	}
}

// lenient reports whether our error err, on input the oracle decoded to
// want (we to got before failing), comes from a rule of the format that
// ulikunitz/xz does not enforce.
func lenient(err error, got, want []byte) bool {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) && bytes.HasPrefix(want, got):
		// ulikunitz/xz takes the end of its input for the end of the
		// data: in .xz where a block header (or the index) should start,
		// so that a file cut between blocks reads as a shorter clean one
		// (TestTruncated checks that every cut is an error here), and in
		// raw LZMA2 anywhere, even inside a chunk, though LZMA2 data ends
		// with a zero control byte. Nor does it hold a chunk to the
		// compressed size its header declares: it decodes the symbols
		// there are, where we read the declared bytes first and find
		// them missing, having written less.
		return true
	case errors.Is(err, errTinyChunk) && bytes.HasPrefix(want, got):
		// The same: ulikunitz/xz reads an LZMA chunk's range coder start
		// past the end the chunk's header declares.
		return true
	case errors.Is(err, errChunkEnd) && bytes.HasPrefix(want, got):
		// An LZMA chunk ends with the range coder flushed: its last
		// symbol uses its last byte and leaves the code at zero.
		// ulikunitz/xz does not check; xz itself does.
		return true
	case errors.Is(err, errLcLp):
		// LZMA2 limits lc + lp to 4 (LZMA allows lc up to 8).
		return true
	}
	return false
}

// xzSeeds are real .xz files, made by the xz command when there is one
// and by ulikunitz/xz's writer.
func xzSeeds(tb testing.TB) [][]byte {
	data := sample(2000, 12)
	seeds := [][]byte{
		ulikunitzXz(tb, data, xz.WriterConfig{DictCap: 4096, BlockSize: 700, CheckSum: xz.CRC32}),
		ulikunitzXz(tb, data[:100], xz.WriterConfig{DictCap: 4096, CheckSum: xz.None}),
		ulikunitzXz(tb, nil, xz.WriterConfig{DictCap: 4096}),
	}
	if _, err := exec.LookPath("xz"); err == nil {
		seeds = append(seeds,
			xzCLI(tb, data, "--lzma2=dict=64KiB", "--check=crc64"),
			xzCLI(tb, data[:300], "--lzma2=dict=4KiB,lc=0,lp=4,pb=0", "--check=none"),
			xzCLI(tb, data[:500], "--lzma2=dict=4KiB", "--block-size=100", "--check=sha256"),
			append(append(xzCLI(tb, data[:50], "--check=none"), 0, 0, 0, 0), xzCLI(tb, nil)...),
		)
	}
	return seeds
}

// rawLZMA2 reads raw LZMA2 data, without the .xz container.
type rawLZMA2 struct {
	in input
	d  dict
	z  lzmaDec
	l2 lzma2
}

func newRawLZMA2(r io.Reader, dictSize int) *rawLZMA2 {
	x := &rawLZMA2{in: input{r: bufio.NewReader(r)}}
	x.l2.start(&x.in, &x.d, &x.z, dictSize)
	return x
}

func (x *rawLZMA2) Read(p []byte) (int, error) {
	for {
		if x.d.unread > 0 {
			return x.d.read(p), nil
		}
		if x.l2.eos {
			return 0, io.EOF
		}
		if err := x.l2.step(); err != nil {
			return 0, err
		}
	}
}

// FuzzLZMA2 compares the LZMA2 decoder with ulikunitz/xz's on raw LZMA2
// data (the first byte picks the dictionary size), reaching the LZMA
// decoder with input the .xz container's CRCs would otherwise stop.
func FuzzLZMA2(f *testing.F) {
	data := sample(3000, 13)
	for i, dict := range []int{4096, 8192, 1 << 16} {
		for _, props := range []lzma.Properties{{LC: 3, LP: 0, PB: 2}, {LC: 0, LP: 4, PB: 4}, {LC: 4, LP: 0, PB: 0}} {
			var b bytes.Buffer
			w, err := lzma.Writer2Config{DictCap: dict, Properties: &props}.NewWriter2(&b)
			if err != nil {
				f.Fatal(err)
			}
			w.Write(data[:1000*(i+1)])
			if err := w.Close(); err != nil {
				f.Fatal(err)
			}
			f.Add(append([]byte{byte(i)}, b.Bytes()...))
		}
	}
	f.Add(append([]byte{0}, storedLZMA2([]byte("hello"))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		dictSize := 4096 << (data[0] % 8) // up to 512 KiB
		got, err := readCapped(newRawLZMA2(bytes.NewReader(data[1:]), dictSize))
		var want []byte
		or, oerr := lzma.Reader2Config{DictCap: dictSize}.NewReader2(bytes.NewReader(data[1:]))
		if oerr == nil {
			want, oerr = readCapped(or)
		}
		compare(t, got, err, want, oerr, lenient)
	})
}

// FuzzLZMA1 compares the LZMA1 decoder with ulikunitz/xz's on .lzma
// files: seeds with an end marker (the xz command's), a declared size, or
// both, mutated in header and data alike. A header asking for a
// dictionary over fuzzMaxDict is refused by both.
func FuzzLZMA1(f *testing.F) {
	data := sample(3000, 14)
	for i, props := range []lzma.Properties{{LC: 3, LP: 0, PB: 2}, {LC: 0, LP: 4, PB: 0}, {LC: 4, LP: 0, PB: 4}} {
		n := 1000 * (i + 1)
		f.Add(ulikunitzLzma(f, data[:n], lzma.WriterConfig{Properties: &props, DictCap: 4096}))
		f.Add(ulikunitzLzma(f, data[:n], lzma.WriterConfig{Properties: &props, DictCap: 8192, Size: int64(n)}))
		f.Add(ulikunitzLzma(f, data[:n], lzma.WriterConfig{Properties: &props, DictCap: 4096, Size: int64(n), EOSMarker: true}))
	}
	if _, err := exec.LookPath("xz"); err == nil {
		f.Add(lzmaCLI(f, data, "--lzma1=dict=64KiB"))
		f.Add(lzmaCLI(f, nil))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []byte
		r, err := NewAloneReader(bytes.NewReader(data), fuzzMaxDict)
		if err == nil {
			got, err = readCapped(r)
		}
		if errors.Is(err, ErrDictTooLarge) {
			return
		}
		var want []byte
		or, oerr := lzma.ReaderConfig{DictCap: fuzzMaxDict}.NewReader(bytes.NewReader(data))
		if oerr == nil {
			want, oerr = readCapped(or)
		}
		compare(t, got, err, want, oerr, lenientLZMA1)
	})
}

// lenientLZMA1 reports whether our error err, on a .lzma file the oracle
// decoded, comes from a limit of ours that the format does not have.
func lenientLZMA1(err error, got, want []byte) bool {
	switch {
	case errors.Is(err, ErrLZMAProps):
		// lc + lp over 4, which no common encoder writes, is refused.
		return true
	}
	return false
}

// TestRepairCRCs checks that FuzzXz's repair lets a mutation reach the
// checks behind the CRC32s.
func TestRepairCRCs(t *testing.T) {
	hello := []byte("hello")
	crc := binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(hello))
	good := xzFile(checkCRC32, 0, []byte{0x21, 1, 0}, storedLZMA2(hello), crc, 5)
	for _, c := range []struct {
		at   int
		xor  byte
		want string
	}{
		{7, 5, "block check (CRC64) mismatch"}, // the check ID, in both header and footer
		{13, 4, "unsupported block flags"},
		{len(good) - 17, 4, "index does not match"}, // the index's uncompressed size
		{len(good) - 8, 4, "backward size"},         // the footer's backward size
	} {
		bad := bytes.Clone(good)
		bad[c.at] ^= c.xor
		if c.at == 7 {
			bad[len(good)-3] ^= c.xor
		}
		repairCRCs(bad)
		if _, err := decode(bad, testMaxDict); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("byte %d changed: got %v, want %q", c.at, err, c.want)
		}
	}
}

// TestStricterThanOracleAsXz checks the leniencies against xz itself: each
// FuzzXz input in testdata that we reject and ulikunitz/xz accepts must be
// rejected by `xz -t` too.
func TestStricterThanOracleAsXz(t *testing.T) {
	path, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("no xz command")
	}
	files, err := filepath.Glob("testdata/fuzz/FuzzXz/*")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "[]byte("), ")"))
		if err != nil || len(s) == 0 {
			t.Fatalf("%s: %v", name, err)
		}
		data := []byte(s[1:])
		if s[0]&1 == 1 {
			repairCRCs(data)
		}
		if _, err := decode(data, fuzzMaxDict); err == nil || errors.Is(err, ErrDictTooLarge) || bigDictPossible(data) {
			continue
		}
		if _, oerr := ulikunitzDecode(data); oerr != nil {
			continue
		}
		checked++
		cmd := exec.Command(path, "-t", "-q", "-q")
		cmd.Stdin = bytes.NewReader(data)
		if cmd.Run() == nil {
			t.Errorf("%s: we reject it, but xz -t and ulikunitz/xz accept it", name)
		}
	}
	if checked == 0 {
		t.Fatal("no input in testdata/fuzz/FuzzXz where we are stricter than ulikunitz/xz")
	}
	t.Logf("%d inputs where we are stricter than ulikunitz/xz: xz -t rejects them all", checked)
}
