package odb

import (
	"bytes"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

// Fuzz targets for the parsers of untrusted bytes. As plain tests they run
// their seeds; `go test -fuzz=FuzzX -fuzztime=10s ./internal/odb/` explores.

func FuzzApplyDelta(f *testing.F) {
	base := []byte("the quick brown fox jumps over the lazy dog\n")
	f.Add(base, gittest.Delta(int64(len(base)), 9, gittest.DeltaCopy(4, 5), gittest.DeltaInsert([]byte("!!!!"))))
	f.Add(base, gittest.Delta(int64(len(base)), 1<<40, gittest.DeltaCopy(0, 5)))
	f.Add(base, gittest.Delta(int64(len(base)), 3, gittest.DeltaInsert([]byte("abc"))))
	f.Add(base, gittest.Delta(int64(len(base)), 0x10000, gittest.DeltaCopy(0, 0x10000)))
	f.Add([]byte{}, []byte{0x00, 0x00})
	f.Add(base, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		out, err := applyDeltaMax(base, delta, nil, 1<<20)
		// Checking the instructions alone agrees with applying them.
		if src, dst, n, serr := deltaSizes(delta); serr == nil && src == len(base) && dst <= 1<<20 {
			if cerr := checkOps(delta[n:], len(base), dst); (cerr == nil) != (err == nil) {
				t.Fatalf("checkOps says %v, applying says %v", cerr, err)
			}
		}
		if err != nil {
			return
		}
		_, dst, _, err := deltaSizes(delta)
		if err != nil || dst != len(out) {
			t.Fatalf("applied a delta declaring %d bytes (%v) into %d", dst, err, len(out))
		}
		// Reusing a destination buffer gives the same result.
		again, err := applyDeltaMax(base, delta, make([]byte, 0, len(out)+7), 1<<20)
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("second application differs: %v", err)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x35}, int64(12))                              // blob of 5 bytes
	f.Add([]byte{0xb5, 0x80, 0x01}, int64(100))                 // blob, multi-byte size
	f.Add([]byte{0x65, 0x05}, int64(100))                       // OFS_DELTA 5 back
	f.Add([]byte{0x65, 0x80, 0x00}, int64(1000))                // OFS_DELTA, two bytes
	f.Add(append([]byte{0x75}, make([]byte, 20)...), int64(40)) // REF_DELTA
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, int64(12))
	f.Add([]byte{0x50}, int64(12))
	f.Fuzz(func(t *testing.T, b []byte, off int64) {
		h, err := parseHeader(b, off)
		if err != nil {
			return
		}
		if h.size < 0 {
			t.Fatalf("negative size %d", h.size)
		}
		if h.data <= off || h.data > off+int64(len(b)) {
			t.Fatalf("data at %d for a header at %d of %d bytes", h.data, off, len(b))
		}
		if h.t == ofsDelta && (h.baseOff < 12 || h.baseOff >= off) {
			t.Fatalf("OFS_DELTA base at %d for an object at %d", h.baseOff, off)
		}
	})
}

func FuzzParseTree(f *testing.F) {
	f.Add(gittest.TreeEntry("100644", "a.txt", gittest.ObjectName("blob", []byte("a"))))
	f.Add(append(gittest.TreeEntry("40000", "dir", gittest.ObjectName("tree", nil)),
		gittest.TreeEntry("160000", "sub", gittest.ObjectName("commit", nil))...))
	f.Add([]byte("100644 truncated\x00abc"))
	f.Add([]byte("999 x\x00" + string(make([]byte, 20))))
	f.Add([]byte("100644 "))
	f.Add([]byte("40000 \x00" + string(make([]byte, 19))))
	f.Add(append(gittest.TreeEntry("100755", "a-long-name-past-eight-bytes", gittest.ObjectName("blob", nil)),
		gittest.TreeEntry("120000", "link", gittest.ObjectName("blob", []byte("t")))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := ParseTree(data)
		// The allocation-free iterator agrees with ParseTree.
		it := TreeIter{Data: data}
		var n int
		for {
			e, ok, ierr := it.Next()
			if ierr != nil || !ok {
				if err == nil && ierr != nil {
					// ParseTree accepts modes the iterator does not (over 7
					// digits); nothing else may differ.
					return
				}
				break
			}
			if err == nil && (n >= len(es) || string(e.Name) != es[n].Name || e.Hash != es[n].Hash) {
				t.Fatalf("entry %d differs between ParseTree and TreeIter", n)
			}
			n++
		}
		if err == nil && n != len(es) {
			t.Fatalf("ParseTree found %d entries, TreeIter %d", len(es), n)
		}
		// SkipSame over a tree and a copy of it skips exactly the
		// entries Next decodes without error, and leaves both at the
		// first one it does not.
		valid := 0
		for it := (TreeIter{Data: data}); ; valid++ {
			if _, ok, err := it.Next(); !ok || err != nil {
				break
			}
		}
		a, b := TreeIter{Data: data}, TreeIter{Data: bytes.Clone(data)}
		if got := a.SkipSame(&b); got != valid || !bytes.Equal(a.Data, b.Data) {
			t.Fatalf("SkipSame skipped %d entries of %d valid ones", got, valid)
		}
		// A change in one byte stops it at the entry that holds it.
		if len(data) > 0 {
			c := bytes.Clone(data)
			c[len(c)/2]++
			a, b := TreeIter{Data: data}, TreeIter{Data: c}
			skipped := a.SkipSame(&b)
			if len(data)-len(a.Data) > len(data)/2 || skipped > valid {
				t.Fatalf("SkipSame went past a changed byte (%d entries)", skipped)
			}
		}
	})
}

func FuzzParseCommit(f *testing.F) {
	tree := gittest.ObjectName("tree", nil)
	f.Add([]byte("tree " + tree + "\nparent " + tree + "\nauthor A U <a@b> 1700000000 +0130\ncommitter C <c@d> 1700000001 -0700\n\nmessage\n"))
	f.Add([]byte("tree " + tree + "\n"))
	f.Add([]byte("tree zz\n"))
	f.Add([]byte("author <> x y\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCommit(data)
		if err == nil && c.Tree.IsZero() {
			t.Fatal("commit parsed without a tree")
		}
		_ = c.When()
		ParseTag(data)
	})
}

func FuzzInflateLoose(f *testing.F) {
	f.Add(gittest.Deflate([]byte("blob 5\x00hello")))
	f.Add(gittest.Deflate([]byte("tree 1073741824\x00x")))
	f.Add(gittest.Deflate([]byte("commit -1\x00")))
	f.Add(gittest.Deflate([]byte("blob 3\x00toolong")))
	f.Add([]byte("not zlib"))
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, content, err := inflateLoose(bytes.NewReader(data), int64(len(data)), 0, 0)
		if err != nil {
			return
		}
		if int64(len(content)) > int64(len(data))*maxRatio+64 {
			t.Fatalf("%s of %d bytes from %d compressed", typ, len(content), len(data))
		}
	})
}
