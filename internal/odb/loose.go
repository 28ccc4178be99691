package odb

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gitdir"
)

func loosePath(dir string, h plumbing.Hash) string {
	s := h.String()
	return filepath.Join(dir, s[:2], s[2:])
}

// errTooLarge is returned by readLooseWant for an object over its limit.
var errTooLarge = errors.New("object too large")

// readLooseWant reads loose object h from objects directory dir. An object
// of a type other than want (when not 0) is refused after its header, and
// one larger than max (when positive) returns errTooLarge with its type.
// Commits, trees and tags are small and shape the history: their content
// is hashed and must match their name, so a file stored under another
// object's name is refused.
func readLooseWant(dir string, h plumbing.Hash, want Type, max int64) (Type, []byte, error) {
	f, err := gitdir.OpenFile(loosePath(dir, h)) // a FIFO there would block forever
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil, ErrNotFound
		}
		return 0, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, nil, err
	}
	t, data, err := inflateLoose(f, st.Size(), want, max)
	if err != nil || t == Blob {
		return t, data, err
	}
	if got := hashObject(t, data); got != h {
		return 0, nil, fmt.Errorf("loose %s hashes to %s: forged or corrupt object", t, got)
	}
	return t, data, nil
}

// hashObject returns the name git gives an object.
func hashObject(t Type, data []byte) plumbing.Hash {
	hs := sha1.New()
	fmt.Fprintf(hs, "%s %d\x00", t, len(data))
	hs.Write(data)
	var out plumbing.Hash
	copy(out[:], hs.Sum(nil))
	return out
}

// inflateLoose decodes a loose object, zlib("<type> <size>\x00<content>"),
// from a file of fileSize bytes.
func inflateLoose(r io.Reader, fileSize int64, want Type, max int64) (Type, []byte, error) {
	zr, err := zlib.NewReader(r)
	if err != nil {
		return 0, nil, fmt.Errorf("corrupt loose object: %w", err)
	}
	defer zr.Close()
	t, size, err := parseLooseHeader(zr)
	if err != nil {
		return 0, nil, err
	}
	if want != 0 && t != want {
		return t, nil, errWrongType{t, want}
	}
	if max > 0 && size > max {
		return t, nil, errTooLarge
	}
	if err := checkSize(size, t, fileSize); err != nil {
		return 0, nil, fmt.Errorf("loose object: %w", err)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(zr, data); err != nil {
		return 0, nil, fmt.Errorf("corrupt loose object: %w", err)
	}
	// As for packed objects: the stream ends here, its checksum matching.
	var one [1]byte
	switch n, err := zr.Read(one[:]); {
	case n != 0:
		return 0, nil, errors.New("corrupt loose object: longer than its header says")
	case err == nil:
		return 0, nil, errors.New("corrupt loose object: no end after the declared size")
	case err != io.EOF:
		return 0, nil, fmt.Errorf("corrupt loose object: %w", err)
	}
	return t, data, nil
}

// parseLooseHeader reads "<type> <size>\x00" from an inflating loose
// object.
func parseLooseHeader(zr io.Reader) (Type, int64, error) {
	var head [32]byte
	n := 0
	for n < len(head) {
		m, err := zr.Read(head[n : n+1])
		n += m
		if m > 0 && head[n-1] == 0 {
			break
		}
		if err != nil {
			return 0, 0, fmt.Errorf("corrupt loose object header: %w", err)
		}
	}
	sp := bytes.IndexByte(head[:n], ' ')
	if sp < 0 || n == 0 || head[n-1] != 0 {
		return 0, 0, errors.New("corrupt loose object header")
	}
	t, ok := parseType(string(head[:sp]))
	if !ok {
		return 0, 0, fmt.Errorf("corrupt loose object: unknown type %q", head[:sp])
	}
	size, err := strconv.ParseInt(string(head[sp+1:n-1]), 10, 64)
	if err != nil || size < 0 {
		return 0, 0, errors.New("corrupt loose object: bad size")
	}
	return t, size, nil
}

// looseHashes lists the loose objects of every objects directory.
func (db *DB) looseHashes(ctx context.Context) ([]looseObject, error) {
	var out []looseObject
	for _, d := range db.dirs {
		for i := 0; i < 256; i++ {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			sub := filepath.Join(d, fmt.Sprintf("%02x", i))
			names, err := os.ReadDir(sub)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				return out, fmt.Errorf("read %s: %w", sub, err)
			}
			for _, n := range names {
				h, ok := hashFromHex(fmt.Sprintf("%02x", i) + n.Name())
				if ok {
					out = append(out, looseObject{dir: d, hash: h})
				}
			}
		}
	}
	return out, nil
}

type looseObject struct {
	dir  string
	hash plumbing.Hash
}

func hashFromHex(s string) (plumbing.Hash, bool) {
	if len(s) != 40 {
		return plumbing.ZeroHash, false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return plumbing.ZeroHash, false
		}
	}
	return plumbing.NewHash(s), true
}
