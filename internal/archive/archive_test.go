package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/gemscan-dev/gemscan/internal/archive/archivetest"
)

// The archive builders are archivetest's, under the names these tests use.
type file = archivetest.File

var (
	mkZip  = archivetest.Zip
	mkTar  = archivetest.Tar
	mkGzip = archivetest.Gzip
)

func mkZstd(t testing.TB, data []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(data, nil)
}

func mkXz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mkBzip2 compresses with the bzip2 command: the standard library only reads
// bzip2.
func mkBzip2(t testing.TB, data []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("no bzip2 command to build a .bz2 test archive (the standard library cannot write bzip2)")
	}
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bzip2: %v", err)
	}
	return out
}

// walked is what a walk saw: each member's path and content.
type walked struct {
	members map[string]string
	stats   Stats
	err     error
}

func walk(t testing.TB, name string, data []byte, lim Limits) walked {
	t.Helper()
	got := walked{members: map[string]string{}}
	got.stats, got.err = Walk(context.Background(), name, bytes.NewReader(data), int64(len(data)), lim, func(m Member) error {
		b, err := io.ReadAll(m.Reader)
		if err != nil {
			return err
		}
		got.members[m.Path] = string(b)
		return nil
	})
	return got
}

func TestFormats(t *testing.T) {
	env := []byte("GEMINI_API_KEY=value\n")
	xml := []byte("<resources><string name=\"k\">v</string></resources>\n")
	two := []file{{Name: "config/app.env", Data: env}, {Name: "./res/values/strings.xml", Data: xml}}
	want := func(name string) map[string]string {
		return map[string]string{name + "!config/app.env": string(env), name + "!res/values/strings.xml": string(xml)}
	}
	for _, tc := range []struct {
		name  string
		build func(t testing.TB) []byte
		want  map[string]string
	}{
		{"app.zip", func(t testing.TB) []byte { return mkZip(t, two...) }, want("app.zip")},
		{"lib.jar", func(t testing.TB) []byte { return mkZip(t, two...) }, want("lib.jar")},
		{"app.tar", func(t testing.TB) []byte { return mkTar(t, two...) }, want("app.tar")},
		{"app.tgz", func(t testing.TB) []byte { return mkGzip(t, mkTar(t, two...)) }, want("app.tgz")},
		{"app.tar.zst", func(t testing.TB) []byte { return mkZstd(t, mkTar(t, two...)) }, want("app.tar.zst")},
		{"app.tar.xz", func(t testing.TB) []byte { return mkXz(t, mkTar(t, two...)) }, want("app.tar.xz")},
		{"app.tar.bz2", func(t testing.TB) []byte { return mkBzip2(t, mkTar(t, two...)) }, want("app.tar.bz2")},
		{"app.tar.lzma", func(t testing.TB) []byte { return mkLzma(t, mkTar(t, two...)) }, want("app.tar.lzma")},
		{"app.zip.gz", func(t testing.TB) []byte { return mkGzip(t, mkZip(t, two...)) }, want("app.zip.gz")},
		// A compressed single file is its own member.
		{"app.env.gz", func(t testing.TB) []byte { return mkGzip(t, env) }, map[string]string{"app.env.gz": string(env)}},
		{"app.env.bz2", func(t testing.TB) []byte { return mkBzip2(t, env) }, map[string]string{"app.env.bz2": string(env)}},
		{"app.env.zst", func(t testing.TB) []byte { return mkZstd(t, env) }, map[string]string{"app.env.zst": string(env)}},
		{"app.env.xz", func(t testing.TB) []byte { return mkXz(t, env) }, map[string]string{"app.env.xz": string(env)}},
		{"app.env.lzma", func(t testing.TB) []byte { return mkLzma(t, env) }, map[string]string{"app.env.lzma": string(env)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.build(t)
			got := walk(t, tc.name, data, DefaultLimits())
			if got.err != nil {
				t.Fatal(got.err)
			}
			if !reflect.DeepEqual(got.members, tc.want) {
				t.Errorf("members = %q, want %q", got.members, tc.want)
			}
			if got.stats.Archives != 1 || got.stats.Members != int64(len(tc.want)) || len(got.stats.Notes) != 0 {
				t.Errorf("stats = %+v", got.stats)
			}
			// The same archive read as a stream.
			stream := walked{members: map[string]string{}}
			stream.stats, stream.err = WalkReader(context.Background(), tc.name, bytes.NewReader(data), DefaultLimits(), func(m Member) error {
				b, err := io.ReadAll(m.Reader)
				stream.members[m.Path] = string(b)
				return err
			})
			if stream.err != nil || !reflect.DeepEqual(stream.members, tc.want) {
				t.Errorf("WalkReader: %q, %v", stream.members, stream.err)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		want Format
	}{
		{nil, None},
		{[]byte("PK"), None},
		{[]byte("PK is a name\x03\x04"), None},
		{[]byte("GEMINI_API_KEY=x\n"), None},
		{[]byte("BZh9 not bzip2"), None},
		{[]byte("PK\x05\x06" + strings.Repeat("\x00", 18)), Zip},
		{[]byte{0x1f, 0x8b, 8, 0}, Gzip},
		{[]byte{0x1f, 0x8b, 8, 0xff}, None}, // reserved flags set
		{mkTar(t, file{Name: "a", Data: []byte("x")}), Tar},
		// "ustar" where a tar header has it, in a text file.
		{[]byte(strings.Repeat("x", 257) + "ustar" + strings.Repeat("y", 250)), None},
	} {
		if got := Detect(tc.data); got != tc.want {
			t.Errorf("Detect(%q) = %v, want %v", tc.data, got, tc.want)
		}
	}
	if _, err := Walk(context.Background(), "x.txt", strings.NewReader("plain"), 5, DefaultLimits(), nil); err == nil {
		t.Error("Walk of a text file: no error")
	}
}

// nest wraps data in levels of zip (even levels) and tar.gz (odd levels),
// each holding the next as inner.zip / inner.tgz.
func nest(t testing.TB, data []byte, levels int) ([]byte, string) {
	path := "secret.txt"
	for i := range levels {
		if i%2 == 0 {
			data = mkZip(t, file{Name: path[:strings.IndexByte(path+"!", '!')], Data: data})
			path = "inner.zip!" + path
		} else {
			data = mkGzip(t, mkTar(t, file{Name: path[:strings.IndexByte(path+"!", '!')], Data: data}))
			path = "inner.tgz!" + path
		}
	}
	return data, path
}

func TestNested(t *testing.T) {
	data, path := nest(t, []byte("the key\n"), 3)
	path = "top" + strings.TrimPrefix(path, "inner.zip") // top!inner.tgz!inner.zip!secret.txt
	got := walk(t, "top", data, DefaultLimits())
	if got.err != nil || got.members[path] != "the key\n" || got.stats.Archives != 3 || got.stats.Members != 1 {
		t.Fatalf("walk = %+v, want %s", got, path)
	}
	// One level fewer allowed: the innermost archive is not opened, which
	// is noted and fails the walk (a key could be inside).
	lim := DefaultLimits()
	lim.MaxDepth = 2
	got = walk(t, "top", data, lim)
	if !errors.Is(got.err, ErrNotScanned) || len(got.members) != 0 || len(got.stats.Notes) != 1 ||
		!strings.Contains(got.stats.Notes[0], "top!inner.tgz!inner.zip: nested zip archive deeper than the archive depth limit (2, --max-archive-depth)") {
		t.Fatalf("depth 2: %+v", got)
	}
	// Depth 0 opens nothing.
	lim.MaxDepth = 0
	if got = walk(t, "top", data, lim); got.err != nil || got.stats.Archives != 0 || len(got.members) != 0 {
		t.Fatalf("depth 0: %+v", got)
	}
}

// TestNestingBomb: 42.zip-style nesting ends at the depth limit, an error.
func TestNestingBomb(t *testing.T) {
	data, _ := nest(t, []byte("x"), 40)
	got := walk(t, "bomb.zip", data, DefaultLimits())
	if !errors.Is(got.err, ErrNotScanned) || len(got.members) != 0 || got.stats.Archives != DefaultMaxDepth || len(got.stats.Notes) != 1 {
		t.Fatalf("walk = %+v", got)
	}
	// gzip of gzip of gzip…: each layer is a level.
	g := []byte("x")
	for range 20 {
		g = mkGzip(t, g)
	}
	got = walk(t, "bomb.gz", g, DefaultLimits())
	if !errors.Is(got.err, ErrNotScanned) || len(got.members) != 0 || got.stats.Archives != DefaultMaxDepth || len(got.stats.Notes) != 1 {
		t.Fatalf("gzip layers: %+v", got)
	}
}

// TestZipBomb: a highly compressible member ends the walk with ErrLimit,
// having decompressed no more than the limit allows (plus one buffer).
func TestZipBomb(t *testing.T) {
	zeros := make([]byte, 64<<20)
	data := mkZip(t, file{Name: "a.txt", Data: []byte("first\n")}, file{Name: "zeros.bin", Data: zeros})
	t.Logf("bomb: %d bytes expand to %d", len(data), len(zeros))

	lim := DefaultLimits()
	lim.MaxExpanded = 8 << 20
	var read int64
	_, err := Walk(context.Background(), "bomb.zip", bytes.NewReader(data), int64(len(data)), lim, func(m Member) error {
		n, err := io.Copy(io.Discard, m.Reader)
		read += n
		return err
	})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "bomb.zip!zeros.bin") {
		t.Fatalf("err = %v, want ErrLimit naming the member", err)
	}
	if read > lim.MaxExpanded+1<<20 {
		t.Errorf("read %d bytes past a limit of %d", read, lim.MaxExpanded)
	}

	// The ratio limit stops it too, before the total would.
	lim = DefaultLimits()
	lim.RatioFloor, lim.MaxRatio = 1<<20, 100
	_, err = Walk(context.Background(), "bomb.zip", bytes.NewReader(data), int64(len(data)), lim, func(m Member) error {
		_, err := io.Copy(io.Discard, m.Reader)
		return err
	})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "ratio over 100") {
		t.Fatalf("ratio: err = %v", err)
	}
}

// TestXzDictionary: an xz header asking for a 4 GiB dictionary is refused
// before the decoder allocates it.
func TestXzDictionary(t *testing.T) {
	data := mkXz(t, []byte("hello\n"))
	// Block header: size byte, flags, then the LZMA2 filter (id 0x21,
	// props size 1, dictionary byte).
	i := bytes.Index(data[12:], []byte{0x21, 0x01})
	if i < 0 {
		t.Fatal("no LZMA2 filter in the block header")
	}
	data[12+i+2] = 40
	// Keep the block header's CRC32 right: the decoder checks it first.
	hsize := (int(data[12]) + 1) * 4
	binary.LittleEndian.PutUint32(data[12+hsize-4:], crc32.ChecksumIEEE(data[12:12+hsize-4]))
	got := walk(t, "big.xz", data, DefaultLimits())
	if !errors.Is(got.err, ErrLimit) || !strings.Contains(got.err.Error(), "dictionary") {
		t.Fatalf("err = %v", got.err)
	}
}

func TestCorrupt(t *testing.T) {
	data := mkZip(t, file{Name: "a.txt", Data: bytes.Repeat([]byte("abc"), 1000)})
	data = data[:len(data)-30] // cut the directory's end
	if got := walk(t, "cut.zip", data, DefaultLimits()); got.err == nil || errors.Is(got.err, ErrLimit) {
		t.Fatalf("truncated zip: err = %v", got.err)
	}
	gz := mkGzip(t, bytes.Repeat([]byte("abc"), 1000))
	gz[len(gz)-6] ^= 0xff // the CRC
	if got := walk(t, "bad.gz", gz, DefaultLimits()); got.err == nil {
		t.Fatal("gzip with a bad checksum: no error")
	}
}

func TestEncryptedNote(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "locked.txt", Flags: 1, Method: zip.Store})
	w.Write([]byte("cipher"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	got := walk(t, "enc.zip", buf.Bytes(), DefaultLimits())
	if got.err != nil || len(got.members) != 0 || len(got.stats.Notes) != 1 || !strings.Contains(got.stats.Notes[0], "1 encrypted member(s)") {
		t.Fatalf("walk = %+v", got)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := mkZip(t, file{Name: "a", Data: []byte("x")})
	_, err := Walk(ctx, "a.zip", bytes.NewReader(data), int64(len(data)), DefaultLimits(), func(Member) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestPrintable(t *testing.T) {
	utf16 := func(s string, odd bool) []byte {
		var b []byte
		if odd {
			b = append(b, 0x01)
		}
		for _, c := range []byte(s) {
			b = append(b, c, 0)
		}
		return b
	}
	var data []byte
	data = append(data, 0x00, 0x03)
	data = append(data, "ascii_run_one"...)
	data = append(data, 0x00, 0xff, 'a', 'b', 0xff) // too short
	data = append(data, utf16("wide_even_run", false)...)
	data = append(data, 0x07, 0x08)
	data = append(data, utf16("wide_odd_run", true)...)
	data = append(data, 0x07)
	data = append(data, "tail"...) // too short
	got := strings.Split(strings.TrimSuffix(string(Printable(data)), "\n"), "\n")
	want := []string{"ascii_run_one", "wide_even_run", "wide_odd_run"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Printable = %q, want %q", got, want)
	}
	// Alignment of the UTF-16 text relative to the start must not matter.
	for shift := range 2 {
		d := append(bytes.Repeat([]byte{0xff}, shift), utf16("GEMINI_API_KEY", false)...)
		if got := string(Printable(d)); got != "GEMINI_API_KEY\n" {
			t.Errorf("shift %d: %q", shift, got)
		}
	}
	// The streaming reader agrees, whatever the read sizes.
	big := bytes.Repeat(data, 5000)
	out, err := io.ReadAll(NewPrintableReader(&oneByteEvery{r: bytes.NewReader(big)}))
	if err != nil || !bytes.Equal(out, Printable(big)) {
		t.Fatalf("reader: %d bytes, %v; want %d", len(out), err, len(Printable(big)))
	}
}

// oneByteEvery returns short reads of varying sizes.
type oneByteEvery struct {
	r io.Reader
	n int
}

func (o *oneByteEvery) Read(p []byte) (int, error) {
	o.n = o.n%7 + 1
	return o.r.Read(p[:min(len(p), o.n)])
}

func TestNotesSorted(t *testing.T) {
	// Two nested archives past the limit give one note each, and the walk
	// goes on past the first (then fails, naming it).
	inner := mkZip(t, file{Name: "x", Data: []byte("x")})
	data := mkZip(t, file{Name: "b.zip", Data: inner}, file{Name: "a.zip", Data: inner}, file{Name: "c.txt", Data: []byte("c")})
	lim := DefaultLimits()
	lim.MaxDepth = 1
	got := walk(t, "top.zip", data, lim)
	sort.Strings(got.stats.Notes)
	if !errors.Is(got.err, ErrNotScanned) || got.members["top.zip!c.txt"] != "c" || len(got.stats.Notes) != 2 || !strings.HasPrefix(got.stats.Notes[0], "top.zip!a.zip") {
		t.Fatalf("%+v", got)
	}
}

// BenchmarkDetect: deciding that a file is not an archive reads a fixed
// handful of bytes, whatever the file's size.
func BenchmarkDetect(b *testing.B) {
	text := bytes.Repeat([]byte("GEMINI_API_KEY=value # a line of configuration\n"), 1<<16)
	for b.Loop() {
		if Detect(text[:min(len(text), SniffLen)]) != None {
			b.Fatal("text detected as an archive")
		}
	}
}

// TestLengthPrefix: a printable length byte before a string is not part of
// the string: "5" before 53 characters, "55" in UTF-8 resource pools.
func TestLengthPrefix(t *testing.T) {
	s := "AQ." + strings.Repeat("k", 50)
	for _, data := range [][]byte{
		append([]byte{0xff, 53}, s...),
		append([]byte{0xff, 53, 53}, s...),
		append([]byte{0xff, 0xff, 53, 0}, func() []byte {
			var b []byte
			for _, c := range []byte(s) {
				b = append(b, c, 0)
			}
			return b
		}()...),
	} {
		if got := string(Printable(data)); got != s+"\n" {
			t.Errorf("Printable(%q) = %q", data, got)
		}
	}
	// A run that only starts with a character is kept whole.
	if got := string(Printable([]byte("5abcdefg"))); got != "5abcdefg\n" {
		t.Errorf("got %q", got)
	}
}

// TestZstdWindow: a zstd frame asking for a 1 GiB window is refused, not
// allocated.
func TestZstdWindow(t *testing.T) {
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write([]byte("hello, hello, hello\n"))
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if data[4]&0x20 != 0 {
		t.Fatal("the encoder wrote a single-segment frame: no window descriptor to patch")
	}
	data[5] = 20 << 3 // window log 10+20: 1 GiB
	got := walk(t, "big.zst", data, DefaultLimits())
	if got.err == nil || len(got.members) != 0 {
		t.Fatalf("walk = %+v, want an error", got)
	}
	t.Log(got.err)
}

// TestXzStreamed: an .xz inside another archive is decoded as it is read,
// however large: it is no longer held in memory (it was, up to MaxBuffer,
// and skipped with a note beyond), and its dictionary limit still holds.
func TestXzStreamed(t *testing.T) {
	var text bytes.Buffer
	for i := 0; text.Len() < 200_000; i++ {
		fmt.Fprintf(&text, "line %d: %x\n", i, i*2654435761)
	}
	text.WriteString("GEMINI_API_KEY=value\n")
	outer := mkTar(t, file{Name: "logs/app.log.xz", Data: mkXz(t, text.Bytes())})
	lim := DefaultLimits()
	lim.MaxBuffer = 1 << 10
	got := walk(t, "dump.tar", outer, lim)
	if got.err != nil || len(got.stats.Notes) != 0 || got.members["dump.tar!logs/app.log.xz"] != text.String() {
		t.Fatalf("err %v, notes %v, members %d: want the .xz read whole", got.err, got.stats.Notes, len(got.members))
	}
}
