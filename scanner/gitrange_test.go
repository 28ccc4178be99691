package scanner

import (
	"context"
	"slices"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
)

func TestParseRange(t *testing.T) {
	for spec, want := range map[string]revRange{
		"a..b":     {"a", "b", false},
		"..b":      {"HEAD", "b", false},
		"a..":      {"a", "HEAD", false},
		"HEAD~3..": {"HEAD~3", "HEAD", false},
		"a...b":    {"a", "b", true},
		"...b":     {"HEAD", "b", true},
		"a...":     {"a", "HEAD", true},
	} {
		got, err := parseRange(spec)
		if err != nil || got != want {
			t.Errorf("parseRange(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, bad := range []string{"", "main", "..", "...", "a..b..c", "a....b..c"} {
		if got, err := parseRange(bad); err == nil {
			t.Errorf("parseRange(%q) = %+v, want an error", bad, got)
		}
	}
}

// rangeRepo: base (key0) on main; main then adds keyM; feature, branched
// at base, adds keyF; tag v1 and refs/pull/7/head point at feature.
type rangeRepo struct {
	r                *gitRepo
	key0, keyM, keyF string
}

func newRangeRepo(t *testing.T) rangeRepo {
	g := testkeys.New(91)
	rr := rangeRepo{r: newRepo(t), key0: g.APIKey(), keyM: g.AQKey(), keyF: g.APIKey()}
	r := rr.r
	r.write("base.txt", "k="+rr.key0+"\n")
	r.commit("base")
	r.git("checkout", "-q", "-b", "feature")
	r.write("feature.txt", "k="+rr.keyF+"\n")
	r.commit("feature")
	r.git("tag", "v1")
	r.git("update-ref", "refs/pull/7/head", "HEAD")
	r.git("checkout", "-q", "main")
	r.write("main.txt", "k="+rr.keyM+"\n")
	r.commit("main")
	return rr
}

func values(res *Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.Value)
	}
	slices.Sort(out)
	return out
}

// TestGitRangeForms: ranges as git writes them select what git log would.
func TestGitRangeForms(t *testing.T) {
	rr := newRangeRepo(t)
	sorted := func(v ...string) []string { slices.Sort(v); return v }
	for _, c := range []struct {
		spec    string
		want    []string
		commits int64
	}{
		{"main...feature", sorted(rr.keyM, rr.keyF), 2}, // both sides, not the merge base
		{"feature...main", sorted(rr.keyM, rr.keyF), 2},
		{"..feature", sorted(rr.keyF), 1}, // HEAD (main)..feature
		{"HEAD~1..", sorted(rr.keyM), 1},  // HEAD~1..HEAD
		{"feature..", sorted(rr.keyM), 1},
		{"main..", nil, 0},
		{"main...main", nil, 0},
		{"...feature", sorted(rr.keyM, rr.keyF), 2},
	} {
		t.Run(c.spec, func(t *testing.T) {
			res := ScanGit(context.Background(), rr.r.dir, GitOptions{Range: c.spec})
			noErrors(t, res)
			if got := values(res); !slices.Equal(got, c.want) {
				t.Errorf("findings %v, want %v", got, c.want)
			}
			if res.Stats.Commits != c.commits {
				t.Errorf("scanned %d commits, want %d", res.Stats.Commits, c.commits)
			}
		})
	}
	res := ScanGit(context.Background(), rr.r.dir, GitOptions{Range: "main"})
	if len(res.Errors) != 1 {
		t.Fatalf("a range without dots: errors %v, want one", res.Errors)
	}
}

// TestGitRefs: a finding names the refs whose history holds its commit;
// HEAD first when HEAD reaches it.
func TestGitRefs(t *testing.T) {
	rr := newRangeRepo(t)
	res := ScanGit(context.Background(), rr.r.dir, GitOptions{})
	noErrors(t, res)
	want := map[string][]string{
		rr.key0: {"HEAD", "refs/heads/feature", "refs/heads/main", "refs/tags/v1", "refs/pull/7/head"},
		rr.keyM: {"HEAD", "refs/heads/main"},
		rr.keyF: {"refs/heads/feature", "refs/tags/v1", "refs/pull/7/head"},
	}
	if len(res.Findings) != len(want) {
		t.Fatalf("got %d findings, want %d", len(res.Findings), len(want))
	}
	for _, f := range res.Findings {
		if !slices.Equal(f.Refs, want[f.Value]) || f.MoreRefs != 0 {
			t.Errorf("%s: refs %v (+%d), want %v", f.File, f.Refs, f.MoreRefs, want[f.Value])
		}
	}
	// More refs than a finding names: the rest are counted.
	for i := 0; i < MaxRefs+2; i++ {
		rr.r.git("tag", "t"+string(rune('a'+i)), "feature")
	}
	res = ScanGit(context.Background(), rr.r.dir, GitOptions{})
	noErrors(t, res)
	for _, f := range res.Findings {
		if f.Value == rr.keyF && (len(f.Refs) != MaxRefs || f.MoreRefs != 3+MaxRefs+2-MaxRefs) {
			t.Errorf("refs %v (+%d), want %d and %d more", f.Refs, f.MoreRefs, MaxRefs, 3+MaxRefs+2-MaxRefs)
		}
	}
	// A range scan does not know every ref's history: no refs.
	res = ScanGit(context.Background(), rr.r.dir, GitOptions{Range: "main..feature"})
	noErrors(t, res)
	for _, f := range res.Findings {
		if f.Refs != nil {
			t.Errorf("range scan: refs %v, want none", f.Refs)
		}
	}
}
