package odb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// CommitInfo is what history scanning needs of a commit.
type CommitInfo struct {
	Tree    plumbing.Hash
	Parents []plumbing.Hash
	// Author is "Name <email>"; AuthorTime and AuthorZone (seconds east
	// of UTC) are the author date: see When.
	Author     string
	AuthorTime int64
	AuthorZone int
	// CommitTime is the committer date, in Unix seconds.
	CommitTime int64
}

var errBadObject = errors.New("malformed object")

// ParseCommit decodes a commit object's headers.
func ParseCommit(data []byte) (CommitInfo, error) {
	var c CommitInfo
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			nl = len(data)
		}
		line := data[:nl]
		if len(line) == 0 {
			break // end of headers
		}
		data = data[min(nl+1, len(data)):]
		key, val, _ := bytes.Cut(line, []byte{' '})
		switch string(key) {
		case "tree":
			h, ok := hashFromHex(string(val))
			if !ok {
				return c, fmt.Errorf("%w: bad tree line", errBadObject)
			}
			c.Tree = h
		case "parent":
			h, ok := hashFromHex(string(val))
			if !ok {
				return c, fmt.Errorf("%w: bad parent line", errBadObject)
			}
			c.Parents = append(c.Parents, h)
		case "author":
			c.Author, c.AuthorTime, c.AuthorZone = parseSignature(val)
		case "committer":
			_, c.CommitTime, _ = parseSignature(val)
		}
	}
	if c.Tree.IsZero() {
		return c, fmt.Errorf("%w: commit without a tree", errBadObject)
	}
	return c, nil
}

// When returns the author date in the author's time zone.
func (c CommitInfo) When() time.Time {
	t := time.Unix(c.AuthorTime, 0)
	if c.AuthorZone == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", c.AuthorZone))
}

// parseSignature splits "Name <email> 1700000000 +0100" into the person,
// the Unix time and the zone's offset in seconds.
func parseSignature(b []byte) (string, int64, int) {
	gt := bytes.LastIndexByte(b, '>')
	if gt < 0 {
		return string(b), 0, 0
	}
	who := string(b[:gt+1])
	rest := bytes.Fields(b[gt+1:])
	if len(rest) == 0 {
		return who, 0, 0
	}
	sec, err := strconv.ParseInt(string(rest[0]), 10, 64)
	if err != nil {
		return who, 0, 0
	}
	zone := 0
	if len(rest) > 1 && len(rest[1]) == 5 {
		tz := rest[1]
		h, _ := strconv.Atoi(string(tz[1:3]))
		m, _ := strconv.Atoi(string(tz[3:5]))
		zone = (h*60 + m) * 60
		if tz[0] == '-' {
			zone = -zone
		}
	}
	return who, sec, zone
}

// TreeEntry is one entry of a tree object.
type TreeEntry struct {
	Name string
	Mode uint32
	Hash plumbing.Hash
}

// Tree entry modes.
const (
	ModeTree    = 0o040000
	ModeGitlink = 0o160000
	ModeSymlink = 0o120000
)

// IsTree reports whether the entry is a subdirectory. Modes are read by
// their type bits, as git reads them (canon_mode): git writes 40000, but
// takes 40755 for a directory too, and a forged tree may write it.
func (e TreeEntry) IsTree() bool { return isTree(e.Mode) }

// IsBlob reports whether the entry is a file (regular, executable or link),
// by its type bits as IsTree.
func (e TreeEntry) IsBlob() bool { return isBlob(e.Mode) }

func isTree(mode uint32) bool { return mode&0o170000 == 0o040000 }

func isBlob(mode uint32) bool {
	t := mode & 0o170000
	return t == 0o100000 || t == 0o120000
}

// ParseTree decodes a tree object.
func ParseTree(data []byte) ([]TreeEntry, error) {
	var out []TreeEntry
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("%w: bad tree entry", errBadObject)
		}
		mode, err := strconv.ParseUint(string(data[:sp]), 8, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: bad tree mode", errBadObject)
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 || nul+21 > len(data) {
			return nil, fmt.Errorf("%w: truncated tree entry", errBadObject)
		}
		e := TreeEntry{Name: string(data[:nul]), Mode: uint32(mode)}
		copy(e.Hash[:], data[nul+1:nul+21])
		out = append(out, e)
		data = data[nul+21:]
	}
	return out, nil
}

// ParseTag returns the object a tag points at and its type.
func ParseTag(data []byte) (plumbing.Hash, Type, error) {
	var h plumbing.Hash
	var t Type
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl <= 0 {
			break
		}
		key, val, _ := bytes.Cut(data[:nl], []byte{' '})
		switch string(key) {
		case "object":
			var ok bool
			if h, ok = hashFromHex(string(val)); !ok {
				return h, 0, fmt.Errorf("%w: bad tag object line", errBadObject)
			}
		case "type":
			t, _ = parseType(string(val))
		}
		data = data[nl+1:]
	}
	if h.IsZero() || t == 0 {
		return h, 0, fmt.Errorf("%w: tag without a target", errBadObject)
	}
	return h, t, nil
}

// RawEntry is a tree entry whose name points into the tree's data.
type RawEntry struct {
	Name []byte
	Mode uint32
	Hash plumbing.Hash
}

// IsTree reports whether the entry is a subdirectory (see TreeEntry.IsTree).
func (e RawEntry) IsTree() bool { return isTree(e.Mode) }

// IsBlob reports whether the entry is a file (see TreeEntry.IsBlob).
func (e RawEntry) IsBlob() bool { return isBlob(e.Mode) }

// TreeIter walks a tree object's entries without allocating.
type TreeIter struct {
	Data []byte
}

// Next returns the next entry, or false at the end.
func (it *TreeIter) Next() (RawEntry, bool, error) {
	var e RawEntry
	d := it.Data
	if len(d) == 0 {
		return e, false, nil
	}
	i := 0
	for ; i < len(d) && d[i] != ' '; i++ {
		c := d[i]
		if c < '0' || c > '7' || i > 7 {
			return e, false, fmt.Errorf("%w: bad tree mode", errBadObject)
		}
		e.Mode = e.Mode<<3 | uint32(c-'0')
	}
	if i == 0 || i >= len(d) {
		return e, false, fmt.Errorf("%w: bad tree entry", errBadObject)
	}
	d = d[i+1:]
	nul := bytes.IndexByte(d, 0)
	if nul < 0 || nul+21 > len(d) {
		return e, false, fmt.Errorf("%w: truncated tree entry", errBadObject)
	}
	e.Name = d[:nul]
	copy(e.Hash[:], d[nul+1:nul+21])
	it.Data = d[nul+21:]
	return e, true, nil
}

// CompareEntries orders tree entries as git sorts them: by name, with a
// directory's name compared as if it ended in "/".
func CompareEntries(a, b RawEntry) int {
	n := min(len(a.Name), len(b.Name))
	if c := bytes.Compare(a.Name[:n], b.Name[:n]); c != 0 {
		return c
	}
	ca, cb := byte(0), byte(0)
	if len(a.Name) > n {
		ca = a.Name[n]
	} else if a.IsTree() {
		ca = '/'
	}
	if len(b.Name) > n {
		cb = b.Name[n]
	} else if b.IsTree() {
		cb = '/'
	}
	switch {
	case ca < cb:
		return -1
	case ca > cb:
		return 1
	}
	return 0
}

// The modes git writes, with their space, as little-endian words:
// "100644 ", "100755 ", "120000 ", "160000 " and "40000 ".
const (
	modeFile    = 0x20343436303031
	modeExec    = 0x20353537303031
	modeLink    = 0x20303030303231
	modeGitlink = 0x20303030303631
	modeDir     = 0x203030303034
)

// commonPrefix returns how many bytes a and b start with in common. It
// compares blocks with bytes.Equal (vector instructions) first: a diff
// compares gigabytes of identical tree bytes.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	const block = 256
	for i+block <= n && bytes.Equal(a[i:i+block], b[i:i+block]) {
		i += block
	}
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// SkipSame advances it and other past the entries both start with, byte
// for byte the same (mode, name and object), and returns how many it
// skipped. Diffing a tree against its parent's, most entries are such:
// comparing their bytes costs far less than decoding and ordering each.
// It stops before the first entry that differs or is not well formed,
// which Next then decodes or reports.
func (it *TreeIter) SkipSame(other *TreeIter) int {
	a := it.Data
	same := commonPrefix(a, other.Data)
	n, at := countEntries(a[:same])
	it.Data, other.Data = a[at:], other.Data[at:]
	return n
}

// countEntries returns how many well-formed entries d starts with, and
// where they end, checking each as Next does. It reads eight bytes at a
// time: a diff steps over millions of entries with it.
func countEntries(d []byte) (n, at int) {
	// Offsets into d rather than re-sliced rests: the loop then keeps its
	// state in registers.
	for {
		i := 0 // the name's start
		if at+8 <= len(d) {
			w := binary.LittleEndian.Uint64(d[at:])
			switch w & 0x00ffffffffffffff {
			case modeFile, modeExec, modeLink, modeGitlink:
				i = at + 7
			default:
				if w&0x0000ffffffffffff == modeDir {
					i = at + 6
				}
			}
		}
		if i == 0 {
			m := modeLen(d[at:])
			if m == 0 {
				return n, at
			}
			i = at + m
		}
		// The name ends at the first NUL.
		j := i
		for ; j+8 <= len(d); j += 8 {
			w := binary.LittleEndian.Uint64(d[j:])
			if z := (w - 0x0101010101010101) &^ w & 0x8080808080808080; z != 0 {
				j += bits.TrailingZeros64(z) / 8
				goto found
			}
		}
		for j < len(d) && d[j] != 0 {
			j++
		}
	found:
		if j+21 > len(d) {
			return n, at
		}
		at = j + 21
		n++
	}
}

// modeLen returns the length of the mode and its space at the start of d,
// or 0 when d does not start with one.
func modeLen(d []byte) int {
	i := 0
	for ; i < len(d) && d[i] != ' '; i++ {
		if d[i]-'0' > 7 || i > 7 {
			return 0
		}
	}
	if i == 0 || i >= len(d) {
		return 0
	}
	return i + 1
}
