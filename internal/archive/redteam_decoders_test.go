package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// redteamText is a text of about n bytes with a marker line in its middle.
func redteamText(n int, marker string) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n/2; i++ {
		fmt.Fprintf(&b, "line %d: %x\n", i, i*2654435761)
	}
	b.WriteString(marker + "\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "tail %d: %x\n", i, i*40503)
	}
	return b.Bytes()
}

// hasContent reports whether some member of w holds want.
func hasContent(w walked, want string) bool {
	for _, c := range w.members {
		if strings.Contains(c, want) {
			return true
		}
	}
	return false
}

// zstdSkippable is a zstd skippable frame holding payload.
func zstdSkippable(payload []byte) []byte {
	out := []byte{0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(payload)))
	return append(out, payload...)
}

// TestRedteamZstdSkippableFirst: a zstd stream may begin with a skippable
// frame (pzstd writes one before every frame; the zstd CLI decodes such a
// file). Detect knew only the frame magic 28 b5 2f fd, so the file was
// scanned as opaque binary and a key in its compressed frames was missed:
// `pzstd -c keys.txt | gemscan stdin` exited 0. A skippable frame followed
// by something else is not taken for zstd.
func TestRedteamZstdSkippableFirst(t *testing.T) {
	if f := Detect(append(zstdSkippable([]byte{0, 0, 0, 0}), "plain text after it"...)); f != None {
		t.Errorf("a skippable frame before plain text detected as %v", f)
	}
	const marker = "GEMINI_API_KEY=value"
	text := redteamText(40_000, marker)
	data := append(zstdSkippable([]byte{0, 0, 0, 0}), mkZstd(t, text)...)
	got := walk(t, "logs.zst", data, DefaultLimits())
	if got.err != nil || !hasContent(got, marker) {
		t.Fatalf("err %v, members %d: want the frame after the skippable one decoded", got.err, len(got.members))
	}
}

// TestRedteamZstdKeyAfterBadFrame: a key in a frame that follows a
// truncated or corrupt one is never reported clean: the walk errors.
func TestRedteamZstdKeyAfterBadFrame(t *testing.T) {
	const marker = "GEMINI_API_KEY=value"
	bad := mkZstd(t, redteamText(20_000, "filler"))
	key := mkZstd(t, redteamText(2_000, marker))
	cases := map[string][]byte{
		"truncated": append(bytes.Clone(bad[:len(bad)/2]), key...),
		"flipped":   append(flipAt(bad, len(bad)/2), key...),
		// A skippable frame that claims 4 GiB and holds a key frame.
		"skippable frame overrunning": append(append(bytes.Clone(key), 0x50, 0x2a, 0x4d, 0x18, 0xff, 0xff, 0xff, 0xff), key...),
	}
	for name, in := range cases {
		got := walk(t, "a.zst", in, DefaultLimits())
		if got.err == nil {
			t.Errorf("%s: walk ended without error (members %d)", name, len(got.members))
		}
	}
}

// TestRedteamXzKeyAfterBadStream: same for xz, including a stream whose
// index or footer is damaged after all its blocks decoded fine.
func TestRedteamXzKeyAfterBadStream(t *testing.T) {
	const marker = "GEMINI_API_KEY=value"
	bad := mkXz(t, redteamText(20_000, "filler"))
	key := mkXz(t, redteamText(2_000, marker))
	for _, off := range []int{8, 20, len(bad) / 2, len(bad) - 20, len(bad) - 13, len(bad) - 9, len(bad) - 1} {
		in := append(flipAt(bad, off), key...)
		if got := walk(t, "a.xz", in, DefaultLimits()); got.err == nil {
			t.Errorf("byte %d of %d flipped: walk ended without error", off, len(bad))
		}
	}
	for _, cut := range []int{len(bad) / 2, len(bad) - 1} {
		in := append(bytes.Clone(bad[:cut]), key...)
		if got := walk(t, "a.xz", in, DefaultLimits()); got.err == nil {
			t.Errorf("cut at %d of %d: walk ended without error", cut, len(bad))
		}
	}
	// Stream padding must be a multiple of four bytes.
	in := append(append(bytes.Clone(bad), 0, 0, 0), key...)
	if got := walk(t, "a.xz", in, DefaultLimits()); got.err == nil {
		t.Errorf("3 bytes of stream padding: walk ended without error")
	}
	in = append(append(bytes.Clone(bad), 0, 0, 0, 0), key...)
	if got := walk(t, "a.xz", in, DefaultLimits()); got.err != nil || !hasContent(got, marker) {
		t.Errorf("4 bytes of stream padding: err %v, want the second stream read", got.err)
	}
}

func flipAt(b []byte, i int) []byte {
	d := bytes.Clone(b)
	d[i] ^= 0x55
	return d
}

// TestRedteamZstdHugeWindow: a frame header asking for a window over the
// limit is refused from its header, whatever the size asked, as a limit
// (ErrLimit), as xz's dictionary is.
func TestRedteamZstdHugeWindow(t *testing.T) {
	body := []byte("GEMINI_API_KEY=value\n")
	block := binary.LittleEndian.AppendUint32(nil, uint32(len(body))<<3|1)[:3]
	for _, wd := range []byte{0x88, 0xd8, 0xf8, 0xff} {
		in := append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, wd}, block...)
		in = append(in, body...)
		if got := walk(t, "a.zst", in, DefaultLimits()); got.err == nil {
			t.Errorf("window descriptor %#x: walk ended without error", wd)
		} else if !errors.Is(got.err, ErrLimit) {
			t.Errorf("window descriptor %#x: %v (not ErrLimit)", wd, got.err)
		}
	}
}
