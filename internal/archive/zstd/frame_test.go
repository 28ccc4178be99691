package zstd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
)

// decode decompresses data whole.
func decode(data []byte, maxWindow int64) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(data), maxWindow)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// frame builds a frame by hand: a header with a window descriptor (or a
// single-segment header when single), then blocks.
type frame struct {
	single   bool
	size     int64 // content size; -1 for none
	window   byte  // window descriptor
	did      uint32
	checksum bool
	blocks   [][]byte
	sum      []byte // checksum to write; nil computes the right one
	content  []byte // for the checksum
}

func (f frame) bytes() []byte {
	b := binary.LittleEndian.AppendUint32(nil, frameMagic)
	var desc byte
	var fcs []byte
	switch {
	case f.size < 0:
	case f.single && f.size < 256:
		fcs = []byte{byte(f.size)}
	case f.size >= 256 && f.size < 65536+256:
		desc |= 1 << 6
		fcs = binary.LittleEndian.AppendUint16(nil, uint16(f.size-256))
	case f.size < 1<<32:
		desc |= 2 << 6
		fcs = binary.LittleEndian.AppendUint32(nil, uint32(f.size))
	default:
		desc |= 3 << 6
		fcs = binary.LittleEndian.AppendUint64(nil, uint64(f.size))
	}
	if f.single {
		desc |= 0x20
	}
	if f.checksum {
		desc |= 4
	}
	var did []byte
	if f.did != 0 {
		desc |= 3
		did = binary.LittleEndian.AppendUint32(nil, f.did)
	}
	b = append(b, desc)
	if !f.single {
		b = append(b, f.window)
	}
	b = append(b, did...)
	b = append(b, fcs...)
	for _, bl := range f.blocks {
		b = append(b, bl...)
	}
	if f.checksum {
		if f.sum == nil {
			var x xxh64
			x.reset()
			x.write(f.content)
			f.sum = binary.LittleEndian.AppendUint32(nil, uint32(x.sum64()))
		}
		b = append(b, f.sum...)
	}
	return b
}

// block builds a block header and body; typ 0 raw, 1 RLE, 2 compressed.
func block(last bool, typ int, size int, body []byte) []byte {
	h := uint32(size)<<3 | uint32(typ)<<1
	if last {
		h |= 1
	}
	return append([]byte{byte(h), byte(h >> 8), byte(h >> 16)}, body...)
}

func TestXXH64(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
	}{
		{"", 0xEF46DB3751D8E999},
		{"a", 0xD24EC4F1A98C6E5B},
		{"abc", 0x44BC2CF5AD770999},
	} {
		var x xxh64
		x.reset()
		x.write([]byte(c.in))
		if got := x.sum64(); got != c.want {
			t.Errorf("xxh64(%q) = %#x, want %#x", c.in, got, c.want)
		}
	}
	// Any split of the input gives the same sum.
	data := make([]byte, 200)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for n := 0; n <= len(data); n += 13 {
		var whole xxh64
		whole.reset()
		whole.write(data[:n])
		for step := 1; step < 40; step += 6 {
			var x xxh64
			x.reset()
			for p := data[:n]; len(p) > 0; {
				k := min(step, len(p))
				x.write(p[:k])
				p = p[k:]
			}
			if x.sum64() != whole.sum64() {
				t.Fatalf("len %d, step %d: split sum differs", n, step)
			}
		}
	}
}

// TestFrames decodes hand-built frames of raw and RLE blocks, and refuses
// malformed ones with the error that names the fault.
func TestFrames(t *testing.T) {
	hello := []byte("hello, ")
	content := append(append([]byte{}, hello...), bytes.Repeat([]byte{'z'}, 300)...)
	good := frame{size: int64(len(content)), window: 0, checksum: true, content: content, blocks: [][]byte{
		block(false, 0, len(hello), hello),
		block(true, 1, 300, []byte{'z'}),
	}}
	skip := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, skipMagic+7), 3)
	skip = append(skip, 1, 2, 3)
	empty := frame{size: 0, single: true, blocks: [][]byte{block(true, 0, 0, nil)}}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, c := range []struct {
		name string
		in   []byte
		want string
		err  error
	}{
		{"empty stream", nil, "", nil},
		{"empty frame", empty.bytes(), "", nil},
		{"raw and RLE", good.bytes(), string(content), nil},
		{"two frames and skippable ones", cat(skip, good.bytes(), skip, empty.bytes(), good.bytes(), skip), string(content) + string(content), nil},
		{"single segment", frame{single: true, size: 7, blocks: [][]byte{block(true, 0, 7, hello)}}.bytes(), string(hello), nil},
		{"no content size", frame{size: -1, window: 0, blocks: [][]byte{block(true, 0, 7, hello)}}.bytes(), string(hello), nil},
		{"dictionary zero", func() []byte {
			b := frame{size: -1, blocks: [][]byte{block(true, 0, 7, hello)}}.bytes()
			b[4] |= 1 // one-byte dictionary ID, zero
			return append(b[:6:6], append([]byte{0}, b[6:]...)...)
		}(), string(hello), nil},

		{"large window, small content", frame{size: 7, window: 20 << 3, blocks: [][]byte{block(true, 0, 7, hello)}}.bytes(), "", ErrWindowTooLarge},
		{"dictionary", frame{size: -1, did: 7, blocks: [][]byte{block(true, 0, 7, hello)}}.bytes(), "", ErrDictionary},
		{"window too large", frame{size: -1, window: 11 << 3, blocks: [][]byte{block(true, 0, 7, hello)}}.bytes(), "", ErrWindowTooLarge},
		{"single segment too large", frame{single: true, size: 1 << 21, blocks: [][]byte{block(true, 0, 7, hello)}}.bytes(), "", ErrWindowTooLarge},
		{"checksum", frame{size: -1, checksum: true, sum: []byte{1, 2, 3, 4}, blocks: [][]byte{block(true, 0, 7, hello)}}.bytes(), string(hello), ErrChecksum},
		{"size short", frame{size: 8, blocks: [][]byte{block(true, 0, 7, hello)}}.bytes(), string(hello), ErrCorrupt},
		{"size long", frame{size: 6, blocks: [][]byte{block(true, 0, 7, hello)}}.bytes(), "", ErrCorrupt},
		{"block over window", frame{size: -1, blocks: [][]byte{block(true, 1, 1025, []byte{1})}}.bytes(), "", ErrCorrupt},
		{"block over 128 KiB", frame{size: -1, window: 8 << 3, blocks: [][]byte{block(true, 1, 128<<10+1, []byte{1})}}.bytes(), "", ErrCorrupt},
		{"reserved block", frame{size: -1, blocks: [][]byte{block(true, 3, 1, []byte{1})}}.bytes(), "", ErrCorrupt},
		{"reserved bit", func() []byte { b := good.bytes(); b[4] |= 8; return b }(), "", ErrCorrupt},
		{"bad magic", []byte("PK\x03\x04"), "", ErrCorrupt},
		{"trailing garbage", cat(good.bytes(), []byte{0, 0, 0, 0}), string(content), ErrCorrupt},
		{"trailing partial magic", cat(good.bytes(), []byte{0x28}), string(content), io.ErrUnexpectedEOF},
		{"truncated skippable", skip[:9], "", io.ErrUnexpectedEOF},
		{"no last block", frame{size: -1, blocks: [][]byte{block(false, 0, 7, hello)}}.bytes(), string(hello), io.ErrUnexpectedEOF},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := decode(c.in, 1<<20)
			if string(got) != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if c.err == nil && err != nil || c.err != nil && !errors.Is(err, c.err) {
				t.Errorf("err = %v, want %v", err, c.err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "zstd: ") {
				t.Errorf("error %q does not start with zstd:", err)
			}
		})
	}
}

// TestTruncatedFrame: every proper prefix of a frame is an error, not a
// short read.
func TestTruncatedFrame(t *testing.T) {
	content := []byte("hello, hello, zzzzzzzzzz")
	data := frame{size: int64(len(content)), checksum: true, content: content, blocks: [][]byte{
		block(false, 0, 14, content[:14]),
		block(true, 1, 10, []byte{'z'}),
	}}.bytes()
	if got, err := decode(data, 1<<20); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("whole frame: %q, %v", got, err)
	}
	for n := 1; n < len(data); n++ {
		if _, err := decode(data[:n], 1<<20); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("prefix of %d bytes: err = %v, want unexpected EOF", n, err)
		}
	}
}

// TestPartialReads: one-byte reads and a reader that returns one byte at a
// time see the same output.
func TestPartialReads(t *testing.T) {
	content := bytes.Repeat([]byte("abc"), 1000)
	data := frame{size: -1, window: 0, checksum: true, content: content, blocks: [][]byte{
		block(false, 0, 1000, content[:1000]),
		block(false, 0, 1000, content[1000:2000]),
		block(true, 0, 1000, content[2000:]),
	}}.bytes()
	r, err := NewReader(iotest.OneByteReader(bytes.NewReader(data)), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(r, content); err != nil {
		t.Fatal(err)
	}
}

func TestWindowLimit(t *testing.T) {
	if _, err := NewReader(bytes.NewReader(nil), 1000); err == nil {
		t.Fatal("a limit below 1 KiB was accepted")
	}
	if _, err := NewReader(bytes.NewReader(nil), math.MaxInt64); err == nil {
		t.Fatal("a limit that overflows the buffer size was accepted")
	}
}
