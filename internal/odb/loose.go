package odb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/zlib"
)

func loosePath(dir string, h plumbing.Hash) string {
	s := h.String()
	return filepath.Join(dir, s[:2], s[2:])
}

// readLoose reads a loose object from objects directory dir.
func readLoose(dir string, h plumbing.Hash) (Type, []byte, error) {
	return readLooseMax(dir, h, 0)
}

// errTooLarge is returned by readLooseMax for an object over its limit.
var errTooLarge = errors.New("object too large")

// readLooseMax is readLoose that, for an object larger than max (when
// positive), reads only its header and returns errTooLarge with its type.
func readLooseMax(dir string, h plumbing.Hash, max int64) (Type, []byte, error) {
	f, err := os.Open(loosePath(dir, h))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil, ErrNotFound
		}
		return 0, nil, err
	}
	defer f.Close()
	return inflateLoose(f, max)
}

// inflateLoose decodes a loose object: zlib("<type> <size>\x00<content>").
func inflateLoose(r io.Reader, max int64) (Type, []byte, error) {
	zr, err := zlib.NewReader(r)
	if err != nil {
		return 0, nil, fmt.Errorf("corrupt loose object: %w", err)
	}
	defer zr.Close()
	var head [64]byte
	n := 0
	for n < len(head) {
		m, err := zr.Read(head[n : n+1])
		n += m
		if m > 0 && head[n-1] == 0 {
			break
		}
		if err != nil {
			return 0, nil, fmt.Errorf("corrupt loose object header: %w", err)
		}
	}
	sp := bytes.IndexByte(head[:n], ' ')
	if sp < 0 || head[n-1] != 0 {
		return 0, nil, errors.New("corrupt loose object header")
	}
	t, ok := parseType(string(head[:sp]))
	if !ok {
		return 0, nil, fmt.Errorf("corrupt loose object: unknown type %q", head[:sp])
	}
	size, err := strconv.ParseInt(string(head[sp+1:n-1]), 10, 64)
	if err != nil || size < 0 || size > maxObject {
		return 0, nil, errors.New("corrupt loose object: bad size")
	}
	if max > 0 && size > max {
		return t, nil, errTooLarge
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(zr, data); err != nil {
		return 0, nil, fmt.Errorf("corrupt loose object: %w", err)
	}
	return t, data, nil
}

// LooseHashes lists the loose objects of every objects directory.
func (db *DB) looseHashes() ([]looseObject, error) {
	var out []looseObject
	for _, d := range db.dirs {
		for i := 0; i < 256; i++ {
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
