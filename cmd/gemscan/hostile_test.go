//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gemscan-dev/gemscan/internal/gittest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

// The hostile suite forges repositories byte by byte and runs the real
// gemscan binary on them, under a memory limit, checking each ends in exit
// 2 with an error naming the broken object, in bounded memory. The
// deadline only guards against a hang: no assertion depends on time.

// hostileMaxRSS bounds a hostile scan's peak memory (bytes); an honest scan
// of these repositories needs ~20 MiB. hangGuard is signal_test.go's.
const hostileMaxRSS = 300 << 20

// scanRun is one finished run of the binary.
type scanRun struct {
	code           int
	stdout, stderr string
	maxRSS         int64 // bytes
}

// runGemscan runs `gemscan ARGS...` under a soft memory limit and measures
// its peak RSS. Linux counts a child's peak from the memory of the process
// that started it (the RSS high-water mark of the address space it execs
// from), so a child of this test process would be charged for the test's
// own peak: gemscan is started from a small helper (this binary run as
// TestHostileRSSHelper), which reports the child's usage.
func runGemscan(t *testing.T, bin string, args ...string) scanRun {
	t.Helper()
	// The helper kills gemscan at the hang guard; this deadline is only a
	// backstop for the helper itself.
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard+30*time.Second)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHostileRSSHelper$")
	cmd.Env = append(os.Environ(), "GEMSCAN_RSS_HELPER="+dir, "GEMSCAN_RSS_BIN="+bin,
		"GEMSCAN_RSS_ARGS="+strings.Join(args, "\n"))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("gemscan %s did not finish (hang guard)", strings.Join(args, " "))
	}
	if err != nil {
		t.Fatalf("rss helper: %v\n%s", err, out)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("rss helper: %v\n%s", err, out)
		}
		return string(b)
	}
	var r scanRun
	r.stdout, r.stderr = read("stdout"), read("stderr")
	if _, err := fmt.Sscanf(read("status"), "%d %d", &r.code, &r.maxRSS); err != nil {
		t.Fatalf("rss helper status: %v", err)
	}
	if r.code == -1 {
		t.Fatalf("gemscan %s did not finish (hang guard)\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// TestHostileRSSHelper is not a test: runGemscan runs this binary as it to
// start gemscan from a small process and report gemscan's exit status and
// peak RSS.
func TestHostileRSSHelper(t *testing.T) {
	dir := os.Getenv("GEMSCAN_RSS_HELPER")
	if dir == "" {
		t.Skip("helper process for runGemscan")
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Getenv("GEMSCAN_RSS_BIN"), strings.Split(os.Getenv("GEMSCAN_RSS_ARGS"), "\n")...)
	cmd.Env = append(os.Environ(), "GOMEMLIMIT=256MiB", "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	if ctx.Err() != nil {
		code = -1 // killed at the hang guard
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = int64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	for name, data := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(),
		"status": fmt.Sprintf("%d %d\n", code, rss)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// honestRepo makes a repository with one commit and returns its objects
// directory.
func honestRepo(t *testing.T) (repo, objects string) {
	t.Helper()
	repo = t.TempDir()
	gittest.Run(t, repo, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(repo, "README"), []byte("an honest file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, repo, "add", "README")
	gittest.Run(t, repo, "commit", "-q", "-m", "honest")
	return repo, filepath.Join(repo, ".git", "objects")
}

// forgeBranch writes a loose commit whose root tree is tree and points
// branch at it.
func forgeBranch(t *testing.T, repo, branch, tree string) string {
	t.Helper()
	commit := gittest.ForgeLoose(t, filepath.Join(repo, ".git", "objects"), "", "commit", []byte(
		"tree "+tree+"\nauthor Ada <ada@example.invalid> 1700000000 +0000\ncommitter Ada <ada@example.invalid> 1700000000 +0000\n\nforged\n"))
	setRef(t, repo, branch, commit)
	return commit
}

func setRef(t *testing.T, repo, branch, commit string) {
	t.Helper()
	p := filepath.Join(repo, ".git", "refs", "heads", branch)
	if err := os.WriteFile(p, []byte(commit+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// forgeTreeBranch writes a loose tree holding one file, blob, and a branch
// whose commit has that tree.
func forgeTreeBranch(t *testing.T, repo, branch, blob string) {
	t.Helper()
	tree := gittest.ForgeLoose(t, filepath.Join(repo, ".git", "objects"), "", "tree", gittest.TreeEntry("100644", "file.txt", blob))
	forgeBranch(t, repo, branch, tree)
}

func made(s string) string { return gittest.ObjectName("blob", []byte("made-up name: "+s)) }

// wantRefused checks a run ended in exit 2 with an error naming obj and
// saying what, in bounded memory.
func wantRefused(t *testing.T, r scanRun, obj, what string) {
	t.Helper()
	if r.code != 2 {
		t.Errorf("exit %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, obj) || !strings.Contains(r.stderr, what) {
		t.Errorf("stderr does not name %s with %q:\n%s", obj, what, r.stderr)
	}
	if r.maxRSS > hostileMaxRSS {
		t.Errorf("peak RSS %d MiB, over %d MiB", r.maxRSS>>20, hostileMaxRSS>>20)
	}
}

func TestHostileObjects(t *testing.T) {
	gittest.Need(t)
	bin := buildGemscan(t)
	copy5 := gittest.Delta(5, 5, gittest.DeltaCopy(0, 5))

	t.Run("ref_delta_on_itself", func(t *testing.T) {
		t.Parallel()
		repo, objects := honestRepo(t)
		self := made("self")
		gittest.ForgePack(t, objects, []gittest.PackObject{{Type: gittest.PackRefDelta, Name: self, BaseName: self, Data: copy5}})
		forgeTreeBranch(t, repo, "forged", self)
		wantRefused(t, runGemscan(t, bin, "git", repo), self, "loops")
	})

	t.Run("ref_delta_cycle", func(t *testing.T) {
		t.Parallel()
		repo, objects := honestRepo(t)
		a, b := made("a"), made("b")
		gittest.ForgePack(t, objects, []gittest.PackObject{
			{Type: gittest.PackRefDelta, Name: a, BaseName: b, Data: copy5},
			{Type: gittest.PackRefDelta, Name: b, BaseName: a, Data: copy5},
		})
		forgeTreeBranch(t, repo, "forged", a)
		r := runGemscan(t, bin, "git", repo)
		wantRefused(t, r, "delta chain loops", "object")
		if !strings.Contains(r.stderr, a) && !strings.Contains(r.stderr, b) {
			t.Errorf("stderr names neither %s nor %s:\n%s", a, b, r.stderr)
		}
	})

	t.Run("tree_ref_delta_on_itself", func(t *testing.T) {
		t.Parallel()
		repo, objects := honestRepo(t)
		tree := made("tree")
		gittest.ForgePack(t, objects, []gittest.PackObject{{Type: gittest.PackRefDelta, Name: tree, BaseName: tree, Data: copy5}})
		forgeBranch(t, repo, "forged", tree)
		wantRefused(t, runGemscan(t, bin, "git", repo), tree, "loops")
	})

	t.Run("delta_chain_too_deep", func(t *testing.T) {
		t.Parallel()
		repo, objects := honestRepo(t)
		objs := []gittest.PackObject{{Type: gittest.PackBlob, Data: []byte("v0")}}
		for i := 1; i <= 4100; i++ {
			prev := len(fmt.Sprintf("v%d", i-1))
			v := fmt.Sprintf("v%d", i)
			objs = append(objs, gittest.PackObject{Type: gittest.PackOfsDelta, Base: i - 1,
				Name: gittest.ObjectName("blob", []byte(v)),
				Data: gittest.Delta(int64(prev), int64(len(v)), gittest.DeltaInsert([]byte(v)))})
		}
		names := gittest.ForgePack(t, objects, objs)
		forgeTreeBranch(t, repo, "forged", names[4100])
		wantRefused(t, runGemscan(t, bin, "git", repo), names[4096], "delta chain deeper than 4095")
	})

	t.Run("delta_declares_terabyte", func(t *testing.T) {
		t.Parallel()
		repo, objects := honestRepo(t)
		bomb := made("bomb")
		gittest.ForgePack(t, objects, []gittest.PackObject{
			{Type: gittest.PackBlob, Data: []byte("hello")},
			{Type: gittest.PackOfsDelta, Base: 0, Name: bomb, Data: gittest.Delta(5, 1<<40, gittest.DeltaCopy(0, 5))},
		})
		forgeTreeBranch(t, repo, "forged", bomb)
		for _, max := range []string{"10MiB", "0"} {
			wantRefused(t, runGemscan(t, bin, "git", "--max-file-size", max, repo), bomb, "1099511627776 bytes")
		}
	})

	t.Run("delta_base_declares_more_than_it_holds", func(t *testing.T) {
		t.Parallel()
		repo, objects := honestRepo(t)
		base := made("base")
		names := gittest.ForgePack(t, objects, []gittest.PackObject{
			{Type: gittest.PackBlob, Name: base, Data: []byte("tiny"), Size: 900 << 20},
			{Type: gittest.PackOfsDelta, Base: 0, Data: gittest.Delta(900<<20, 4, gittest.DeltaCopy(0, 4))},
		})
		forgeTreeBranch(t, repo, "forged", names[1])
		wantRefused(t, runGemscan(t, bin, "git", repo), base, "cannot hold")
	})

	t.Run("tree_declares_gigabyte", func(t *testing.T) {
		t.Parallel()
		repo, objects := honestRepo(t)
		tree := made("big tree")
		gittest.ForgeLooseRaw(t, objects, tree, append([]byte("tree 1073741824\x00"), gittest.TreeEntry("100644", "f", made("f"))...))
		forgeBranch(t, repo, "forged", tree)
		wantRefused(t, runGemscan(t, bin, "git", repo), tree, "limit for a tree")
	})

	t.Run("index_fanout_4_billion", func(t *testing.T) {
		t.Parallel()
		repo, objects := honestRepo(t)
		gittest.Run(t, repo, "repack", "-q", "-a", "-d")
		idx, _ := filepath.Glob(filepath.Join(objects, "pack", "*.idx"))
		if len(idx) != 1 {
			t.Fatalf("packs: %v", idx)
		}
		data, err := os.ReadFile(idx[0])
		if err != nil {
			t.Fatal(err)
		}
		for i := 0xf0; i < 256; i++ {
			binary.BigEndian.PutUint32(data[8+4*i:], 0xfffffff0)
		}
		os.Chmod(idx[0], 0o644)
		if err := os.WriteFile(idx[0], data, 0o644); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, runGemscan(t, bin, "git", repo), filepath.Base(idx[0]), "4294967280 objects")
	})

	t.Run("forged_loose_commit", func(t *testing.T) {
		t.Parallel()
		repo, objects := honestRepo(t)
		head := gittest.Run(t, repo, "rev-parse", "HEAD")
		tree := gittest.Run(t, repo, "rev-parse", "HEAD^{tree}")
		data := gittest.Run(t, repo, "cat-file", "commit", head)
		// The honest commit's content under a made-up name, as the parent
		// of an honest-looking commit at a branch tip.
		forged := made("commit")
		gittest.ForgeLoose(t, objects, forged, "commit", []byte(data+"\n"))
		child := gittest.ForgeLoose(t, objects, "", "commit", []byte("tree "+tree+"\nparent "+forged+
			"\nauthor Ada <ada@example.invalid> 1700000000 +0000\ncommitter Ada <ada@example.invalid> 1700000000 +0000\n\nchild\n"))
		setRef(t, repo, "forged", child)
		wantRefused(t, runGemscan(t, bin, "git", repo), forged, "forged")
	})

	t.Run("forged_loose_tree", func(t *testing.T) {
		t.Parallel()
		repo, objects := honestRepo(t)
		forged := made("tree")
		// A tree that names itself as its subdirectory: refused as read,
		// before any walk could loop on it.
		gittest.ForgeLoose(t, objects, forged, "tree", gittest.TreeEntry("40000", "loop", forged))
		forgeBranch(t, repo, "forged", forged)
		wantRefused(t, runGemscan(t, bin, "git", repo), forged, "forged")
	})

	t.Run("corrupt_header_fails_alone", func(t *testing.T) {
		t.Parallel()
		repo, objects := honestRepo(t)
		key := testkeys.New(10).Set().AQKey
		os.WriteFile(filepath.Join(repo, "config.env"), []byte("GEMINI_KEY="+key+"\n"), 0o644)
		os.WriteFile(filepath.Join(repo, "victim.txt"), []byte("this blob's header gets corrupted\n"), 0o644)
		gittest.Run(t, repo, "add", ".")
		gittest.Run(t, repo, "commit", "-q", "-m", "two files")
		victim := gittest.Run(t, repo, "rev-parse", "HEAD:victim.txt")
		gittest.Run(t, repo, "repack", "-q", "-a", "-d")
		idx, _ := filepath.Glob(filepath.Join(objects, "pack", "*.idx"))
		off := -1
		for _, l := range strings.Split(gittest.Run(t, repo, "verify-pack", "-v", idx[0]), "\n") {
			if f := strings.Fields(l); len(f) >= 5 && f[0] == victim {
				off, _ = strconv.Atoi(f[4])
			}
		}
		if off < 0 {
			t.Fatalf("%s not in the pack", victim)
		}
		packFile := strings.TrimSuffix(idx[0], ".idx") + ".pack"
		data, err := os.ReadFile(packFile)
		if err != nil {
			t.Fatal(err)
		}
		data[off] = 0x50 | data[off]&0x0f // type 5 does not exist
		os.Chmod(packFile, 0o644)
		if err := os.WriteFile(packFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r := runGemscan(t, bin, "git", "--format", "json", repo)
		wantRefused(t, r, victim, "corrupt pack object header")
		if !strings.Contains(r.stdout, `"rule": "google-gemini-key"`) && !strings.Contains(r.stdout, `"rule":"google-gemini-key"`) {
			t.Errorf("the key in the pack's other blob was not reported:\n%s", r.stdout)
		}
	})
}

// TestHostileDeepDeltaChain is the honest case: one 16 MiB file edited 40
// times, repacked into one delta chain 40 deep. Peak memory stays a small
// multiple of the file, whatever the depth, and the summary counts each
// version once.
func TestHostileDeepDeltaChain(t *testing.T) {
	gittest.Need(t)
	if testing.Short() {
		t.Skip("builds a 1 MiB file's history")
	}
	bin := buildGemscan(t)
	repo := t.TempDir()
	gittest.Run(t, repo, "init", "-q", "-b", "main")
	// Lines keep their width when edited, and each version appends one:
	// sizes grow with history, so the repack sorts versions newest first
	// and each one finds its neighbour with a window of 1, in one chain.
	line := func(i, edit int) string {
		return fmt.Sprintf("%07d %08x line of a large file, edit %02d\n", i, i*2654435761, edit)
	}
	edits := make([]int, 1<<20/48) // the edit that last changed each line
	// The 41 versions go in through one fast-import (41 git add/commit
	// pairs cost seconds each on a loaded machine).
	var stream bytes.Buffer
	var body bytes.Buffer
	for c := 0; c <= 40; c++ {
		for k := 0; k < 20; k++ {
			edits[(c*7919+k*104729)%len(edits)] = c
		}
		body.Reset()
		for i, e := range edits {
			body.WriteString(line(i, e))
		}
		msg := fmt.Sprint("edit ", c)
		fmt.Fprintf(&stream, "commit refs/heads/main\ncommitter Ada <ada@example.invalid> %d +0000\ndata %d\n%s\nM 100644 inline big.txt\ndata %d\n",
			1704067200+c, len(msg), msg, body.Len())
		stream.Write(body.Bytes())
		stream.WriteString("\n")
	}
	fi := exec.Command("git", "fast-import", "--quiet")
	fi.Dir, fi.Env, fi.Stdin = repo, gittest.Env(0), &stream
	if out, err := fi.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	// A wide window lets each version find the one before it: one chain.
	gittest.Run(t, repo, "repack", "-q", "-a", "-d", "-f", "--depth=50", "--window=50")
	idx, _ := filepath.Glob(filepath.Join(repo, ".git", "objects", "pack", "*.idx"))
	if out := gittest.Run(t, repo, "verify-pack", "-v", idx[0]); !strings.Contains(out, "chain length = 40") {
		t.Fatalf("repack made no chain 40 deep:\n%s", out[max(0, len(out)-500):])
	}

	t.Run("default_size_limit", func(t *testing.T) {
		r := runGemscan(t, bin, "git", "--max-file-size", "512KiB", repo)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		if !strings.Contains(r.stderr+r.stdout, "0 blobs") || !strings.Contains(r.stderr+r.stdout, "skipped 41 too large") {
			t.Errorf("summary miscounts the 41 versions:\n%s%s", r.stdout, r.stderr)
		}
		t.Logf("peak RSS %d MiB", r.maxRSS>>20)
		// One buffer per depth would be 41 × 1 MiB over a ~12 MiB process.
		if r.maxRSS > 40<<20 {
			t.Errorf("peak RSS %d MiB skipping 41 large blobs", r.maxRSS>>20)
		}
	})
	t.Run("no_size_limit", func(t *testing.T) {
		r := runGemscan(t, bin, "git", "--max-file-size", "0", repo)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		if !strings.Contains(r.stderr+r.stdout, "41 blobs") {
			t.Errorf("summary miscounts the 41 versions:\n%s%s", r.stdout, r.stderr)
		}
		// One buffer per depth would be 41 × 1 MiB over a ~12 MiB process.
		t.Logf("peak RSS %d MiB", r.maxRSS>>20)
		if r.maxRSS > 40<<20 {
			t.Errorf("peak RSS %d MiB scanning a 40-deep chain of 1 MiB blobs", r.maxRSS>>20)
		}
	})
}
