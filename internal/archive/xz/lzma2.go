package xz

import (
	"fmt"
)

// lzma2 decodes the LZMA2 data of one block: a sequence of chunks, each
// either stored or LZMA-compressed, whose control bytes say what to reset.
type lzma2 struct {
	in       *input
	d        *dict
	z        *lzmaDec
	dictSize int
	chunk    []byte

	needDictReset bool // no chunk has reset the dictionary yet
	needProps     bool // the next LZMA chunk must set properties
	lzmaLeft      int  // bytes the current LZMA chunk has yet to yield
	rawLeft       int  // bytes the current stored chunk has yet to yield
	eos           bool // the end-of-data control byte was read
}

// maxStep bounds the bytes one step decodes, so that a Read returns soon
// and what it copies out is still in the cache.
const maxStep = 64 << 10

// maxChunk is the most compressed bytes an LZMA2 chunk (or stored bytes a
// stored chunk) holds.
const maxChunk = 1 << 16

func (l *lzma2) start(in *input, d *dict, z *lzmaDec, dictSize int) {
	*l = lzma2{in: in, d: d, z: z, dictSize: dictSize, chunk: l.chunk, needDictReset: true, needProps: true}
}

// buf returns n bytes of the chunk buffer, which grows to maxChunk as
// chunks need.
func (l *lzma2) buf(n int) []byte {
	if cap(l.chunk) < n {
		l.chunk = make([]byte, min(maxChunk+rcPad, max(n, 2*cap(l.chunk))))
	}
	return l.chunk[:n]
}

// step decodes some bytes into the dictionary, whose unread bytes have all
// been copied out, or reads the next chunk's header. At most the
// dictionary's size is decoded, so nothing unread is overwritten.
func (l *lzma2) step() error {
	switch {
	case l.lzmaLeft > 0:
		n := min(l.lzmaLeft, l.d.size, maxStep)
		if err := l.z.decode(l.d, n); err != nil {
			return err
		}
		l.lzmaLeft -= n
		rc := &l.z.rc
		if rc.overrun() {
			return errOverrun
		}
		if l.lzmaLeft == 0 {
			if l.z.pending > 0 {
				return fmt.Errorf("xz: corrupt LZMA2 data: match runs past the end of its chunk")
			}
			if !rc.finish() {
				return errChunkEnd
			}
		}
		return nil
	case l.rawLeft > 0:
		n := min(l.rawLeft, l.d.size, maxStep)
		b := l.buf(n)
		if err := l.in.full(b, "LZMA2 stored chunk"); err != nil {
			return err
		}
		l.d.write(b)
		l.rawLeft -= n
		return nil
	}
	return l.header()
}

// header reads a chunk's control byte and header.
func (l *lzma2) header() error {
	control, err := l.in.byte("LZMA2 chunk")
	if err != nil {
		return err
	}
	if control == 0 {
		l.eos = true
		return nil
	}
	if control > 2 && control < 0x80 {
		return fmt.Errorf("xz: corrupt LZMA2 data: invalid control byte %#x", control)
	}
	if control >= 0xe0 || control == 1 {
		l.d.reset(l.dictSize)
		l.needDictReset = false
		l.needProps = true
	} else if l.needDictReset {
		return fmt.Errorf("xz: corrupt LZMA2 data: first chunk (control %#x) does not reset the dictionary", control)
	}
	var h [5]byte
	if control < 0x80 {
		if err := l.in.full(h[:2], "LZMA2 chunk header"); err != nil {
			return err
		}
		l.rawLeft = int(h[0])<<8 | int(h[1]) + 1
		return nil
	}
	hn := 4
	if control >= 0xc0 {
		hn = 5
	}
	if err := l.in.full(h[:hn], "LZMA2 chunk header"); err != nil {
		return err
	}
	usize := int(control&0x1f)<<16 | int(h[0])<<8 | int(h[1]) + 1
	csize := int(h[2])<<8 | int(h[3]) + 1
	if control >= 0xc0 {
		if err := l.z.setProps(h[4]); err != nil {
			return err
		}
		l.needProps = false
	} else if l.needProps {
		return fmt.Errorf("xz: corrupt LZMA2 data: chunk (control %#x) after a dictionary reset sets no properties", control)
	}
	if control >= 0xa0 {
		l.z.reset()
	}
	b := l.buf(csize + rcPad)
	if err := l.in.full(b[:csize], "LZMA2 chunk"); err != nil {
		return err
	}
	clear(b[csize:])
	if err := l.z.rc.init(b, csize); err != nil {
		return err
	}
	l.lzmaLeft = usize
	return nil
}
