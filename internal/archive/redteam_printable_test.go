package archive

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gemscan-dev/gemscan/internal/archive/archivetest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// printableAll reads data through NewPrintableReader one byte at a time,
// so every Read ends a chunk.
func printableAll(t *testing.T, data []byte) string {
	t.Helper()
	out, err := io.ReadAll(NewPrintableReader(iotest.OneByteReader(bytes.NewReader(data))))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestRedteamPrintableKeyShapes: a key in a binary member, as ASCII, as
// UTF-16LE at either alignment and behind a length byte, comes out whole,
// read whole and read a byte at a time.
func TestRedteamPrintableKeyShapes(t *testing.T) {
	key := testkeys.New(11).APIKey()
	cases := map[string][]byte{
		"ascii":           append(append([]byte{0, 1, 2}, key...), 0, 3),
		"length prefixed": append(append([]byte{0, 1, byte(len(key))}, key...), 0, 3),
		"utf16 even":      append(append([]byte{0xff, 0xfe}, archivetest.UTF16LE(key)...), 0, 0, 9),
		"utf16 odd":       append(append([]byte{0xff, 0xfe, 0x81}, archivetest.UTF16LE(key)...), 0, 0, 9),
		"utf16 prefixed":  append(append([]byte{0xff, 0xfe, byte(len(key)), 0}, archivetest.UTF16LE(key)...), 0, 0, 9),
	}
	for name, data := range cases {
		// Shifted across 64 KiB, the reader's chunk size.
		for _, pad := range []int{0, 1, 64<<10 - 20, 64<<10 - 21} {
			in := append(bytes.Repeat([]byte{0x01, 0x80}, pad/2), data...)
			if pad%2 == 1 {
				in = append([]byte{0x90}, in...)
			}
			if got := string(Printable(in)); !strings.Contains(got, key) {
				t.Errorf("%s, pad %d: Printable lost the key", name, pad)
			}
			if pad < 4 {
				if got := printableAll(t, in); !strings.Contains(got, key) {
					t.Errorf("%s, pad %d: the reader lost the key", name, pad)
				}
			}
		}
	}
}

// TestRedteamPrintableRunLikeLengthByte: a run that starts with a key and
// whose length is one more than the key's first byte ('A' = 65, so 66
// bytes) is taken for a length-prefixed string and loses its first
// character: the key in `<NUL>AIza…(39)&x=999…(27)<NUL>` in an APK's
// classes.dex was not found (gemscan dir exited 0); one byte more or less
// and it was. The key is now also written on a line of its own.
func TestRedteamPrintableRunLikeLengthByte(t *testing.T) {
	g := testkeys.New(12)
	for _, key := range []string{g.APIKey(), g.AQKey()} {
		run := key + "&x=" + strings.Repeat("9", int(key[0])+1-len(key)-3)
		data := append(append([]byte{0, 1, 2}, run...), 0, 3)
		if got := string(Printable(data)); !strings.Contains(got, key) {
			t.Errorf("run of %d bytes starting with %q: printable output %q lost the key", len(run), key[:4], got)
		}
		data16 := append(append([]byte{0xff, 0xfe}, archivetest.UTF16LE(run)...), 0, 0, 9)
		if got := string(Printable(data16)); !strings.Contains(got, key) {
			t.Errorf("UTF-16 run of %d units starting with %q: printable output %q lost the key", len(run), key[:4], got)
		}
		if got := printableAll(t, data16); !strings.Contains(got, key) {
			t.Errorf("UTF-16 run of %d units starting with %q: the reader lost the key", len(run), key[:4])
		}
	}
}

// TestRedteamPrintableLongRun: a key that straddles the maxRun cut of a
// long printable run in a binary member was lost; the cut now carries the
// run's last runCarry bytes into the next piece. UTF-16 runs too.
func TestRedteamPrintableLongRun(t *testing.T) {
	key := testkeys.New(13).APIKey()
	for _, at := range []int{maxRun - 20, maxRun - 1, maxRun, 2*maxRun - 5} {
		run := append(bytes.Repeat([]byte{' '}, at), key...)
		data := append(append([]byte{0}, run...), 0)
		if got := string(Printable(data)); !strings.Contains(got, key) {
			t.Errorf("key at %d of a %d-byte run: lost at the maxRun (%d) cut", at, len(run), maxRun)
		}
		if got := string(Printable(append([]byte{0x81}, archivetest.UTF16LE(string(run))...))); !strings.Contains(got, key) {
			t.Errorf("UTF-16 key at %d of a %d-unit run: lost at the maxRun (%d) cut", at, len(run), maxRun)
		}
	}
}

// TestRedteamPrintableTwoByteLength: resources.arsc stores a UTF-8 string
// of 256 or more bytes behind two-byte lengths (0x80|len>>8, len&0xff),
// twice; when len&0xff is printable ('A' for 321 bytes) it starts the run,
// glued to the string: "AAIza…", where the key rules (which want a word
// boundary before a key) find nothing. `gemscan dir` on an APK whose
// resources.arsc held such a string starting with a key exited 0; the key
// is now written first on a line of its own.
func TestRedteamPrintableTwoByteLength(t *testing.T) {
	key := testkeys.New(14).APIKey()
	for _, lo := range []byte{0x41, 0x61, 0x31} {
		s := key + "-" + strings.Repeat("y", 0x100+int(lo)-len(key)-1)
		data := append([]byte{0, 1, 0, 0x81, lo, 0x81, lo}, s...)
		data = append(data, 0, 0)
		got := string(Printable(data))
		i := strings.Index(got, key)
		if i < 0 || i > 0 && got[i-1] != '\n' {
			t.Errorf("length low byte %q: the key is not at the start of a run in %q", lo, got[:min(len(got), 60)])
		}
	}
}
