package xz

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// LZMA1 is LZMA alone, as the .lzma format (the "LZMA alone" files of
// LZMA Utils, xz --format=lzma) and zip's method 14 store it: one range
// coded stream of unknown compressed length, ended by its declared
// uncompressed size or by an end marker. It reuses the LZMA2 decoder: the
// range decoder reads from a buffer that is refilled between steps, each
// step decoding no more bytes than the buffered input is sure to hold.

const (
	// lzma1Buf is the input LZMA1Reader holds; it refills when less than
	// lzma1Refill bytes of it are left to decode.
	lzma1Buf    = 64 << 10
	lzma1Refill = 16 << 10
	// maxSymbolIn bounds the input bytes one symbol reads: one per bit,
	// fewer than 50 bits (see rangeDec). Decoding n bytes, at least one a
	// symbol, reads at most maxSymbolIn*n bytes.
	maxSymbolIn = 50
	// minLZMA1Dict is the smallest dictionary an LZMA1 decoder uses,
	// whatever the header says (as the reference decoder does).
	minLZMA1Dict = 4096
	// alonePicky bounds the uncompressed size a .lzma header may declare
	// for Alone to accept it (as xz does): larger ones are not .lzma.
	alonePicky = 1 << 38
)

// ErrLZMAProps is wrapped by the error for LZMA1 properties this decoder
// does not support: lc + lp over 4 (LZMA1 allows lc up to 8; no common
// encoder writes more than 4, which is LZMA2's limit).
var ErrLZMAProps = errors.New("lzma: lc + lp over 4 is not supported")

// LZMA1Reader decodes LZMA1 data.
type LZMA1Reader struct {
	r    io.Reader
	buf  []byte // input: lzma1Buf bytes and rcPad more
	eof  bool   // r is exhausted: buf holds the last of the input
	d    dict
	z    lzmaDec
	left int64 // bytes still to decode; -1 when an end marker ends the data
	err  error // sticky: io.EOF at the end
}

// AloneHeaderLen is the size of a .lzma file's header: the properties
// byte, the dictionary size (4 bytes) and the uncompressed size (8 bytes,
// all ones when an end marker ends the data).
const AloneHeaderLen = 13

// IsAlone reports whether h, a file's first bytes (at least
// AloneHeaderLen+1 of them), looks like a .lzma header followed by LZMA
// data, by xz's rules for telling .lzma from other data: a valid
// properties byte, a dictionary size of 2^n or 2^n + 2^(n-1) (at least
// 4 KiB, which xz does not ask: a run of zero bytes is not .lzma), an
// uncompressed size that is unknown or under 256 GiB, and a range coder
// that starts with a zero byte.
func IsAlone(h []byte) bool {
	if len(h) < AloneHeaderLen+1 || h[0] >= 9*5*5 || h[AloneHeaderLen] != 0 {
		return false
	}
	dict := binary.LittleEndian.Uint32(h[1:5])
	if dict < minLZMA1Dict {
		return false // no encoder writes one (and zeros would pass)
	}
	if dict != 0xFFFFFFFF {
		// Round up to 2^n or 2^n + 2^(n-1): the first shift by 2, not 1,
		// keeps the bit below the top one as it is.
		d := dict - 1
		d |= d >> 2
		d |= d >> 3
		d |= d >> 4
		d |= d >> 8
		d |= d >> 16
		if d+1 != dict {
			return false
		}
	}
	size := binary.LittleEndian.Uint64(h[5:13])
	return size == 1<<64-1 || size < alonePicky
}

// NewAloneReader returns a reader of the .lzma file r holds. A dictionary
// over maxDict bytes is an error wrapping ErrDictTooLarge, raised before
// any memory is allocated for it.
func NewAloneReader(r io.Reader, maxDict int64) (*LZMA1Reader, error) {
	var h [AloneHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("lzma: header: %w", unexpected(err))
	}
	size := int64(-1)
	if s := binary.LittleEndian.Uint64(h[5:]); s != 1<<64-1 {
		if s >= 1<<63 {
			return nil, fmt.Errorf("lzma: header: uncompressed size %d out of range", s)
		}
		size = int64(s)
	}
	return NewLZMA1Reader(r, h[0], binary.LittleEndian.Uint32(h[1:5]), size, maxDict)
}

// NewZipLZMAReader returns a reader of a zip member compressed with method
// 14 (LZMA): a 4-byte header (the LZMA SDK's version, 2 bytes, and the
// properties' size, 2 bytes, always 5), the 5 properties bytes, then LZMA
// data. size is the member's uncompressed size, -1 if unknown (then an end
// marker must end the data). Limits are as for NewAloneReader.
func NewZipLZMAReader(r io.Reader, size, maxDict int64) (*LZMA1Reader, error) {
	var h [9]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("lzma: zip LZMA header: %w", unexpected(err))
	}
	if n := binary.LittleEndian.Uint16(h[2:4]); n != 5 {
		return nil, fmt.Errorf("lzma: zip LZMA header: properties size %d, want 5", n)
	}
	return NewLZMA1Reader(r, h[4], binary.LittleEndian.Uint32(h[5:9]), size, maxDict)
}

// NewLZMA1Reader returns a reader of the LZMA1 data r holds, encoded with
// the properties byte props (lc, lp and pb) and a dictionary of dictSize
// bytes, decoding size bytes or, if size is -1, up to an end marker.
// Limits are as for NewAloneReader; properties this decoder does not
// support are an error wrapping ErrLZMAProps.
func NewLZMA1Reader(r io.Reader, props byte, dictSize uint32, size, maxDict int64) (*LZMA1Reader, error) {
	if props >= 9*5*5 {
		return nil, fmt.Errorf("lzma: properties byte %#x out of range", props)
	}
	if lc, lp := props%9, props/9%5; lc+lp > maxLcLp {
		return nil, fmt.Errorf("%w (lc=%d, lp=%d)", ErrLZMAProps, lc, lp)
	}
	dict := max(int64(dictSize), minLZMA1Dict)
	if dict > maxDict {
		return nil, fmt.Errorf("%w: %d bytes (over %d)", ErrDictTooLarge, dict, maxDict)
	}
	lr := &LZMA1Reader{r: r, left: size}
	if err := lr.z.setProps(props); err != nil {
		return nil, err
	}
	lr.z.reset()
	lr.d.reset(int(dict))
	lr.buf = make([]byte, 0, lzma1Buf+rcPad)
	if err := lr.fill(); err != nil {
		return nil, err
	}
	if err := lr.z.rc.init(lr.buf[:cap(lr.buf)], len(lr.buf)); err != nil {
		if errors.Is(err, errTinyChunk) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("lzma: %w", err)
	}
	return lr, nil
}

// fill moves the input not yet decoded to the buffer's start and reads
// more after it, up to lzma1Buf bytes or the end of the input, after which
// the buffer holds zeros (the range decoder's padding).
func (lr *LZMA1Reader) fill() error {
	rc := &lr.z.rc
	if rc.in != nil {
		lr.buf = lr.buf[:copy(lr.buf[:cap(lr.buf)], lr.buf[rc.pos:rc.end])]
		rc.end -= rc.pos
		rc.pos = 0
	}
	for empty := 0; len(lr.buf) < lzma1Buf && !lr.eof; {
		n, err := lr.r.Read(lr.buf[len(lr.buf):lzma1Buf])
		lr.buf = lr.buf[:len(lr.buf)+n]
		if empty++; n > 0 {
			empty = 0
		}
		switch {
		case errors.Is(err, io.EOF):
			lr.eof = true
		case err != nil:
			return fmt.Errorf("lzma: read: %w", err)
		case empty >= 100: // as io.ReadFull's callers give up
			return fmt.Errorf("lzma: read: %w", io.ErrNoProgress)
		}
	}
	if lr.eof {
		clear(lr.buf[len(lr.buf):cap(lr.buf)])
	}
	if rc.in != nil {
		rc.in = lr.buf[:cap(lr.buf)]
		rc.end = len(lr.buf)
	}
	return nil
}

// Read reads decompressed bytes into p; at the end of the data it returns
// io.EOF, and truncated data is an error wrapping io.ErrUnexpectedEOF.
func (lr *LZMA1Reader) Read(p []byte) (int, error) {
	for {
		if lr.d.unread > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			return lr.d.read(p), nil
		}
		if lr.err != nil {
			return 0, lr.err
		}
		lr.err = lr.step()
	}
}

// step decodes some bytes into the dictionary, whose unread bytes have all
// been copied out: at most its size, and no more than the buffered input
// is sure to hold.
func (lr *LZMA1Reader) step() error {
	rc := &lr.z.rc
	if !lr.eof && rc.end-rc.pos < lzma1Refill {
		if err := lr.fill(); err != nil {
			return err
		}
	}
	if lr.left == 0 {
		return lr.sizeEnd()
	}
	n := min(lr.d.size, maxStep)
	if lr.left > 0 {
		n = int(min(int64(n), lr.left))
	}
	if !lr.eof {
		n = max(1, min(n, (rc.end-rc.pos)/maxSymbolIn))
	}
	err := lr.z.decode(&lr.d, n)
	if rc.overrun() {
		return fmt.Errorf("lzma: %w", io.ErrUnexpectedEOF)
	}
	switch {
	case errors.Is(err, errEndMarker):
		if lr.left > 0 {
			return fmt.Errorf("lzma: corrupt data: end marker %d bytes before the uncompressed size", lr.left)
		}
		return lr.flushed("the end marker")
	case errors.Is(err, errOverrun):
		return fmt.Errorf("lzma: %w", io.ErrUnexpectedEOF)
	case err != nil:
		return err
	}
	if lr.left > 0 {
		lr.left -= int64(n)
	}
	return nil
}

// flushed checks that the range coder ends where the data does (after
// what): normalized, its code zero, no byte read past the input. It
// returns io.EOF if so.
func (lr *LZMA1Reader) flushed(what string) error {
	rc := &lr.z.rc
	if rc.rng < 1<<24 {
		rc.rng <<= 8
		rc.code = rc.code<<8 | uint32(rc.in[rc.pos])
		rc.pos++
	}
	if rc.overrun() {
		return fmt.Errorf("lzma: %w", io.ErrUnexpectedEOF)
	}
	if rc.code != 0 {
		return fmt.Errorf("lzma: corrupt data: the range coder does not end after %s", what)
	}
	return io.EOF
}

// sizeEnd ends data whose declared size was decoded: the range coder ends
// there, or an end marker follows (as the xz tools accept).
func (lr *LZMA1Reader) sizeEnd() error {
	if lr.z.pending > 0 {
		return errors.New("lzma: corrupt data: a match runs past the uncompressed size")
	}
	rc := &lr.z.rc
	saved := *rc
	if err := lr.flushed("the uncompressed size"); err == io.EOF {
		return err
	}
	*rc = saved
	err := lr.z.decode(&lr.d, 1)
	switch {
	case rc.overrun(), errors.Is(err, errOverrun):
		return fmt.Errorf("lzma: %w", io.ErrUnexpectedEOF)
	case errors.Is(err, errEndMarker):
		return lr.flushed("the end marker")
	case err == nil:
		lr.d.unread = 0 // not part of the data
		return errors.New("lzma: corrupt data: more data than the uncompressed size")
	}
	return err
}
