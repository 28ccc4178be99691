package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errXzFormat is returned for xz data whose framing is not valid.
var errXzFormat = errors.New("xz: malformed stream")

// checkXz reads the block headers of every stream in an xz file, found
// through each stream's index from the end of the file, and refuses a
// dictionary larger than maxDict: the decoder allocates the dictionary a
// block header asks for (up to 4 GiB) before reading any data.
func checkXz(r io.ReaderAt, size int64, maxDict int64) error {
	end := size
	for end > 0 {
		// Stream padding: zero bytes in groups of four.
		var word [4]byte
		for end >= 4 {
			if _, err := r.ReadAt(word[:], end-4); err != nil {
				return fmt.Errorf("xz: %w", err)
			}
			if word != [4]byte{} {
				break
			}
			end -= 4
		}
		if end < 24 {
			return errXzFormat
		}
		var footer [12]byte
		if _, err := r.ReadAt(footer[:], end-12); err != nil {
			return fmt.Errorf("xz: %w", err)
		}
		if footer[10] != 'Y' || footer[11] != 'Z' {
			return errXzFormat
		}
		indexSize := (int64(binary.LittleEndian.Uint32(footer[4:8])) + 1) * 4
		indexStart := end - 12 - indexSize
		if indexStart < 12 {
			return errXzFormat
		}
		index := make([]byte, indexSize)
		if _, err := r.ReadAt(index, indexStart); err != nil {
			return fmt.Errorf("xz: %w", err)
		}
		blocks, err := xzIndex(index)
		if err != nil {
			return err
		}
		var total int64
		for _, b := range blocks {
			total += (b + 3) &^ 3
		}
		start := indexStart - total - 12
		if start < 0 {
			return errXzFormat
		}
		at := start + 12
		for _, b := range blocks {
			if err := xzBlockHeader(r, at, maxDict); err != nil {
				return err
			}
			at += (b + 3) &^ 3
		}
		end = start
	}
	return nil
}

// xzIndex returns the unpadded sizes of the blocks an index lists.
func xzIndex(index []byte) ([]int64, error) {
	if len(index) < 8 || index[0] != 0 {
		return nil, errXzFormat
	}
	p := index[1:]
	n, ok := uvarint(&p)
	if !ok || n > uint64(len(p)) {
		return nil, errXzFormat
	}
	blocks := make([]int64, 0, n)
	for range n {
		unpadded, ok1 := uvarint(&p)
		_, ok2 := uvarint(&p)
		if !ok1 || !ok2 || unpadded < 5 || unpadded > 1<<62 {
			return nil, errXzFormat
		}
		blocks = append(blocks, int64(unpadded))
	}
	return blocks, nil
}

// xzBlockHeader checks the LZMA2 dictionary size of the block at off.
func xzBlockHeader(r io.ReaderAt, off int64, maxDict int64) error {
	var first [1]byte
	if _, err := r.ReadAt(first[:], off); err != nil {
		return fmt.Errorf("xz: %w", err)
	}
	if first[0] == 0 {
		return errXzFormat // an index where a block should be
	}
	h := make([]byte, (int(first[0])+1)*4)
	if _, err := r.ReadAt(h, off); err != nil {
		return fmt.Errorf("xz: %w", err)
	}
	flags := h[1]
	p := h[2 : len(h)-4]
	if flags&0x40 != 0 {
		if _, ok := uvarint(&p); !ok {
			return errXzFormat
		}
	}
	if flags&0x80 != 0 {
		if _, ok := uvarint(&p); !ok {
			return errXzFormat
		}
	}
	for range int(flags&3) + 1 {
		id, ok1 := uvarint(&p)
		n, ok2 := uvarint(&p)
		if !ok1 || !ok2 || n > uint64(len(p)) {
			return errXzFormat
		}
		props := p[:n]
		p = p[n:]
		if id == 0x21 { // LZMA2
			if len(props) != 1 || props[0] > 40 {
				return errXzFormat
			}
			b := props[0]
			dict := int64(1)<<32 - 1
			if b < 40 {
				dict = int64(2|b&1) << (b/2 + 11)
			}
			if dict > maxDict {
				return fmt.Errorf("%w: xz dictionary of %d bytes (over %d)", ErrLimit, dict, maxDict)
			}
		}
	}
	return nil
}

// uvarint reads xz's multibyte integer from *p and advances it.
func uvarint(p *[]byte) (uint64, bool) {
	v, n := binary.Uvarint(*p)
	if n <= 0 || n > 9 {
		return 0, false
	}
	*p = (*p)[n:]
	return v, true
}
