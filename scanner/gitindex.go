package scanner

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing"
)

// indexEntry is what the staged scan needs of one index entry.
type indexEntry struct {
	Name        string
	Mode        uint32
	Hash        plumbing.Hash
	Stage       uint8
	IntentToAdd bool
}

// Index entry modes.
const (
	modeTree    = 0o040000 // a sparse index's collapsed directory
	modeSymlink = 0o120000
	modeGitlink = 0o160000
)

var errBadIndex = errors.New("malformed index")

// errSplitIndex is returned for a split index, which gemscan does not read:
// judging only part of the entries could pass a commit it should block.
var errSplitIndex = errors.New("the index is split (core.splitIndex), which gemscan cannot read; " +
	"run 'git update-index --no-split-index' (and 'git config core.splitIndex false')")

// parseIndex reads the entries of a git index (versions 2, 3 and 4). The
// entries' names share data's memory, which must not change afterwards.
//
// go-git's index decoder reads each field through encoding/binary's
// reflection and hashes the whole file: about 14 ms on an index of 11.5k
// entries, more than the whole pre-commit budget. This reads only the
// fields the scan needs, straight from the bytes; TestParseIndexMatchesGoGit
// checks it against go-git's decoder on real indexes of every version.
func parseIndex(data []byte) ([]indexEntry, error) {
	entries, _, err := parseIndexWithTree(data)
	return entries, err
}

// parseIndexWithTree is parseIndex that also reads the cache-tree (TREE)
// extension, nil when the index has none.
func parseIndexWithTree(data []byte) ([]indexEntry, *cacheTree, error) {
	if len(data) < 12 || string(data[:4]) != "DIRC" {
		return nil, nil, fmt.Errorf("%w: no DIRC signature", errBadIndex)
	}
	version := binary.BigEndian.Uint32(data[4:8])
	if version < 2 || version > 4 {
		return nil, nil, fmt.Errorf("%w: unsupported version %d", errBadIndex, version)
	}
	count := int(binary.BigEndian.Uint32(data[8:12]))
	if count > len(data)/40 {
		return nil, nil, fmt.Errorf("%w: %d entries cannot fit", errBadIndex, count)
	}
	out := make([]indexEntry, count)
	// Names are substrings of one string view of the index: no copy per
	// entry. The caller must not modify data afterwards.
	names := unsafe.String(&data[0], len(data))
	pos := 12
	var prev string
	for i := range out {
		const fixed = 62 // stat data (40), hash (20), flags (2)
		if pos+fixed > len(data) {
			return nil, nil, fmt.Errorf("%w: truncated entry %d", errBadIndex, i)
		}
		start := pos
		e := &out[i]
		e.Mode = binary.BigEndian.Uint32(data[pos+24:])
		copy(e.Hash[:], data[pos+40:pos+60])
		flags := binary.BigEndian.Uint16(data[pos+60:])
		e.Stage = uint8(flags >> 12 & 3)
		pos += fixed
		if flags&0x4000 != 0 {
			if version < 3 || pos+2 > len(data) {
				return nil, nil, fmt.Errorf("%w: extended flags in entry %d", errBadIndex, i)
			}
			e.IntentToAdd = binary.BigEndian.Uint16(data[pos:])&0x2000 != 0
			pos += 2
		}
		if version == 4 {
			strip, n := binary.Uvarint(data[pos:])
			if n <= 0 || int(strip) > len(prev) {
				return nil, nil, fmt.Errorf("%w: bad name prefix in entry %d", errBadIndex, i)
			}
			pos += n
			end := bytes.IndexByte(data[pos:], 0)
			if end < 0 {
				return nil, nil, fmt.Errorf("%w: unterminated name in entry %d", errBadIndex, i)
			}
			e.Name = prev[:len(prev)-int(strip)] + string(data[pos:pos+end])
			pos += end + 1
			prev = e.Name
			continue
		}
		end := bytes.IndexByte(data[pos:], 0)
		if end < 0 {
			return nil, nil, fmt.Errorf("%w: unterminated name in entry %d", errBadIndex, i)
		}
		e.Name = names[pos : pos+end]
		// Entries are padded with 1 to 8 NULs to a multiple of 8 bytes.
		pos = start + (pos+end-start+8)&^7
		if pos > len(data) {
			return nil, nil, fmt.Errorf("%w: truncated entry %d", errBadIndex, i)
		}
	}
	tree, err := readExtensions(data[pos:])
	if err != nil {
		return nil, nil, err
	}
	return out, tree, nil
}

// cacheTree is one directory of the index's cache-tree extension: the tree
// hash git would write for it, when still valid.
type cacheTree struct {
	name  string
	count int // index entries the directory covers; < 0 when invalid
	hash  plumbing.Hash
	kids  []*cacheTree
}

func (c *cacheTree) valid() bool { return c != nil && c.count >= 0 }

// child returns the subdirectory named name, or nil.
func (c *cacheTree) child(name string) *cacheTree {
	if c == nil {
		return nil
	}
	for _, k := range c.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

// readExtensions reads the extensions after the entries and returns the
// cache-tree, if any. The index's trailing checksum is left alone.
func readExtensions(data []byte) (*cacheTree, error) {
	var tree *cacheTree
	for len(data) >= 8+20 {
		sig, size := string(data[:4]), int(binary.BigEndian.Uint32(data[4:8]))
		if size < 0 || 8+size > len(data) {
			return nil, fmt.Errorf("%w: truncated %q extension", errBadIndex, sig)
		}
		if sig == "link" {
			// core.splitIndex: most entries live in a shared index file.
			return nil, errSplitIndex
		}
		if sig == "TREE" && size > 0 {
			t, rest, err := parseCacheTree(data[8 : 8+size])
			if err != nil || len(rest) != 0 {
				// A cache-tree is an optimisation: do without it.
				tree = nil
			} else {
				tree = t
			}
		}
		data = data[8+size:]
	}
	return tree, nil
}

// parseCacheTree reads one cache-tree entry and its subtrees.
func parseCacheTree(b []byte) (*cacheTree, []byte, error) {
	nul := bytes.IndexByte(b, 0)
	if nul < 0 {
		return nil, nil, errBadIndex
	}
	t := &cacheTree{name: string(b[:nul])}
	b = b[nul+1:]
	sp := bytes.IndexByte(b, ' ')
	nl := bytes.IndexByte(b, '\n')
	if sp < 0 || nl < sp {
		return nil, nil, errBadIndex
	}
	count, err1 := strconv.Atoi(string(b[:sp]))
	subtrees, err2 := strconv.Atoi(string(b[sp+1 : nl]))
	if err1 != nil || err2 != nil || subtrees < 0 {
		return nil, nil, errBadIndex
	}
	t.count = count
	b = b[nl+1:]
	if count >= 0 {
		if len(b) < 20 {
			return nil, nil, errBadIndex
		}
		copy(t.hash[:], b[:20])
		b = b[20:]
	}
	for i := 0; i < subtrees; i++ {
		k, rest, err := parseCacheTree(b)
		if err != nil {
			return nil, nil, err
		}
		t.kids = append(t.kids, k)
		b = rest
	}
	return t, b, nil
}
