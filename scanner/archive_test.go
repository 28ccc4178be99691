package scanner

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ulikunitz/xz/lzma"

	"github.com/gemscan-dev/gemscan/internal/archive"
	"github.com/gemscan-dev/gemscan/internal/archive/archivetest"
	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// The archive builders are archivetest's, under the names these tests use.
type member = archivetest.File

var (
	zipOf     = archivetest.Zip
	zipMethod = archivetest.ZipMethod
	tgzOf     = archivetest.TarGz
	gzipOf    = archivetest.Gzip
)

// arsc is a stand-in for a compiled resource table: binary framing around
// a UTF-16LE string pool holding the resource's name and value.
func arsc(name, value string) []byte {
	b := []byte{0x02, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x1c, 0x00}
	b = append(b, byte(len(name)), 0)
	b = append(b, archivetest.UTF16LE(name)...)
	b = append(b, 0, 0, byte(len(value)), 0)
	b = append(b, archivetest.UTF16LE(value)...)
	return append(b, 0, 0, 0xff, 0xfe, 0x01)
}

// dexLike is binary data with ASCII strings in it (a .dex or .class
// constant pool).
func dexLike(strs ...string) []byte {
	b := []byte("dex\n035\x00\x70\x00\x00\x00\x78\x56\x34\x12")
	for _, s := range strs {
		b = append(b, byte(len(s)))
		b = append(b, s...)
		b = append(b, 0)
	}
	return b
}

func writeFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// located is a finding reduced to where it is and what it found.
func located(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		s := fmt.Sprintf("%s:%d %s=%s", f.File, f.Line, f.Rule, f.Value)
		if f.Secret() != "" {
			s += " secret=" + f.Secret()
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func expectLocated(t *testing.T, got []Finding, want ...string) {
	t.Helper()
	slices.Sort(want)
	if g := located(got); !slices.Equal(g, want) {
		t.Fatalf("findings:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
}

// apkOf builds an Android package holding keys the way apps ship them:
// in a resource XML, in the compiled resource table (UTF-16LE) and in
// compiled code (ASCII in binary).
func apkOf(t testing.TB, k testkeys.Set, aq string) []byte {
	return zipOf(t,
		member{Name: "AndroidManifest.xml", Data: []byte("\x03\x00\x08\x00binary xml\x00")},
		member{Name: "res/values/strings.xml", Data: []byte("<resources>\n  <string name=\"google_api_key\">" + k.APIKey + "</string>\n</resources>\n")},
		member{Name: "resources.arsc", Data: arsc("gemini_key", aq)},
		member{Name: "classes.dex", Data: dexLike("GEMINI_API_KEY", k.ExchangeKey, "GEMINI_API_SECRET", k.Secret)},
	)
}

func TestArchiveDir(t *testing.T) {
	t.Parallel()
	k := testkeys.New(61).Set()
	aq := testkeys.New(62).AQKey()
	dir := t.TempDir()
	writeFile(t, dir, "dist/app.apk", apkOf(t, k, aq))
	// A wheel inside a tarball: nested archives chain "!".
	wheel := zipOf(t, member{Name: "pkg/settings.py", Data: []byte("import os\n\nGEMINI_API_KEY = \"" + k.MasterKey + "\"\n")})
	writeFile(t, dir, "vendor/deps.tar.gz", tgzOf(t, member{Name: "./wheels/pkg-1.0-py3-none-any.whl", Data: wheel}, member{Name: "README", Data: []byte("deps\n")}))
	writeFile(t, dir, "notes.txt", []byte("nothing here\n"))

	res := ScanPaths(context.Background(), []string{dir}, Options{Workers: 2})
	archNoErrors(t, res)
	d := filepath.ToSlash(dir)
	expectLocated(t, res.Findings,
		d+"/dist/app.apk!res/values/strings.xml:2 google-api-key="+k.APIKey,
		d+"/dist/app.apk!resources.arsc:2 google-gemini-key="+aq,
		d+"/dist/app.apk!classes.dex:2 gemini-exchange-key="+k.ExchangeKey+" secret="+k.Secret,
		d+"/vendor/deps.tar.gz!wheels/pkg-1.0-py3-none-any.whl!pkg/settings.py:3 gemini-exchange-key="+k.MasterKey,
	)
	for _, f := range res.Findings {
		if !strings.HasPrefix(f.Path, "dist/app.apk!") && !strings.HasPrefix(f.Path, "vendor/deps.tar.gz!") {
			t.Errorf("Path %q does not chain the member", f.Path)
		}
	}
	st := res.Stats
	if st.Archives != 3 || st.Members != 6 || st.Files != 3 || st.Binary != 0 || len(st.Notes) != 0 {
		t.Errorf("stats = %+v, want 3 archives, 6 members, 3 files", st)
	}

	// Depth 1: the wheel is not opened: noted, and an error (the scan
	// fails closed), the other findings still reported.
	res = ScanPaths(context.Background(), []string{dir}, Options{MaxArchiveDepth: 1})
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0], archive.ErrNotScanned) ||
		!strings.Contains(res.Errors[0].Error(), "deps.tar.gz!wheels/pkg-1.0-py3-none-any.whl: nested zip") {
		t.Errorf("depth 1: errors %v, want the wheel's", res.Errors)
	}
	if len(res.Findings) != 3 || len(res.Stats.Notes) != 1 || !strings.Contains(res.Stats.Notes[0], "deps.tar.gz!wheels/pkg-1.0-py3-none-any.whl: nested zip") {
		t.Errorf("depth 1: %d findings, notes %q", len(res.Findings), res.Stats.Notes)
	}
	// Archives off: binary files, scanned raw (compressed members hide
	// their keys) or, with SkipBinary, skipped and counted.
	res = ScanPaths(context.Background(), []string{dir}, Options{MaxArchiveDepth: -1})
	archNoErrors(t, res)
	if res.Stats.Binary != 0 || res.Stats.Files != 3 || res.Stats.Archives != 0 {
		t.Errorf("archives off: %d findings, stats %+v", len(res.Findings), res.Stats)
	}
	res = ScanPaths(context.Background(), []string{dir}, Options{MaxArchiveDepth: -1, SkipBinary: true})
	archNoErrors(t, res)
	if len(res.Findings) != 0 || res.Stats.Binary != 2 || res.Stats.Archives != 0 {
		t.Errorf("archives off, binary skipped: %d findings, stats %+v", len(res.Findings), res.Stats)
	}
}

// TestArchiveBombDir: a zip bomb is an error naming the member, with what
// was found before it kept; the scan's other files are scanned.
func TestArchiveBombDir(t *testing.T) {
	t.Parallel()
	k := testkeys.New(63).Set()
	dir := t.TempDir()
	bomb := zipOf(t, member{Name: "a.env", Data: []byte("GOOGLE_KEY=" + k.APIKey + "\n")}, member{Name: "in.zip", Data: zipOf(t, member{Name: "zeros", Data: make([]byte, 20<<20)})})
	writeFile(t, dir, "bomb.zip", bomb)
	writeFile(t, dir, "x.env", []byte("KEY="+k.AQKey+"\n"))
	res := ScanPaths(context.Background(), []string{dir}, Options{})
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0], archive.ErrLimit) || !strings.Contains(res.Errors[0].Error(), "bomb.zip!in.zip!zeros: archive limit exceeded") {
		t.Fatalf("errors = %v, want one archive limit error", res.Errors)
	}
	d := filepath.ToSlash(dir)
	expectLocated(t, res.Findings, d+"/bomb.zip!a.env:1 google-api-key="+k.APIKey, d+"/x.env:1 google-gemini-key="+k.AQKey)
}

// TestArchiveLargeMembers: members too large to read whole are streamed,
// text and binary, with lines still counted in the member.
func TestArchiveLargeMembers(t *testing.T) {
	t.Parallel()
	k := testkeys.New(64).Set()
	// Data that compresses little, so the ratio limit stays out of it.
	rng := rand.New(rand.NewPCG(1, 2))
	var text []byte
	lines := 0
	for len(text) <= memberBuffer {
		text = fmt.Appendf(text, "line %d value %x\n", lines, rng.Uint64())
		lines++
	}
	text = append(text, "KEY="+k.APIKey+"\n"...)
	bin := make([]byte, memberBuffer+4096)
	for i := range bin {
		if i%4 != 0 { // a NUL every four bytes: binary, with no long printable runs
			bin[i] = byte(rng.Uint32())
		}
	}
	bin = append(bin, 0xff)
	bin = append(bin, archivetest.UTF16LE("x="+k.AQKey)...)
	// UTF-16LE text with a byte-order mark, too large to be read whole.
	u16 := []byte{0xff, 0xfe}
	for _, c := range text[len(text)-memberBuffer/2:] {
		u16 = append(u16, c, 0)
	}
	data := zipMethod(t, zip.Store, member{Name: "big.txt", Data: text}, member{Name: "big.bin", Data: bin}, member{Name: "big16.txt", Data: u16})
	dir := t.TempDir()
	writeFile(t, dir, "big.zip", data)
	res := ScanPaths(context.Background(), []string{dir}, Options{})
	archNoErrors(t, res)
	d := filepath.ToSlash(dir)
	expectLocated(t, res.Findings,
		fmt.Sprintf("%s/big.zip!big.txt:%d google-api-key=%s", d, lines+1, k.APIKey),
		d+"/big.zip!big.bin:1 google-gemini-key="+k.AQKey,
		// Streamed UTF-16 is read as printable runs, one a line.
		fmt.Sprintf("%s/big.zip!big16.txt:%d google-api-key=%s", d, bytes.Count(text[len(text)-memberBuffer/2:], []byte{'\n'}), k.APIKey))
}

// TestArchiveLargeFile: an archive too large to read whole (with no size
// limit) is read from the file at random.
func TestArchiveLargeFile(t *testing.T) {
	t.Parallel()
	k := testkeys.New(65).Set()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "pad.bin", Method: zip.Store})
	w.Write(bytes.Repeat([]byte{0xff, 0xfe, 0xfd, 0x00}, (streamThreshold+(1<<20))/4))
	w, _ = zw.Create("conf/app.env")
	w.Write([]byte("GEMINI_API_KEY=" + k.ExchangeKey + "\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "huge.jar", buf.Bytes())
	res := ScanPaths(context.Background(), []string{dir}, Options{})
	archNoErrors(t, res)
	expectLocated(t, res.Findings, filepath.ToSlash(dir)+"/huge.jar!conf/app.env:1 gemini-exchange-key="+k.ExchangeKey)
	if res.Stats.Archives != 1 || res.Stats.Members != 2 {
		t.Errorf("stats = %+v", res.Stats)
	}
}

func TestScanStream(t *testing.T) {
	t.Parallel()
	k := testkeys.New(66).Set()
	data := tgzOf(t, member{Name: "etc/app.env", Data: []byte("\nGEMINI_API_KEY=" + k.ExchangeKey + "\nGEMINI_API_SECRET=" + k.Secret + "\n")})
	res := ScanStream(context.Background(), bytes.NewReader(data), "backup.tgz", Options{})
	archNoErrors(t, res)
	expectLocated(t, res.Findings, "backup.tgz!etc/app.env:2 gemini-exchange-key="+k.ExchangeKey+" secret="+k.Secret)
	if res.Stats.Files != 1 || res.Stats.Bytes != int64(len(data)) || res.Stats.Archives != 1 || res.Stats.Members != 1 {
		t.Errorf("stats = %+v", res.Stats)
	}
	// A zip must be held whole; it is.
	data = zipOf(t, member{Name: "a/b.txt", Data: []byte("k=" + k.APIKey + "\n")})
	res = ScanStream(context.Background(), bytes.NewReader(data), "stdin", Options{})
	archNoErrors(t, res)
	expectLocated(t, res.Findings, "stdin!a/b.txt:1 google-api-key="+k.APIKey)
	// Plain text is scanned as before; archives off leaves the archive unread.
	res = ScanStream(context.Background(), strings.NewReader("x\nk="+k.AQKey+"\n"), "stdin", Options{})
	archNoErrors(t, res)
	expectLocated(t, res.Findings, "stdin:2 google-gemini-key="+k.AQKey)
	res = ScanStream(context.Background(), bytes.NewReader(data), "stdin", Options{MaxArchiveDepth: -1})
	archNoErrors(t, res)
	if len(res.Findings) != 0 || res.Stats.Archives != 0 {
		t.Errorf("archives off: %+v", res)
	}
	// Cancelled: an error, never a clean result.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res = ScanStream(ctx, bytes.NewReader(tgzOf(t, member{Name: "a", Data: []byte("a")})), "stdin", Options{}); len(res.Errors) == 0 {
		t.Error("cancelled stream scan: no error")
	}
}

// archRepo builds a repository with the git CLI.
type archRepo struct {
	t   *testing.T
	dir string
	n   int
}

func newArchRepo(t *testing.T) *archRepo {
	gittest.Need(t)
	r := &archRepo{t: t, dir: t.TempDir()}
	gittest.Run(t, r.dir, "init", "-q", "-b", "main")
	return r
}

func (r *archRepo) commit(files map[string][]byte) string {
	r.t.Helper()
	for name, data := range files {
		writeFile(r.t, r.dir, name, data)
	}
	r.n++
	gittest.RunAt(r.t, r.dir, r.n, "add", "-A")
	gittest.RunAt(r.t, r.dir, r.n, "commit", "-q", "-m", fmt.Sprint("commit ", r.n))
	return gittest.Run(r.t, r.dir, "rev-parse", "HEAD")
}

func TestArchiveGit(t *testing.T) {
	t.Parallel()
	k := testkeys.New(67).Set()
	aq := testkeys.New(68).AQKey()
	r := newArchRepo(t)
	first := r.commit(map[string][]byte{"README.md": []byte("hi\n"), "dist/app.apk": apkOf(t, k, aq)})
	// The same archive at a second path, and a bomb.
	second := r.commit(map[string][]byte{
		"copy/app.apk": apkOf(t, k, aq),
		"logs.gz":      gzipOf(t, []byte("line\nGOOGLE="+k.APIKey+"\n")),
		"bomb.zip":     zipOf(t, member{Name: "in.zip", Data: zipOf(t, member{Name: "zeros", Data: make([]byte, 20<<20)})}),
	})
	res := ScanGit(context.Background(), r.dir, GitOptions{})
	if len(res.Errors) != 1 || !errors.Is(res.Errors[0], archive.ErrLimit) || !strings.HasPrefix(res.Errors[0].Error(), "bomb.zip!in.zip!zeros: ") {
		t.Fatalf("errors = %v, want the bomb's, named by its path", res.Errors)
	}
	want := func(p, commit string) []string {
		return []string{
			p + "!res/values/strings.xml:2 google-api-key=" + k.APIKey + " @" + commit,
			p + "!resources.arsc:2 google-gemini-key=" + aq + " @" + commit,
			p + "!classes.dex:2 gemini-exchange-key=" + k.ExchangeKey + " secret=" + k.Secret + " @" + commit,
		}
	}
	var got []string
	for _, f := range res.Findings {
		s := located([]Finding{f})[0] + " @" + f.Commit
		got = append(got, s)
		if !f.InHead || f.Path != f.File {
			t.Errorf("%s: in_head %v, path %q", s, f.InHead, f.Path)
		}
	}
	exp := append(want("dist/app.apk", first), want("copy/app.apk", second)...)
	exp = append(exp, "logs.gz:2 google-api-key="+k.APIKey+" @"+second)
	slices.Sort(got)
	slices.Sort(exp)
	if !slices.Equal(got, exp) {
		t.Fatalf("findings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(exp, "\n  "))
	}
	// The blob pass opens each distinct blob once: the apk (twice at two
	// paths, one blob), the gzip and the bomb with the zip inside it; six
	// members (the bomb's one included).
	if res.Stats.Archives != 4 || res.Stats.Members != 6 {
		t.Errorf("stats = %+v", res.Stats)
	}
}

func TestArchiveStaged(t *testing.T) {
	t.Parallel()
	g := testkeys.New(69)
	k1, k2 := g.APIKey(), g.AQKey()
	r := newArchRepo(t)
	r.commit(map[string][]byte{"README.md": []byte("hi\n")})

	// A new archive: every credential in it is added.
	writeFile(t, r.dir, "lib/sdk.jar", zipOf(t, member{Name: "sdk.properties", Data: []byte("key=" + k1 + "\n")}))
	gittest.Run(t, r.dir, "add", "lib/sdk.jar")
	res := ScanStaged(r.dir, StagedOptions{})
	archNoErrors(t, res)
	expectLocated(t, res.Findings, "lib/sdk.jar!sdk.properties:1 google-api-key="+k1)
	if res.Stats.Archives != 1 || res.Stats.Members != 1 {
		t.Errorf("stats = %+v", res.Stats)
	}
	r.commit(nil)

	// A changed archive: only the credential it did not hold before.
	writeFile(t, r.dir, "lib/sdk.jar", zipOf(t,
		member{Name: "sdk.properties", Data: []byte("# moved down\nkey=" + k1 + "\n")},
		member{Name: "extra/x.json", Data: []byte("{\"k\": \"" + k2 + "\"}\n")}))
	gittest.Run(t, r.dir, "add", "lib/sdk.jar")
	res = ScanStaged(r.dir, StagedOptions{})
	archNoErrors(t, res)
	expectLocated(t, res.Findings, "lib/sdk.jar!extra/x.json:1 google-gemini-key="+k2)
	// --all-lines: both.
	res = ScanStaged(r.dir, StagedOptions{AllLines: true})
	expectLocated(t, res.Findings, "lib/sdk.jar!extra/x.json:1 google-gemini-key="+k2, "lib/sdk.jar!sdk.properties:2 google-api-key="+k1)
}

// BenchmarkDirArchiveCheck scans a tree of text files with archive
// handling on and off: the magic-byte check reads a fixed few bytes of
// data already in memory, so the two take the same time.
func BenchmarkDirArchiveCheck(b *testing.B) {
	dir := b.TempDir()
	line := []byte("some_setting = \"a value of configuration\" # comment\n")
	for i := range 400 {
		writeFile(b, dir, fmt.Sprintf("d%d/f%d.txt", i%20, i), bytes.Repeat(line, 200+i))
	}
	for _, bc := range []struct {
		name  string
		depth int
	}{{"archives-on", 0}, {"archives-off", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			opts := Options{MaxArchiveDepth: bc.depth, Workers: 1}
			opts.detector()
			for b.Loop() {
				res := ScanPaths(context.Background(), []string{dir}, opts)
				if len(res.Errors) > 0 || res.Stats.Files != 400 {
					b.Fatalf("%v %+v", res.Errors, res.Stats)
				}
			}
		})
	}
}

func archNoErrors(t *testing.T, res *Result) {
	t.Helper()
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
}

// TestArchiveCheckIsFree: deciding that a file is not an archive looks at a
// fixed few bytes and allocates nothing, however large the file.
func TestArchiveCheckIsFree(t *testing.T) {
	opts := Options{}
	for _, size := range []int{0, 10, 300, 1 << 20} {
		data := bytes.Repeat([]byte("x"), size)
		if n := testing.AllocsPerRun(100, func() {
			if opts.isArchive(data) {
				t.Fatal("text taken for an archive")
			}
		}); n != 0 {
			t.Errorf("size %d: %v allocations", size, n)
		}
	}
}

// TestArchiveMemberSize: members are held to the file size limit as files
// are: a member declaring more is skipped, a compressed stream of unknown
// size is scanned up to the limit, and both are counted.
func TestArchiveMemberSize(t *testing.T) {
	t.Parallel()
	k := testkeys.New(70).Set()
	pad := bytes.Repeat([]byte("# padding line of configuration\n"), 2000) // 64000 bytes
	dir := t.TempDir()
	writeFile(t, dir, "a.zip", zipOf(t,
		member{Name: "small.env", Data: []byte("K=" + k.APIKey + "\n")},
		member{Name: "big.env", Data: append(slices.Clone(pad), "K="+k.AQKey+"\n"...)}))
	writeFile(t, dir, "head.env.gz", gzipOf(t, append([]byte("K="+k.ExchangeKey+"\n"), pad...)))
	res := ScanPaths(context.Background(), []string{dir}, Options{MaxFileSize: 32 << 10})
	archNoErrors(t, res)
	d := filepath.ToSlash(dir)
	expectLocated(t, res.Findings, d+"/a.zip!small.env:1 google-api-key="+k.APIKey, d+"/head.env.gz:1 gemini-exchange-key="+k.ExchangeKey)
	if res.Stats.TooLarge != 2 || len(res.Stats.Notes) != 1 || !strings.Contains(res.Stats.Notes[0], "head.env.gz: only the first 32768 bytes") {
		t.Errorf("stats = %+v", res.Stats)
	}
	// No limit: all of it.
	res = ScanPaths(context.Background(), []string{dir}, Options{})
	archNoErrors(t, res)
	if len(res.Findings) != 3 || res.Stats.TooLarge != 0 {
		t.Errorf("no limit: %d findings, stats %+v", len(res.Findings), res.Stats)
	}
}

// TestArchiveGitBzip2Blocks: a .bz2 of several blocks (decoded on several
// cores) committed to a repository is scanned cleanly by the history scan,
// text or binary (a member read again after its end), its key found in the
// last block.
func TestArchiveGitBzip2Blocks(t *testing.T) {
	t.Parallel()
	k := testkeys.New(69).Set()
	var text, binary bytes.Buffer
	for i := 0; text.Len() < 600_000; i++ {
		fmt.Fprintf(&text, "log line %d: request %x served\n", i, i*7919)
	}
	rnd := rand.New(rand.NewPCG(69, 70)) // incompressible: blocks of 100 kB
	for binary.Len() < 1<<20 {
		binary.WriteByte(byte(rnd.IntN(256)))
	}
	text.WriteString("GEMINI_API_KEY=" + k.APIKey + "\n")
	binary.WriteString("GEMINI_API_KEY=" + k.APIKey + "\n")
	r := newArchRepo(t)
	r.commit(map[string][]byte{"logs.txt.bz2": archivetest.Bzip2(t, text.Bytes(), 1), "noise.bin.bz2": archivetest.Bzip2(t, binary.Bytes(), 1)})
	res := ScanGit(context.Background(), r.dir, GitOptions{})
	if len(res.Errors) != 0 || len(res.Findings) != 2 || res.Findings[0].Value != k.APIKey || res.Findings[1].Value != k.APIKey {
		t.Fatalf("errors %v, findings %v; want the key in both and no error", res.Errors, located(res.Findings))
	}
}

// lzmaFile is data as a .lzma file (ulikunitz/xz's writer: an end marker,
// no size, as the xz command writes).
func lzmaFile(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := lzma.WriterConfig{DictCap: 1 << 16}.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// zipLzmaWriter compresses a zip member with method 14: on Close it writes
// the LZMA SDK version, the properties' size and properties, then the LZMA
// data of what was written.
type zipLzmaWriter struct {
	t   testing.TB
	w   io.Writer
	buf bytes.Buffer
}

func (z *zipLzmaWriter) Write(p []byte) (int, error) { return z.buf.Write(p) }

func (z *zipLzmaWriter) Close() error {
	f := lzmaFile(z.t, z.buf.Bytes())
	_, err := z.w.Write(append(append([]byte{9, 20, 5, 0}, f[:5]...), f[13:]...))
	return err
}

// TestArchiveLzma: keys in a .lzma file and in a zip member compressed
// with LZMA (method 14, as Python's zipfile and 7-Zip write it) are found
// and located.
func TestArchiveLzma(t *testing.T) {
	t.Parallel()
	k := testkeys.New(64).Set()
	dir := t.TempDir()
	writeFile(t, dir, "conf.env.lzma", lzmaFile(t, []byte("# conf\nGOOGLE_KEY="+k.APIKey+"\n")))
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	zw.RegisterCompressor(14, func(w io.Writer) (io.WriteCloser, error) { return &zipLzmaWriter{t: t, w: w}, nil })
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "app/settings.py", Method: 14, Flags: 2})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "import os\n\nGEMINI_API_KEY = \""+k.MasterKey+"\"\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "dist/app.zip", zb.Bytes())

	res := ScanPaths(context.Background(), []string{dir}, Options{Workers: 2})
	archNoErrors(t, res)
	d := filepath.ToSlash(dir)
	expectLocated(t, res.Findings,
		d+"/conf.env.lzma:2 google-api-key="+k.APIKey,
		d+"/dist/app.zip!app/settings.py:3 gemini-exchange-key="+k.MasterKey,
	)
}
