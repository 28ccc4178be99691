package xz

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"testing"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Fuzzing bounds: dictionaries and output stay small so that every exec
// is fast and its memory bounded.
const (
	fuzzMaxDict = 1 << 20
	fuzzMaxOut  = 1 << 20
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
// strictOnly accepts as a check the oracle does not make; where we decode
// it, the oracle must too. Either way nothing may panic, hang or allocate
// more than the small dictionary limit allows.
func FuzzXz(f *testing.F) {
	for _, s := range xzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
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
		compare(t, got, err, want, oerr, xzLeniency)
	})
}

// compare checks our result against the oracle's.
func compare(t *testing.T, got []byte, err error, want []byte, oerr error, lenient leniency) {
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

// A leniency reports whether our error err, on input the oracle decoded to
// want (we to got before failing), comes from a rule of the format that
// the oracle does not enforce.
type leniency func(err error, got, want []byte) bool

// xzLeniency lists the .xz rules ulikunitz/xz does not check.
func xzLeniency(err error, got, want []byte) bool {
	return false
}

// lzma2Leniency lists the LZMA2 rules ulikunitz/xz's Reader2 does not
// check.
func lzma2Leniency(err error, got, want []byte) bool {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) && bytes.Equal(got, want):
		// Reader2 takes the end of its input for the end of the data,
		// even inside a chunk; LZMA2 data ends with a zero control byte.
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
		compare(t, got, err, want, oerr, lzma2Leniency)
	})
}
