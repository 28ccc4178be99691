package gittest

// Forging helpers: test support that writes git objects byte by byte, so
// tests can build what git itself never writes (delta chains that loop,
// sizes that lie, objects stored under another object's name) and check
// that readers refuse it.

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// ObjectName returns the hex name git gives an object of type typ
// ("blob", "tree", "commit", "tag") holding content.
func ObjectName(typ string, content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00", typ, len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// ForgeLoose writes a loose object of type typ holding content into
// objectsDir under name, which need not be the object's hash: a forged
// object. An empty name uses the real hash. It returns the name.
func ForgeLoose(t testing.TB, objectsDir, name, typ string, content []byte) string {
	t.Helper()
	if name == "" {
		name = ObjectName(typ, content)
	}
	raw := append([]byte(fmt.Sprintf("%s %d\x00", typ, len(content))), content...)
	ForgeLooseRaw(t, objectsDir, name, raw)
	return name
}

// ForgeLooseRaw writes raw, zlib-compressed as it is, as the loose object
// name of objectsDir: raw holds the "<type> <size>\x00" header too, so it
// can declare any size or type.
func ForgeLooseRaw(t testing.TB, objectsDir, name string, raw []byte) {
	t.Helper()
	if len(name) != 40 {
		t.Fatalf("forge loose object: bad name %q", name)
	}
	p := filepath.Join(objectsDir, name[:2], name[2:])
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatalf("forge loose object: %v", err)
	}
	os.Remove(p) // git writes loose objects read-only
	if err := os.WriteFile(p, Deflate(raw), 0o644); err != nil {
		t.Fatalf("forge loose object: %v", err)
	}
}

// Deflate returns data zlib-compressed, as git stores objects.
func Deflate(data []byte) []byte {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

// TreeEntry returns one entry of a tree object: mode (octal, as git writes
// it: "100644", "40000"), name, and the entry's hex object name.
func TreeEntry(mode, name, hexName string) []byte {
	h, err := hex.DecodeString(hexName)
	if err != nil || len(h) != 20 {
		panic(fmt.Sprintf("gittest.TreeEntry: bad object name %q", hexName))
	}
	out := append([]byte(mode+" "+name+"\x00"), h...)
	return out
}

// Pack object kinds for PackObject.Type, numbered as in pack files.
const (
	PackCommit   = 1
	PackTree     = 2
	PackBlob     = 3
	PackTag      = 4
	PackOfsDelta = 6
	PackRefDelta = 7
)

// PackObject is one object for ForgePack.
type PackObject struct {
	Type int    // PackCommit … PackRefDelta
	Data []byte // the content; for deltas, the delta (see Delta)
	// Size is the inflated size the header declares; 0 means len(Data).
	Size int64
	// Base is the index, in the objects given to ForgePack, of an
	// OFS_DELTA's base, which must come earlier.
	Base int
	// BaseName is a REF_DELTA's base (hex), which may be any object,
	// the delta itself included.
	BaseName string
	// Name is the hex name the index gives the object. Empty: the real
	// hash for whole objects; for deltas, a made-up unique name.
	Name string
	// Raw, when set, is written verbatim in place of the header and
	// compressed data: a corrupt object.
	Raw []byte
}

var packTypeNames = map[int]string{PackCommit: "commit", PackTree: "tree", PackBlob: "blob", PackTag: "tag"}

// ForgePack writes a version 2 pack and its index into objectsDir/pack
// holding objs, in order, and returns the objects' names (hex) as the
// index lists them. The pack and index checksums are correct, whatever
// the objects hold.
func ForgePack(t testing.TB, objectsDir string, objs []PackObject) []string {
	t.Helper()
	var pack bytes.Buffer
	pack.WriteString("PACK")
	binary.Write(&pack, binary.BigEndian, uint32(2))
	binary.Write(&pack, binary.BigEndian, uint32(len(objs)))
	names := make([]string, len(objs))
	offs := make([]int64, len(objs))
	var zbuf bytes.Buffer
	zw := zlib.NewWriter(&zbuf) // one compressor: each costs a megabyte
	deflate := func(data []byte) []byte {
		zbuf.Reset()
		zw.Reset(&zbuf)
		zw.Write(data)
		zw.Close()
		return zbuf.Bytes()
	}
	crcs := make([]uint32, len(objs))
	for i, o := range objs {
		offs[i] = int64(pack.Len())
		start := pack.Len()
		names[i] = o.Name
		if names[i] == "" {
			if tn, ok := packTypeNames[o.Type]; ok {
				names[i] = ObjectName(tn, o.Data)
			} else {
				names[i] = ObjectName("blob", []byte(fmt.Sprintf("forged delta %d %x", i, o.Data)))
			}
		}
		if o.Raw != nil {
			pack.Write(o.Raw)
		} else {
			size := o.Size
			if size == 0 {
				size = int64(len(o.Data))
			}
			pack.Write(packHeader(o.Type, size))
			switch o.Type {
			case PackOfsDelta:
				if o.Base < 0 || o.Base >= i {
					t.Fatalf("forge pack: object %d: OFS_DELTA base %d must come earlier", i, o.Base)
				}
				pack.Write(ofsEncode(offs[i] - offs[o.Base]))
			case PackRefDelta:
				b, err := hex.DecodeString(o.BaseName)
				if err != nil || len(b) != 20 {
					t.Fatalf("forge pack: object %d: bad REF_DELTA base %q", i, o.BaseName)
				}
				pack.Write(b)
			}
			pack.Write(deflate(o.Data))
		}
		crcs[i] = crc32.ChecksumIEEE(pack.Bytes()[start:])
	}
	sum := sha1.Sum(pack.Bytes())
	pack.Write(sum[:])

	type ent struct {
		name []byte
		off  int64
		crc  uint32
	}
	ents := make([]ent, len(objs))
	for i := range objs {
		b, err := hex.DecodeString(names[i])
		if err != nil || len(b) != 20 {
			t.Fatalf("forge pack: object %d: bad name %q", i, names[i])
		}
		ents[i] = ent{b, offs[i], crcs[i]}
	}
	sort.SliceStable(ents, func(a, b int) bool { return bytes.Compare(ents[a].name, ents[b].name) < 0 })
	var idx bytes.Buffer
	idx.WriteString("\xfftOc")
	binary.Write(&idx, binary.BigEndian, uint32(2))
	var fan [256]uint32
	for _, e := range ents {
		for b := int(e.name[0]); b < 256; b++ {
			fan[b]++
		}
	}
	binary.Write(&idx, binary.BigEndian, fan)
	for _, e := range ents {
		idx.Write(e.name)
	}
	for _, e := range ents {
		binary.Write(&idx, binary.BigEndian, e.crc)
	}
	for _, e := range ents {
		binary.Write(&idx, binary.BigEndian, uint32(e.off))
	}
	idx.Write(sum[:])
	isum := sha1.Sum(idx.Bytes())
	idx.Write(isum[:])

	dir := filepath.Join(objectsDir, "pack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("forge pack: %v", err)
	}
	base := filepath.Join(dir, "pack-"+hex.EncodeToString(sum[:]))
	if err := os.WriteFile(base+".pack", pack.Bytes(), 0o644); err != nil {
		t.Fatalf("forge pack: %v", err)
	}
	if err := os.WriteFile(base+".idx", idx.Bytes(), 0o644); err != nil {
		t.Fatalf("forge pack: %v", err)
	}
	return names
}

// packHeader encodes a pack object's type and inflated size.
func packHeader(typ int, size int64) []byte {
	c := byte(typ<<4) | byte(size&15)
	size >>= 4
	var out []byte
	for size > 0 {
		out = append(out, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	return append(out, c)
}

// ofsEncode encodes an OFS_DELTA's distance back to its base.
func ofsEncode(rel int64) []byte {
	var buf [16]byte
	pos := len(buf) - 1
	buf[pos] = byte(rel & 0x7f)
	for rel >>= 7; rel > 0; rel >>= 7 {
		rel--
		pos--
		buf[pos] = 0x80 | byte(rel&0x7f)
	}
	return append([]byte(nil), buf[pos:]...)
}

// Delta returns a git delta: a base of srcSize bytes becomes one of
// dstSize bytes by the instructions ops (DeltaCopy, DeltaInsert). The
// sizes are written as given, true or not.
func Delta(srcSize, dstSize int64, ops ...[]byte) []byte {
	out := appendSize(nil, srcSize)
	out = appendSize(out, dstSize)
	for _, op := range ops {
		out = append(out, op...)
	}
	return out
}

func appendSize(b []byte, n int64) []byte {
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

// DeltaCopy is a delta instruction copying size bytes (1 to 0xffffff) of
// the base from off.
func DeltaCopy(off, size uint32) []byte {
	op := byte(0x80)
	var args []byte
	for i := 0; i < 4; i++ {
		if b := byte(off >> (8 * i)); b != 0 {
			op |= 1 << i
			args = append(args, b)
		}
	}
	for i := 0; i < 3; i++ {
		if b := byte(size >> (8 * i)); b != 0 {
			op |= 0x10 << i
			args = append(args, b)
		}
	}
	return append([]byte{op}, args...)
}

// DeltaInsert is a delta instruction inserting data (split into runs of
// at most 127 bytes).
func DeltaInsert(data []byte) []byte {
	var out []byte
	for len(data) > 0 {
		n := min(len(data), 127)
		out = append(out, byte(n))
		out = append(out, data[:n]...)
		data = data[n:]
	}
	return out
}
