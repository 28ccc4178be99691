package scanner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/odb"
)

// forgedHistory is a history of hand-built objects, packed in one pack.
type forgedHistory struct {
	objs    []gittest.PackObject
	have    map[string]bool
	trees   map[string][]byte // tree name -> content
	commits []string          // in the order written, parents first
}

func (fh *forgedHistory) add(typ int, data []byte) string {
	name := gittest.ObjectName(map[int]string{gittest.PackBlob: "blob", gittest.PackTree: "tree", gittest.PackCommit: "commit"}[typ], data)
	if !fh.have[name] {
		fh.have[name] = true
		fh.objs = append(fh.objs, gittest.PackObject{Type: typ, Data: data})
		if typ == gittest.PackTree {
			fh.trees[name] = data
		}
	}
	return name
}

// TestRedteamForgedTreesNoMiss: on histories of forged trees (entries out
// of order, duplicate names, modes git never writes but reads: 40755,
// 100600, 120644, gitlinks named like blobs), with merges of up to four
// parents, every blob the rule calls new is attributed by the diff: a
// blob at a path is new when no parent's tree holds that blob at that path
// in any of its entries (duplicates included), reading modes as git does.
// The diff may report more (it pairs duplicates and unsorted entries one
// to one), never less.
func TestRedteamForgedTreesNoMiss(t *testing.T) {
	t.Parallel()
	gittest.Need(t)
	for seed := uint64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewPCG(seed, 77))
		fh := &forgedHistory{have: map[string]bool{}, trees: map[string][]byte{}}
		var blobs []string
		for i := 0; i < 12; i++ {
			blobs = append(blobs, fh.add(gittest.PackBlob, []byte(fmt.Sprintf("forged blob %d\n", i))))
		}
		names := []string{"a", "b", "d", "d.txt", "d-", "e", "zz"}
		fileModes := []string{"100644", "100644", "100755", "120000", "100600", "120644", "160000"}
		// A model tree: name -> (mode, blob) or a subdirectory.
		type node struct {
			mode string
			blob string
			sub  map[string]*node
		}
		var build func(depth int) map[string]*node
		build = func(depth int) map[string]*node {
			m := map[string]*node{}
			for _, n := range names {
				switch x := r.IntN(6); {
				case x < 2:
				case x == 2 && depth < 2:
					m[n] = &node{sub: build(depth + 1)}
				default:
					m[n] = &node{mode: fileModes[r.IntN(len(fileModes))], blob: blobs[r.IntN(len(blobs))]}
				}
			}
			return m
		}
		var mix func(ms []map[string]*node, depth int) map[string]*node
		mix = func(ms []map[string]*node, depth int) map[string]*node {
			out := map[string]*node{}
			for _, n := range names {
				src := ms[r.IntN(len(ms))]
				nd, ok := src[n]
				switch {
				case !ok:
				case nd.sub != nil && r.IntN(3) == 0:
					var subs []map[string]*node
					for _, m := range ms {
						if o, ok := m[n]; ok && o.sub != nil {
							subs = append(subs, o.sub)
						}
					}
					out[n] = &node{sub: mix(subs, depth+1)}
				case r.IntN(8) == 0:
					out[n] = &node{mode: fileModes[r.IntN(len(fileModes))], blob: blobs[r.IntN(len(blobs))]}
				default:
					out[n] = nd
				}
			}
			if r.IntN(6) == 0 && depth < 2 {
				out[names[r.IntN(len(names))]] = &node{sub: build(depth + 1)}
			}
			return out
		}
		// write serializes a model tree, sometimes out of order, with a
		// duplicate, or a directory mode of 40755.
		var write func(m map[string]*node) string
		write = func(m map[string]*node) string {
			type ent struct{ mode, name, hash string }
			var es []ent
			for n, nd := range m {
				if nd.sub != nil {
					mode := "40000"
					if r.IntN(5) == 0 {
						mode = "40755"
					}
					es = append(es, ent{mode, n, write(nd.sub)})
				} else {
					es = append(es, ent{nd.mode, n, nd.blob})
				}
			}
			key := func(e ent) string {
				if e.mode == "40000" || e.mode == "40755" {
					return e.name + "/"
				}
				return e.name
			}
			sort.Slice(es, func(i, j int) bool { return key(es[i]) < key(es[j]) })
			if len(es) > 1 && r.IntN(5) == 0 {
				i := r.IntN(len(es) - 1)
				es[i], es[i+1] = es[i+1], es[i]
			}
			if len(es) > 0 && r.IntN(5) == 0 {
				i := r.IntN(len(es))
				dup := es[i]
				if dup.mode != "40000" && dup.mode != "40755" {
					dup.hash = blobs[r.IntN(len(blobs))]
				}
				es = slices.Insert(es, i+r.IntN(2), dup)
			}
			var data []byte
			for _, e := range es {
				data = append(data, gittest.TreeEntry(e.mode, e.name, e.hash)...)
			}
			return fh.add(gittest.PackTree, data)
		}
		var models []map[string]*node
		var parentsOf [][]int
		for c := 0; c < 40; c++ {
			var parents []int
			var m map[string]*node
			if c == 0 {
				m = build(0)
			} else {
				n := min(1+r.IntN(4), c)
				if r.IntN(2) == 0 {
					n = 1
				}
				for len(parents) < n {
					if p := r.IntN(c); !slices.Contains(parents, p) {
						parents = append(parents, p)
					}
				}
				var ms []map[string]*node
				for _, p := range parents {
					ms = append(ms, models[p])
				}
				m = mix(ms, 0)
			}
			models = append(models, m)
			parentsOf = append(parentsOf, parents)
			var ph []string
			for _, p := range parents {
				ph = append(ph, fh.commits[p])
			}
			fh.commits = append(fh.commits, fh.add(gittest.PackCommit, commitData(write(m), ph...)))
		}
		repo := filepath.Join(t.TempDir(), "repo.git")
		gittest.Run(t, filepath.Dir(repo), "init", "-q", "--bare", repo)
		gittest.ForgePack(t, filepath.Join(repo, "objects"), fh.objs)
		for i, c := range fh.commits {
			setRef(t, repo, fmt.Sprintf("refs/heads/c%d", i), c)
		}

		// The rule, on the serialized trees: every (path, blob) of a tree,
		// duplicates included.
		var flatten func(tree, prefix string, into map[string]bool)
		flatten = func(tree, prefix string, into map[string]bool) {
			es, err := odb.ParseTree(fh.trees[tree])
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				switch {
				case e.IsTree():
					flatten(e.Hash.String(), prefix+e.Name+"/", into)
				case e.IsBlob():
					into[prefix+e.Name+" "+e.Hash.String()] = true
				}
			}
		}
		treeOf := func(commit int) map[string]bool {
			m := map[string]bool{}
			data := fh.objs[slices.IndexFunc(fh.objs, func(o gittest.PackObject) bool {
				return o.Type == gittest.PackCommit && gittest.ObjectName("commit", o.Data) == fh.commits[commit]
			})].Data
			info, err := odb.ParseCommit(data)
			if err != nil {
				t.Fatal(err)
			}
			flatten(info.Tree.String(), "", m)
			return m
		}

		rp, err := openRepo(repo)
		if err != nil {
			t.Fatal(err)
		}
		h := &history{r: rp, res: &Result{}, maxEntries: maxDiffEntries, runSize: 1 << 20}
		if err := h.graph(context.Background()); err != nil {
			t.Fatal(err)
		}
		h.diffAll(context.Background())
		rp.close()
		if len(h.res.Errors) != 0 {
			t.Fatalf("seed %d: errors %v", seed, h.res.Errors)
		}
		got := map[string]bool{}
		for _, in := range h.intros {
			got[fmt.Sprintf("%s %s %d", h.paths.list[in.path], in.blob, in.order)] = true
		}
		want := 0
		for c := range fh.commits {
			j, ok := h.byH[plumbing.NewHash(fh.commits[c])]
			if !ok {
				t.Fatalf("commit %d not in the graph", c)
			}
			order := h.nodes[j].order
			cur := treeOf(c)
			var parents []map[string]bool
			for _, p := range parentsOf[c] {
				parents = append(parents, treeOf(p))
			}
			for pb := range cur {
				isNew := true
				for _, pm := range parents {
					if pm[pb] {
						isNew = false
					}
				}
				if isNew {
					want++
					if k := fmt.Sprintf("%s %d", pb, order); !got[k] {
						t.Errorf("seed %d, commit %d (%d parents): %s is new, the diff missed it", seed, c, len(parents), pb)
					}
				}
			}
		}
		if want < 50 {
			t.Fatalf("seed %d: only %d intros by the rule", seed, want)
		}
	}
}
