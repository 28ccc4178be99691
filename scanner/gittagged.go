package scanner

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/odb"
	"github.com/gemscan-dev/gemscan/rules"
)

// maxTaggedBlobs bounds the blobs read under tags that name trees.
const maxTaggedBlobs = 100000

// scanTagged scans what tags on trees and blobs hold. No commit reaches
// those objects, but a ref does, and a full audit covers every ref (git's
// own repository tags a blob, junio-gpg-pub). A credential found there is
// reported at its path in the tagged tree (at the tag's name for a tagged
// blob), with no commit, and the tag in Refs. Blobs a commit also has are
// left to the history, which reports them where the commit put them.
func (h *history) scanTagged(ctx context.Context) {
	iter, err := h.r.refs.IterReferences()
	if err != nil {
		return // tips() reported it
	}
	h.introduced = map[plumbing.Hash]bool{}
	for _, in := range h.intros {
		h.introduced[in.blob] = true
	}
	known := map[string]bool{}
	for i := range h.res.Findings {
		known[h.res.Findings[i].Fingerprint()] = true
	}
	det := h.opts.detector()
	budget := maxTaggedBlobs
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		name := ref.Name().String()
		if ctx.Err() != nil || ref.Type() != plumbing.HashReference || !strings.HasPrefix(name, "refs/tags/") {
			return nil
		}
		obj, t, err := h.peelObject(ref.Hash())
		if err != nil {
			return nil // tips() reported what is not the harmless case
		}
		switch t {
		case odb.Blob:
			h.scanTaggedBlob(det, name, strings.TrimPrefix(name, "refs/tags/"), obj, known, &budget)
		case odb.Tree:
			h.walkTaggedTree(ctx, det, name, "", obj, 0, map[plumbing.Hash]bool{}, known, &budget)
		}
		return nil
	})
	if budget < 0 {
		h.errorf("tags on trees hold more than %d blobs: the rest were not scanned", maxTaggedBlobs)
	}
}

// peelObject follows annotated tags to the object they finally name.
func (h *history) peelObject(x plumbing.Hash) (plumbing.Hash, odb.Type, error) {
	for i := 0; i < 16; i++ {
		t, data, err := h.r.db.Read(x)
		if err != nil {
			return x, 0, err
		}
		if t != odb.Tag {
			return x, t, nil
		}
		if x, _, err = odb.ParseTag(data); err != nil {
			return x, 0, err
		}
	}
	return x, 0, fmt.Errorf("tag %s: too many levels of tags", x)
}

func (h *history) walkTaggedTree(ctx context.Context, det *rules.Detector, ref, dir string, tree plumbing.Hash, depth int,
	seen map[plumbing.Hash]bool, known map[string]bool, budget *int) {
	if ctx.Err() != nil || *budget < 0 {
		return
	}
	if depth > maxTreeDepth || seen[tree] {
		h.errorf("%s: tree %s at %q contains itself or nests too deep", ref, tree, dir)
		return
	}
	seen[tree] = true
	defer delete(seen, tree)
	data, err := h.r.db.ReadType(tree, odb.Tree)
	if err != nil {
		h.errorf("%s: read tree %s: %w", ref, tree, err)
		return
	}
	entries, err := odb.ParseTree(data)
	if err != nil {
		h.errorf("%s: tree %s: %w", ref, tree, err)
		return
	}
	for _, e := range entries {
		p := dir + e.Name
		switch {
		case e.IsTree():
			h.walkTaggedTree(ctx, det, ref, p+"/", e.Hash, depth+1, seen, known, budget)
		case !e.IsBlob() || e.Mode&0o170000 == odb.ModeSymlink:
		default:
			h.scanTaggedBlob(det, ref, p, e.Hash, known, budget)
		}
	}
}

func (h *history) scanTaggedBlob(det *rules.Detector, ref, path string, b plumbing.Hash, known map[string]bool, budget *int) {
	if h.introduced[b] {
		return // a commit has it: reported (or not) where the commit put it
	}
	if *budget--; *budget < 0 {
		return
	}
	fs, allowed := h.hits[b], h.allowHits[b]
	if !h.seen[b] { // the blob pass (a whole history's) did not read it
		data, err := h.r.db.ReadType(b, odb.Blob)
		if err != nil {
			h.errorf("%s: read %s (blob %s): %w", ref, path, b, err)
			return
		}
		if h.opts.MaxFileSize > 0 && int64(len(data)) > h.opts.MaxFileSize {
			h.res.Stats.TooLarge++
			return
		}
		text, ok := textOf(data, !h.opts.SkipBinary)
		if !ok {
			h.res.Stats.Binary++
			return
		}
		fs, allowed = ScanBytes(det, text, "", "")
		h.res.Stats.Files++
		h.res.Stats.Bytes += int64(len(data))
	}
	place := func(f Finding) Finding {
		f.File, f.Path = path+f.File, path+f.Path
		f.Refs = []string{ref}
		return f
	}
	for _, f := range fs {
		if f = place(f); !known[f.Fingerprint()] {
			known[f.Fingerprint()] = true
			h.res.Findings = append(h.res.Findings, f)
		}
	}
	for _, f := range allowed {
		h.res.Suppressed.Add(ReasonAllow, "", place(f))
	}
}
