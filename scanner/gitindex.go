package scanner

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing"
)

// indexEntry is one index entry, as parseIndex returns them (the staged
// scan reads them from indexEntries instead).
type indexEntry struct {
	Name        string
	hashAt      uint32 // where the entry's object name is in the index file
	Mode        uint16 // git's modes fit: 0o100644, 0o120000, 0o160000…
	Stage       uint8
	IntentToAdd bool
}

// hash returns the entry's object name from index, the file parsed.
func (e *indexEntry) hash(index []byte) plumbing.Hash {
	return plumbing.Hash(index[e.hashAt : e.hashAt+20])
}

// indexEntries are the entries of an index file, read from its bytes on
// demand: 8 bytes an entry in versions 2 and 3, where a fresh process
// faults in every page it writes (11.5k entries as indexEntry: 276 KB,
// 68 page faults, a quarter of a millisecond of a pre-commit check;
// here 92 KB). Version 4's prefix-compressed names are kept expanded.
type indexEntries struct {
	data  []byte    // the index file
	at    []entryAt // each entry's place in data
	names []string  // version 4: each entry's name
}

// entryAt is where an entry starts in the index file, and the length of
// its name.
type entryAt struct {
	off, nameLen uint32
}

// Len returns the number of entries.
func (x *indexEntries) Len() int {
	if x == nil {
		return 0
	}
	return len(x.at)
}

func (x *indexEntries) flags(i int) uint16 {
	return binary.BigEndian.Uint16(x.data[x.at[i].off+60:])
}

// extended reports whether entry i has extended flags (versions 3 and 4).
func (x *indexEntries) extended(i int) bool { return x.flags(i)&0x4000 != 0 }

// Name returns entry i's path, which shares the index's memory in versions
// 2 and 3.
func (x *indexEntries) Name(i int) string {
	if x.names != nil {
		return x.names[i]
	}
	a := x.at[i]
	start := a.off + 62
	if x.extended(i) {
		start += 2
	}
	return unsafe.String(&x.data[start], int(a.nameLen))
}

// Mode returns entry i's mode.
func (x *indexEntries) Mode(i int) uint16 {
	return uint16(binary.BigEndian.Uint32(x.data[x.at[i].off+24:]))
}

// Stage returns entry i's merge stage.
func (x *indexEntries) Stage(i int) uint8 { return uint8(x.flags(i) >> 12 & 3) }

// IntentToAdd reports whether entry i was added with git add -N.
func (x *indexEntries) IntentToAdd(i int) bool {
	return x.extended(i) && binary.BigEndian.Uint16(x.data[x.at[i].off+62:])&0x2000 != 0
}

// hash returns entry i's object name.
func (x *indexEntries) hash(i int) plumbing.Hash {
	off := x.at[i].off + 40
	return plumbing.Hash(x.data[off : off+20])
}

// entry returns entry i as an indexEntry.
func (x *indexEntries) entry(i int) indexEntry {
	return indexEntry{Name: x.Name(i), hashAt: x.at[i].off + 40, Mode: x.Mode(i), Stage: x.Stage(i), IntentToAdd: x.IntentToAdd(i)}
}

// all returns every entry as an indexEntry.
func (x *indexEntries) all() []indexEntry {
	out := make([]indexEntry, x.Len())
	for i := range out {
		out[i] = x.entry(i)
	}
	return out
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
	entries, tree, verify, err := parseIndexVerifyLater(data)
	if verr := verify(); verr != nil {
		return nil, nil, verr
	}
	if err != nil {
		return nil, nil, err
	}
	return entries.all(), tree, nil
}

// asyncChecksumSize is the index size from which its checksum is computed
// beside the parse: on an index of 11.5k entries (1.2 MB) the SHA-1 takes
// as long as everything else the staged scan does with it.
const asyncChecksumSize = 256 << 10

// parseIndexVerifyLater is parseIndexWithTree that checks a large index's
// checksum concurrently: nothing it returns may be trusted, nor data
// released, until verify (which may be called more than once) has
// returned, and its error, a checksum mismatch, takes precedence over
// err (corrupt bytes fail to parse in arbitrary ways).
func parseIndexVerifyLater(data []byte) (entries *indexEntries, tree *cacheTree, verify func() error, err error) {
	noCheck := func() error { return nil }
	if len(data) < 12+sha1.Size || string(data[:4]) != "DIRC" {
		return nil, nil, noCheck, fmt.Errorf("%w: no DIRC signature", errBadIndex)
	}
	version := binary.BigEndian.Uint32(data[4:8])
	if version < 2 || version > 4 {
		return nil, nil, noCheck, fmt.Errorf("%w: unsupported version %d", errBadIndex, version)
	}
	// The trailer is the SHA-1 of everything before it, or zeros when git
	// wrote the index with index.skipHash=true; git refuses any other.
	body, trailer := data[:len(data)-sha1.Size], data[len(data)-sha1.Size:]
	verify = noCheck
	if !allZero(trailer) {
		check := func() error {
			if sum := sha1.Sum(body); !bytes.Equal(sum[:], trailer) {
				return fmt.Errorf("%w: checksum mismatch (the file is corrupt or was changed by hand)", errBadIndex)
			}
			return nil
		}
		if len(data) < asyncChecksumSize {
			if err := check(); err != nil {
				return nil, nil, noCheck, err
			}
		} else {
			done := make(chan error, 1)
			go func() { done <- catchFault(&data, check) }()
			verify = sync.OnceValue(func() error { return <-done })
		}
	}
	entries, tree, err = parseIndexBody(data, body, version)
	return entries, tree, verify, err
}

// parseIndexBody reads the entries and extensions of body, an index of
// the given version without its trailer (data is the whole file).
func parseIndexBody(data, body []byte, version uint32) (*indexEntries, *cacheTree, error) {
	count := int64(binary.BigEndian.Uint32(data[8:12]))
	// Each entry takes at least its fixed 62 bytes: refuse a count the
	// file cannot hold before allocating for it.
	if count > int64(len(body)-12)/minEntrySize {
		return nil, nil, fmt.Errorf("%w: %d entries cannot fit in %d bytes", errBadIndex, count, len(data))
	}
	if int64(len(data)) > math.MaxUint32 {
		return nil, nil, fmt.Errorf("%w: %d bytes, more than an index can hold", errBadIndex, len(data))
	}
	full := data
	data = body
	out := &indexEntries{data: full, at: make([]entryAt, count)}
	if version == 4 {
		out.names = make([]string, count)
	}
	// Names are substrings of one string view of the index: no copy per
	// entry. The caller must not modify data afterwards.
	names := unsafe.String(&data[0], len(data))
	pos := 12
	var prev, name string
	var prevStage uint8
	var orderErr error
	nameBytes, maxNameBytes := 0, 8*len(data)+1<<20
	for i := range out.at {
		const fixed = 62 // stat data (40), hash (20), flags (2)
		if pos+fixed > len(data) {
			return nil, nil, fmt.Errorf("%w: truncated entry %d", errBadIndex, i)
		}
		start := pos
		mode := binary.BigEndian.Uint32(data[pos+24:])
		if mode > 0xffff {
			return nil, nil, fmt.Errorf("%w: entry %d has mode %o", errBadIndex, i, mode)
		}
		flags := binary.BigEndian.Uint16(data[pos+60:])
		stage := uint8(flags >> 12 & 3)
		pos += fixed
		if flags&0x4000 != 0 {
			if version < 3 || pos+2 > len(data) {
				return nil, nil, fmt.Errorf("%w: extended flags in entry %d", errBadIndex, i)
			}
			pos += 2
		}
		if version == 4 {
			strip, n := binary.Uvarint(data[pos:])
			if n <= 0 || strip > uint64(len(prev)) {
				return nil, nil, fmt.Errorf("%w: bad name prefix in entry %d", errBadIndex, i)
			}
			pos += n
			end := bytes.IndexByte(data[pos:], 0)
			if end < 0 {
				return nil, nil, fmt.Errorf("%w: unterminated name in entry %d", errBadIndex, i)
			}
			// Each name extends a prefix of the last: "a", "aa", "aaa"…
			// would expand quadratically. Honest indexes expand to a
			// few times their size.
			if nameBytes += len(prev) - int(strip) + end; nameBytes > maxNameBytes {
				return nil, nil, fmt.Errorf("%w: entry names expand to more than %d bytes", errBadIndex, maxNameBytes)
			}
			name = prev[:len(prev)-int(strip)] + string(data[pos:pos+end])
			out.names[i] = name
			pos += end + 1
		} else {
			end := bytes.IndexByte(data[pos:], 0)
			if end < 0 {
				return nil, nil, fmt.Errorf("%w: unterminated name in entry %d", errBadIndex, i)
			}
			name = names[pos : pos+end]
			out.at[i].nameLen = uint32(end)
			// Entries are padded with 1 to 8 NULs to a multiple of 8 bytes.
			pos = start + (pos+end-start+8)&^7
			if pos > len(data) {
				return nil, nil, fmt.Errorf("%w: truncated entry %d", errBadIndex, i)
			}
		}
		out.at[i].off = uint32(start)
		// The staged scan's grouping relies on git's order (by name, then
		// stage), which git itself checks; and its directory walk recurses
		// once per path component.
		if i > 0 && orderErr == nil && (name < prev || name == prev && stage <= prevStage) {
			// Reported after the extensions: a split index's entries
			// are not in order, and its "link" says so first.
			orderErr = fmt.Errorf("%w: entry %d (%q) is out of order", errBadIndex, i, name)
		}
		// (A name shorter than maxTreeDepth bytes cannot hold that many
		// slashes: nearly every name skips the count.)
		if len(name) >= maxTreeDepth && strings.Count(name, "/") >= maxTreeDepth {
			return nil, nil, fmt.Errorf("%w: entry %d is nested deeper than %d directories", errBadIndex, i, maxTreeDepth)
		}
		prev, prevStage = name, stage
	}
	tree, err := readExtensions(data[pos:])
	if err != nil {
		return nil, nil, err
	}
	if orderErr != nil {
		return nil, nil, orderErr
	}
	return out, tree, nil
}

// cacheTree is one directory of the index's cache-tree extension: the tree
// hash git would write for it, when still valid. A nil *cacheTree is no
// directory (no extension, or none by that name).
type cacheTree struct {
	nodes *cacheNodes
	i     int32 // the directory's place in nodes.at
}

// cacheNodes are the directories of a cache-tree extension, each followed
// by its subdirectories (as the extension lists them), read from the
// extension's bytes on demand: 8 bytes a directory, where whole nodes (a
// name, a hash, counts) took 64 to 96, and an index of 1.4k directories
// had a fresh process fault in 22 to 33 pages before the comparison with
// HEAD started (bench/staged.sh).
type cacheNodes struct {
	ext []byte // the extension's body (the index's memory)
	at  []cacheNodeAt
}

type cacheNodeAt struct {
	off uint32 // where the directory's entry (its name) starts in ext
	end int32  // the place in at just past its subdirectories
}

// node reads directory i's entry, which parseCacheTree checked.
func (n *cacheNodes) node(i int32) (name string, count, subtrees int, hash plumbing.Hash) {
	b := n.ext[n.at[i].off:]
	nul := bytes.IndexByte(b, 0)
	name = unsafe.String(unsafe.SliceData(b), nul)
	count, b, _ = parseTreeCount(b[nul+1:], ' ')
	subtrees, b, _ = parseTreeCount(b, '\n')
	if count >= 0 {
		copy(hash[:], b)
	}
	return name, count, subtrees, hash
}

// name returns directory i's name.
func (n *cacheNodes) name(i int32) string {
	b := n.ext[n.at[i].off:]
	return unsafe.String(unsafe.SliceData(b), bytes.IndexByte(b, 0))
}

func (c *cacheTree) valid() bool { return c != nil && c.count() >= 0 }

// count returns how many index entries the directory covers; < 0 when its
// entry is invalid.
func (c *cacheTree) count() int {
	_, n, _, _ := c.nodes.node(c.i)
	return n
}

// hash returns the directory's tree hash; zero when its entry is invalid.
func (c *cacheTree) hash() plumbing.Hash {
	_, _, _, h := c.nodes.node(c.i)
	return h
}

// name returns the directory's name ("" for the root).
func (c *cacheTree) name() string { return c.nodes.name(c.i) }

// kids calls fn for each direct subdirectory, in the extension's order.
func (c *cacheTree) kids(fn func(i int32) bool) {
	_, _, subtrees, _ := c.nodes.node(c.i)
	for k, i := 0, c.i+1; k < subtrees; k++ {
		if !fn(i) {
			return
		}
		i = c.nodes.at[i].end
	}
}

// child returns the subdirectory named name, or nil.
func (c *cacheTree) child(name string) *cacheTree {
	if c == nil {
		return nil
	}
	var found *cacheTree
	c.kids(func(i int32) bool {
		if c.nodes.name(i) == name {
			found = &cacheTree{nodes: c.nodes, i: i}
			return false
		}
		return true
	})
	return found
}

// minEntrySize is the smallest an index entry can be: stat data, hash and
// flags (62 bytes), then at least a name's terminating NUL, padded to 8 in
// versions 2 and 3.
const minEntrySize = 62 + 1

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// readExtensions reads the extensions between the entries and the
// trailing checksum (already removed) and returns the cache-tree, if any.
// Like git it refuses an extension it must understand (a lower-case
// signature) and does not.
func readExtensions(data []byte) (*cacheTree, error) {
	var tree *cacheTree
	for len(data) > 0 {
		if len(data) < 8 {
			return nil, fmt.Errorf("%w: %d stray bytes after the entries", errBadIndex, len(data))
		}
		sig, size := string(data[:4]), int64(binary.BigEndian.Uint32(data[4:8]))
		if 8+size > int64(len(data)) {
			return nil, fmt.Errorf("%w: truncated %q extension", errBadIndex, sig)
		}
		body := data[8 : 8+size]
		switch {
		case sig == "link":
			// core.splitIndex: most entries live in a shared index file.
			return nil, errSplitIndex
		case sig == "TREE":
			if size == 0 {
				break
			}
			t, rest, err := parseCacheTree(body)
			if err != nil {
				return nil, fmt.Errorf("%w: TREE extension: %w", errBadIndex, err)
			}
			if len(rest) != 0 {
				return nil, fmt.Errorf("%w: TREE extension: %d bytes after the root's subtrees", errBadIndex, len(rest))
			}
			tree = t
		case sig == "sdir":
			// A sparse index: its directory entries are handled by the scan.
		case sig[0] < 'A' || sig[0] > 'Z':
			return nil, fmt.Errorf("%w: the index uses the %q extension, which gemscan does not understand", errBadIndex, sig)
		}
		data = data[8+size:]
	}
	return tree, nil
}

// parseCacheTree reads a cache-tree extension: its root and, depth-first,
// every subdirectory. Nesting is bounded as trees are.
func parseCacheTree(b []byte) (*cacheTree, []byte, error) {
	if int64(len(b)) > math.MaxUint32 {
		return nil, nil, fmt.Errorf("%d bytes, more than an index can hold", len(b))
	}
	// Each directory's name ends with the one NUL outside its hash: an
	// upper bound on their number, so that the slice need not grow; but
	// hostile bytes must not choose a large allocation, and appending
	// past the bound is only slower.
	nodes := &cacheNodes{ext: b, at: make([]cacheNodeAt, 0, min(bytes.Count(b, []byte{0})+1, 1<<13))}
	rest, err := parseCacheTreeNode(b, 0, nodes)
	if err != nil {
		return nil, nil, err
	}
	return &cacheTree{nodes: nodes}, rest, nil
}

// parseCacheTreeNode reads one directory and its subdirectories, depth
// levels below the root, from b, the rest of nodes.ext.
func parseCacheTreeNode(b []byte, depth int, nodes *cacheNodes) ([]byte, error) {
	if depth > maxTreeDepth {
		return nil, fmt.Errorf("nested deeper than %d directories", maxTreeDepth)
	}
	off := len(nodes.ext) - len(b)
	nul := bytes.IndexByte(b, 0)
	if nul < 0 {
		return nil, errors.New("unterminated name")
	}
	// The name only for errors: no copy of every directory's.
	name := unsafe.String(unsafe.SliceData(b), nul)
	b = b[nul+1:]
	count, b, ok1 := parseTreeCount(b, ' ')
	subtrees, b, ok2 := parseTreeCount(b, '\n')
	if !ok1 || !ok2 || subtrees < 0 {
		return nil, fmt.Errorf("entry %q: bad counts", name)
	}
	i := len(nodes.at)
	if i >= math.MaxInt32 {
		return nil, fmt.Errorf("more than %d directories", math.MaxInt32)
	}
	nodes.at = append(nodes.at, cacheNodeAt{off: uint32(off)})
	if count >= 0 {
		if len(b) < 20 {
			return nil, fmt.Errorf("entry %q: truncated hash", name)
		}
		b = b[20:]
	}
	for k := 0; k < subtrees; k++ {
		var err error
		if b, err = parseCacheTreeNode(b, depth+1, nodes); err != nil {
			return nil, err
		}
	}
	nodes.at[i].end = int32(len(nodes.at))
	if err := checkSubtreeNames(nodes, int32(i), subtrees); err != nil {
		return nil, fmt.Errorf("entry %q: %w", name, err)
	}
	return b, nil
}

// checkSubtreeNames refuses a directory of the cache-tree, nodes.at[i]
// with n subdirectories, that lists a subdirectory twice: git's reader
// keeps the last, child the first, and they may name different trees.
func checkSubtreeNames(nodes *cacheNodes, i int32, n int) error {
	if n < 2 {
		return nil
	}
	at := nodes.at
	// git keeps a directory's subdirectories sorted by name length, then
	// bytes (cache-tree.c's subtree_name_cmp), and writes them so: names
	// in that strictly increasing order cannot repeat, and honest indexes
	// need nothing more than this one pass.
	sorted := true
	for a := i + 1; at[a].end < at[i].end; a = at[a].end {
		x, y := nodes.name(a), nodes.name(at[a].end)
		if len(x) > len(y) || len(x) == len(y) && x >= y {
			sorted = false
			break
		}
	}
	if sorted {
		return nil
	}
	var seen map[string]bool
	if n > 16 {
		seen = make(map[string]bool, n)
	}
	for a := i + 1; a < at[i].end; a = at[a].end {
		name := nodes.name(a)
		if seen != nil {
			if seen[name] {
				return fmt.Errorf("subdirectory %q listed twice", name)
			}
			seen[name] = true
			continue
		}
		for b := at[a].end; b < at[i].end; b = at[b].end {
			if nodes.name(b) == name {
				return fmt.Errorf("subdirectory %q listed twice", name)
			}
		}
	}
	return nil
}

// parseTreeCount reads a decimal count ("-1" for an invalid directory)
// ended by stop, as strconv.Atoi would but without a string copy.
func parseTreeCount(b []byte, stop byte) (int, []byte, bool) {
	neg := len(b) > 0 && b[0] == '-'
	i := 0
	if neg {
		i = 1
	}
	n, digits := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if digits++; digits > 9 {
			return 0, nil, false
		}
		n = n*10 + int(b[i]-'0')
	}
	if digits == 0 || i == len(b) || b[i] != stop {
		return 0, nil, false
	}
	if neg {
		n = -n
	}
	return n, b[i+1:], true
}
