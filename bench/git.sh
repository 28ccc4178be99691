#!/usr/bin/env bash
# Times whole-process `gemscan git` on a large repository against the git
# CLI reading every object of the same repository once (`git cat-file
# --batch-all-objects --batch --unordered`: the lower bound for "look at every
# blob ever committed"), and against `gitleaks git` with a Gemini-only rule
# when gitleaks is installed. Prints medians of wall and CPU (user+sys) time,
# cores kept busy ((user+sys)/wall), peak RSS and the ratios.
#
#   bench/git.sh [REPO]    REPO: a repository or bare clone. The reference is
#                          git/git's branches and tags (85k commits, 419k
#                          objects, 314 MiB pack), fetched once with
#                            git clone --bare https://github.com/git/git ~/.cache/gemscan-bench/gitgit.git
#                          A --mirror clone also has GitHub's 3,277 refs/pull
#                          (203k commits, 849k objects): a different yardstick.
#                          The clone must own its objects (no alternates), or
#                          cat-file reads the lender's objects too.
#                          default: builds ~/.cache/gemscan-bench/gosrc-history (the Go
#                          toolchain's src/ plus 4000 editing commits)
#   RUNS=N bench/git.sh    rounds of one run per command (default 3)
#   BASELINE_BIN=PATH      also time another gemscan binary (before/after)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
repo="${1:-}"
if [ -z "$repo" ]; then
  repo="$cache/gosrc-history"
  [ -d "$repo/.git" ] || python3 bench/mkrepo.py "$repo" 4000 >/dev/null
fi
build_release "$out/gemscan" ./cmd/gemscan
runs=${RUNS:-3}
echo "repository: $repo: $(git -C "$repo" rev-list --all | wc -l) commits, $(git -C "$repo" count-objects -v |
  awk '/^(count|in-pack):/ {n+=$2} /^size-pack:/ {p=$2} END {printf "%d objects, %d MiB of packs", n, p/1024}')"
load before

# measure NAME CMD...: one line "NAME wall user sys rss status" per call.
measure() {
  local name=$1; shift
  # gemscan exits 1 with findings, 2 when the scan is incomplete (say, a
  # corrupt archive in the history): the time counts all the same, the
  # status is shown.
  local rc=0
  /usr/bin/time -f "%e %U %S %M" -o "$out/time.txt" "$@" >/dev/null 2>"$out/stderr.txt" || rc=$?
  echo "$name $(tail -n 1 "$out/time.txt") $rc"
}

if command -v gitleaks >/dev/null; then
  cat > "$out/gitleaks.toml" <<'TOML'
[[rules]]
id = "gemini-exchange-key"
regex = '''(?:account|master)-[0-9A-Za-z]{20}'''
keywords = ["account-", "master-"]
TOML
fi
# Rounds of one run of each command, so that the load of a shared machine
# weighs on all of them alike.
for _ in $(seq "$runs"); do
  measure cat-file git -C "$repo" cat-file --batch-all-objects --batch --unordered
  measure gemscan "$out/gemscan" git -q --no-color "$repo"
  if [ -n "${BASELINE_BIN:-}" ]; then # another build, side by side
    measure baseline "$BASELINE_BIN" git -q --no-color "$repo"
  fi
  if command -v gitleaks >/dev/null; then
    measure gitleaks gitleaks git --no-banner -c "$out/gitleaks.toml" "$repo"
  fi
done > "$out/git.txt"
load after
python3 - "$out/git.txt" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for l in open(sys.argv[1]):
    name, *v = l.split()
    runs[name].append([float(x) for x in v])
med = lambda rows, i: statistics.median(r[i] for r in rows)
base = med(runs["cat-file"], 0)
for name, rows in runs.items():
    wall, cpu = med(rows, 0), statistics.median(r[1] + r[2] for r in rows)
    rss = max(r[3] for r in rows) / 1024
    codes = sorted({int(r[4]) for r in rows})
    print(f"{name:9s} wall median {wall:7.2f} s  CPU {cpu:7.2f} s  cores busy {cpu/wall:4.2f}  "
          f"peak RSS {rss:5.0f} MiB  ratio to cat-file {wall/base:4.2f}x  exit {codes}  ({len(rows)} runs)")
print("target: gemscan <= 0.6x cat-file, all cores busy, peak RSS <= 200 MiB")
PY
