package odb

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
)

// rawBlob is a blob's pack header declaring size, followed by z.
func rawBlob(size int, z []byte) []byte {
	h := []byte{0x30 | byte(size&15)}
	for s := size >> 4; s > 0; s >>= 7 {
		h[len(h)-1] |= 0x80
		h = append(h, byte(s&0x7f))
	}
	return append(h, z...)
}

// TestRedteamPackStreamVsGap: the one pread per object takes the bytes up
// to the next object's offset. A zlib stream that ends early with a right
// checksum (content shorter than declared), one that needs more bytes than
// the gap holds, and one whose content is longer than declared are each
// one error naming the object; the neighbours are still read.
func TestRedteamPackStreamVsGap(t *testing.T) {
	content := bytes.Repeat([]byte("line of content that compresses\n"), 40)
	name := gittest.ObjectName("blob", content)
	full := gittest.Deflate(content)
	cases := map[string][]byte{
		"ends early, checksum right, padded": append(gittest.Deflate(content[:100]), make([]byte, 64)...),
		"ends early, checksum right":         gittest.Deflate(content[:100]),
		"stream cut by the next object":      full[:len(full)-3],
		"content longer than declared":       gittest.Deflate(append(bytes.Clone(content), "more\n"...)),
		"empty":                              nil,
	}
	for what, z := range cases {
		t.Run(what, func(t *testing.T) { forgedMiddle(t, name, rawBlob(len(content), z), false) })
		t.Run(what+", last in the pack", func(t *testing.T) { forgedMiddle(t, name, rawBlob(len(content), z), true) })
	}
}

// forgedMiddle packs raw (named name) between two good blobs, or after
// them when last, and checks it is one error and the others are read.
func forgedMiddle(t *testing.T, name string, raw []byte, last bool) {
	dir := objectsDir(t)
	objs := []gittest.PackObject{
		{Type: gittest.PackBlob, Data: []byte("first\n")},
		{Name: name, Raw: raw},
		{Type: gittest.PackBlob, Data: []byte("third\n")},
	}
	good := []int{0, 2}
	if last {
		objs[1], objs[2] = objs[2], objs[1]
		good = []int{0, 1}
	}
	names := gittest.ForgePack(t, dir, objs)
	db := openDB(t, dir)
	if err := db.LoadIndexes(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ReadType(plumbing.NewHash(name), Blob); err == nil {
		t.Errorf("read: no error")
	}
	visited, _, errs := blobsPass(t, db, 0)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), name) {
		t.Fatalf("errors %v: want one naming %s", errs, name)
	}
	if visited[plumbing.NewHash(name)] != 0 {
		t.Errorf("the forged blob was visited")
	}
	for _, i := range good {
		if visited[plumbing.NewHash(names[i])] != 1 {
			t.Errorf("blob %d not visited", i)
		}
	}
}
