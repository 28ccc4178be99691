// Package xz decodes the .xz file format: one or more streams, each a
// sequence of blocks compressed with LZMA2, an index and a footer,
// separated by stream padding. It also decodes LZMA1, as .lzma files and
// zip's method 14 store it (lzma1.go).
//
// It is written from the .xz file format specification (1.x) and the
// LZMA/LZMA2 format as publicly documented, so that gemscan need not link
// a general-purpose xz package: linked packages' initialisation costs every
// run's start-up, and this one computes nothing at init (the CRC-64 table
// is built by hash/crc64 on first use).
//
// Only what xz writes for ordinary files is supported: a filter chain of
// LZMA2 alone (a BCJ or delta filter is an error naming it) and the
// integrity checks none, CRC32, CRC64 and SHA-256. Everything the format
// lets a decoder verify is verified: header, block header, index and
// footer CRC32s, block sizes against their headers and the index, the
// backward size and each block's check. Malformed or truncated input is an
// error, never a short read.
package xz

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
)

// ErrDictTooLarge is wrapped by the error for a block whose LZMA2
// dictionary is larger than the limit NewReader was given.
var ErrDictTooLarge = errors.New("xz: dictionary larger than the limit")

// Check IDs.
const (
	checkNone   = 0x00
	checkCRC32  = 0x01
	checkCRC64  = 0x04
	checkSHA256 = 0x0a
)

const (
	headerMagic = "\xfd7zXZ\x00"
	footerMagic = "YZ"
	filterLZMA2 = 0x21
)

// Reader decodes an .xz file.
type Reader struct {
	in      input
	maxDict int64
	d       dict
	z       *lzmaDec
	l2      lzma2
	err     error // sticky: io.EOF at the end
	inBlock bool  // a block's data is being decoded

	// The current stream.
	flags   [2]byte
	check   byte
	blocks  uint64    // blocks decoded
	records hash.Hash // SHA-256 of the decoded blocks' index records
	sumUnp  uint64    // sums of the decoded blocks' unpadded sizes
	sumUnc  uint64    // and uncompressed sizes

	// The current block.
	hash      hash.Hash // its check, nil for none
	hashID    byte      // the check hash is for
	hdrSize   int64
	compStart int64 // input offset of its compressed data
	wantComp  int64 // compressed size its header declares, -1 if none
	wantUnc   int64 // uncompressed size its header declares, -1 if none
	unc       int64 // bytes decoded
}

// NewReader returns a Reader of the decompressed content of the .xz file
// r holds; it reads the first stream header, failing if r holds no xz
// data. A block asking for an LZMA2 dictionary over maxDict bytes is an
// error wrapping ErrDictTooLarge, raised before any memory is allocated
// for it: the dictionary is the decoder's memory (it grows with the output,
// up to the dictionary size).
func NewReader(r io.Reader, maxDict int64) (*Reader, error) {
	xr := &Reader{in: input{r: bufio.NewReaderSize(r, 16<<10)}, maxDict: maxDict}
	var h [12]byte
	if err := xr.in.full(h[:], "stream header"); err != nil {
		return nil, err
	}
	if err := xr.streamHeader(h); err != nil {
		return nil, err
	}
	return xr, nil
}

// Read reads decompressed bytes into p. At the end of the file, after
// everything in it was verified, it returns io.EOF.
func (r *Reader) Read(p []byte) (int, error) {
	for {
		if r.d.unread > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			n := r.d.read(p)
			if r.hash != nil {
				r.hash.Write(p[:n])
			}
			return n, nil
		}
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.advance()
	}
}

// advance does the next piece of work: decoding some of a block, or
// reading a block header, a block's end, an index and footer, or stream
// padding and the next stream's header.
func (r *Reader) advance() error {
	if !r.inBlock {
		return r.blockOrIndex()
	}
	if r.l2.eos {
		return r.blockEnd()
	}
	if err := r.l2.step(); err != nil {
		return err
	}
	r.unc += int64(r.d.unread)
	if r.wantUnc >= 0 && r.unc > r.wantUnc {
		return fmt.Errorf("xz: block holds more than the %d bytes its header declares", r.wantUnc)
	}
	if r.wantComp >= 0 && r.in.n-r.compStart > r.wantComp {
		return fmt.Errorf("xz: block's compressed data is longer than the %d bytes its header declares", r.wantComp)
	}
	return nil
}

func (r *Reader) streamHeader(h [12]byte) error {
	if string(h[:6]) != headerMagic {
		return errors.New("xz: not an xz stream (bad magic)")
	}
	if crc32.ChecksumIEEE(h[6:8]) != binary.LittleEndian.Uint32(h[8:]) {
		return errors.New("xz: stream header CRC32 mismatch")
	}
	if h[6] != 0 || h[7]&0xf0 != 0 {
		return fmt.Errorf("xz: unsupported stream flags %#x %#x", h[6], h[7])
	}
	switch c := h[7]; c {
	case checkNone, checkCRC32, checkCRC64, checkSHA256:
		r.check = c
	default:
		return fmt.Errorf("xz: unsupported check ID %#x", c)
	}
	r.flags = [2]byte{h[6], h[7]}
	r.blocks, r.sumUnp, r.sumUnc = 0, 0, 0
	if r.records == nil {
		r.records = sha256.New()
	} else {
		r.records.Reset()
	}
	return nil
}

// checkSize is the size of a check.
func checkSize(id byte) int64 {
	switch id {
	case checkCRC32:
		return 4
	case checkCRC64:
		return 8
	case checkSHA256:
		return 32
	}
	return 0
}

// blockOrIndex reads a block header, or the index if one comes instead.
func (r *Reader) blockOrIndex() error {
	start := r.in.n
	b, err := r.in.byte("block header")
	if err != nil {
		return err
	}
	if b == 0 {
		return r.index()
	}
	h := make([]byte, (int(b)+1)*4)
	h[0] = b
	if err := r.in.full(h[1:], "block header"); err != nil {
		return err
	}
	n := len(h)
	if crc32.ChecksumIEEE(h[:n-4]) != binary.LittleEndian.Uint32(h[n-4:]) {
		return errors.New("xz: block header CRC32 mismatch")
	}
	flags := h[1]
	if flags&0x3c != 0 {
		return fmt.Errorf("xz: unsupported block flags %#x", flags)
	}
	p := h[2 : n-4]
	r.wantComp, r.wantUnc = -1, -1
	if flags&0x40 != 0 {
		v, err := uvarint(&p)
		if err != nil || v == 0 {
			return errors.New("xz: block header: bad compressed size")
		}
		r.wantComp = int64(v)
	}
	if flags&0x80 != 0 {
		v, err := uvarint(&p)
		if err != nil {
			return errors.New("xz: block header: bad uncompressed size")
		}
		r.wantUnc = int64(v)
	}
	nf := int(flags&3) + 1
	var dictSize int64
	for i := range nf {
		id, err1 := uvarint(&p)
		size, err2 := uvarint(&p)
		if err1 != nil || err2 != nil || size > uint64(len(p)) {
			return errors.New("xz: block header: bad filter flags")
		}
		props := p[:size]
		p = p[size:]
		if id != filterLZMA2 {
			return fmt.Errorf("xz: unsupported filter %s", filterName(id))
		}
		if i != nf-1 {
			return errors.New("xz: unsupported filter chain: LZMA2 is not the last filter")
		}
		if len(props) != 1 || props[0] > 40 {
			return errors.New("xz: block header: bad LZMA2 properties")
		}
		dictSize = lzma2Dict(props[0])
	}
	if !allZero(p) {
		return errors.New("xz: block header: non-zero padding")
	}
	if dictSize > r.maxDict {
		return fmt.Errorf("%w: %d bytes (over %d)", ErrDictTooLarge, dictSize, r.maxDict)
	}
	if r.z == nil {
		r.z = new(lzmaDec)
	}
	r.l2.start(&r.in, &r.d, r.z, int(dictSize))
	r.hdrSize = r.in.n - start
	r.compStart = r.in.n
	r.unc = 0
	if r.check == checkNone {
		r.hash = nil
	} else if r.hash == nil || r.hashID != r.check {
		r.hash = newCheck(r.check)
		r.hashID = r.check
	} else {
		r.hash.Reset()
	}
	r.inBlock = true
	return nil
}

// newCheck returns the hash of a supported check other than none.
func newCheck(id byte) hash.Hash {
	switch id {
	case checkCRC32:
		return crc32.NewIEEE()
	case checkCRC64:
		// MakeTable builds its tables on first use, not at init.
		return crc64.New(crc64.MakeTable(crc64.ECMA))
	}
	return sha256.New()
}

// lzma2Dict is the dictionary size an LZMA2 properties byte (<= 40) says.
func lzma2Dict(b byte) int64 {
	if b == 40 {
		return 1<<32 - 1
	}
	return int64(2|b&1) << (b/2 + 11)
}

// filterName names a filter ID for an error.
func filterName(id uint64) string {
	names := [...]string{3: "delta", 4: "x86 BCJ", 5: "PowerPC BCJ", 6: "IA-64 BCJ", 7: "ARM BCJ",
		8: "ARM-Thumb BCJ", 9: "SPARC BCJ", 10: "ARM64 BCJ", 11: "RISC-V BCJ"}
	if id < uint64(len(names)) && names[id] != "" {
		return fmt.Sprintf("%s (ID %#x)", names[id], id)
	}
	return fmt.Sprintf("ID %#x (unknown)", id)
}

// blockEnd checks a block's sizes, padding and check once its LZMA2 data
// has ended and every decoded byte has been read (and hashed).
func (r *Reader) blockEnd() error {
	comp := r.in.n - r.compStart
	if r.wantComp >= 0 && comp != r.wantComp {
		return fmt.Errorf("xz: block's compressed size is %d, its header says %d", comp, r.wantComp)
	}
	if r.wantUnc >= 0 && r.unc != r.wantUnc {
		return fmt.Errorf("xz: block's uncompressed size is %d, its header says %d", r.unc, r.wantUnc)
	}
	var buf [32]byte
	if pad := -comp & 3; pad > 0 {
		if err := r.in.full(buf[:pad], "block padding"); err != nil {
			return err
		}
		if !allZero(buf[:pad]) {
			return errors.New("xz: non-zero block padding")
		}
	}
	cs := checkSize(r.check)
	if err := r.in.full(buf[:cs], "block check"); err != nil {
		return err
	}
	if !checkMatches(r.check, r.hash, buf[:cs]) {
		return fmt.Errorf("xz: block check (%s) mismatch: corrupt data", checkName(r.check))
	}
	unpadded := uint64(r.hdrSize + comp + cs)
	var rec [16]byte
	binary.LittleEndian.PutUint64(rec[:8], unpadded)
	binary.LittleEndian.PutUint64(rec[8:], uint64(r.unc))
	r.records.Write(rec[:])
	r.blocks++
	r.sumUnp += unpadded
	r.sumUnc += uint64(r.unc)
	r.inBlock = false
	return nil
}

func checkName(id byte) string {
	switch id {
	case checkCRC32:
		return "CRC32"
	case checkCRC64:
		return "CRC64"
	}
	return "SHA-256"
}

// checkMatches compares a block's stored check with the hash of its data.
func checkMatches(id byte, h hash.Hash, stored []byte) bool {
	switch id {
	case checkNone:
		return true
	case checkCRC32:
		return h.(hash.Hash32).Sum32() == binary.LittleEndian.Uint32(stored)
	case checkCRC64:
		return h.(hash.Hash64).Sum64() == binary.LittleEndian.Uint64(stored)
	}
	var sum [sha256.Size]byte
	return bytes.Equal(h.Sum(sum[:0]), stored)
}

// index reads the index (its indicator byte already read) and the stream
// footer, and compares them with the blocks decoded; then the stream
// padding and the next stream's header, or the end of the file.
func (r *Reader) index() error {
	crc := crc32.NewIEEE()
	var one [1]byte // the indicator byte, then each byte read
	crc.Write(one[:])
	size := int64(1)
	next := func() (uint64, error) {
		var v uint64
		for i := 0; i < 9; i++ {
			b, err := r.in.byte("index")
			if err != nil {
				return 0, err
			}
			one[0] = b
			crc.Write(one[:])
			size++
			if i > 0 && b == 0 {
				return 0, errors.New("xz: index: bad integer")
			}
			v |= uint64(b&0x7f) << (7 * i)
			if b&0x80 == 0 {
				return v, nil
			}
		}
		return 0, errors.New("xz: index: bad integer")
	}
	count, err := next()
	if err != nil {
		return err
	}
	if count != r.blocks {
		return fmt.Errorf("xz: index lists %d blocks, the stream holds %d", count, r.blocks)
	}
	recs := sha256.New()
	var sumUnp, sumUnc uint64
	for range count {
		unp, err := next()
		if err != nil {
			return err
		}
		unc, err := next()
		if err != nil {
			return err
		}
		var rec [16]byte
		binary.LittleEndian.PutUint64(rec[:8], unp)
		binary.LittleEndian.PutUint64(rec[8:], unc)
		recs.Write(rec[:])
		sumUnp += unp
		sumUnc += unc
	}
	var sum1, sum2 [sha256.Size]byte
	if sumUnp != r.sumUnp || sumUnc != r.sumUnc || !bytes.Equal(recs.Sum(sum1[:0]), r.records.Sum(sum2[:0])) {
		return errors.New("xz: index does not match the blocks")
	}
	var buf [12]byte
	if pad := -size & 3; pad > 0 {
		if err := r.in.full(buf[:pad], "index padding"); err != nil {
			return err
		}
		if !allZero(buf[:pad]) {
			return errors.New("xz: non-zero index padding")
		}
		crc.Write(buf[:pad])
		size += pad
	}
	if err := r.in.full(buf[:4], "index"); err != nil {
		return err
	}
	if crc.Sum32() != binary.LittleEndian.Uint32(buf[:4]) {
		return errors.New("xz: index CRC32 mismatch")
	}
	size += 4
	if err := r.in.full(buf[:12], "stream footer"); err != nil {
		return err
	}
	if crc32.ChecksumIEEE(buf[4:10]) != binary.LittleEndian.Uint32(buf[:4]) {
		return errors.New("xz: stream footer CRC32 mismatch")
	}
	if string(buf[10:]) != footerMagic {
		return errors.New("xz: bad stream footer magic")
	}
	if [2]byte(buf[8:10]) != r.flags {
		return errors.New("xz: stream footer flags differ from the header's")
	}
	if back := (int64(binary.LittleEndian.Uint32(buf[4:8])) + 1) * 4; back != size {
		return fmt.Errorf("xz: stream footer's backward size %d, the index has %d bytes", back, size)
	}
	return r.nextStream()
}

// nextStream reads stream padding (zero bytes, four at a time) and the
// next stream's header, or returns io.EOF at the end of the file.
func (r *Reader) nextStream() error {
	for {
		var h [12]byte
		n, err := io.ReadFull(r.in.r, h[:4])
		r.in.n += int64(n)
		if n == 0 && errors.Is(err, io.EOF) {
			return io.EOF
		}
		if err != nil {
			return fmt.Errorf("xz: stream padding: %w", unexpected(err))
		}
		if h[0]|h[1]|h[2]|h[3] == 0 {
			continue
		}
		if err := r.in.full(h[4:], "stream header"); err != nil {
			return err
		}
		return r.streamHeader(h)
	}
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

// uvarint reads xz's variable-length integer (at most 9 bytes, no
// redundant trailing zero byte) from *p and advances it.
func uvarint(p *[]byte) (uint64, error) {
	var v uint64
	for i := 0; i < 9 && i < len(*p); i++ {
		b := (*p)[i]
		if i > 0 && b == 0 {
			break
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			*p = (*p)[i+1:]
			return v, nil
		}
	}
	return 0, errors.New("xz: bad integer")
}

// input counts the bytes read from the file.
type input struct {
	r *bufio.Reader
	n int64
}

// unexpected turns the end of input where more was needed into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// full fills p, what naming the part of the file read.
func (in *input) full(p []byte, what string) error {
	n, err := io.ReadFull(in.r, p)
	in.n += int64(n)
	if err != nil {
		return fmt.Errorf("xz: %s: %w", what, unexpected(err))
	}
	return nil
}

func (in *input) byte(what string) (byte, error) {
	b, err := in.r.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("xz: %s: %w", what, unexpected(err))
	}
	in.n++
	return b, nil
}
