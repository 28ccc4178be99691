#!/usr/bin/env bash
# Times whole-process `gemscan staged` with a one-line change staged in a
# large repository, beside `git diff --cached --quiet` (git's own cost of
# comparing the index with HEAD: the lower bound) and `gitleaks git
# --pre-commit --staged` with a Gemini-only config when gitleaks is
# installed. Prints the ratios.
# The commands run in turns (bench/interleave), so that the machine's
# changing load weighs on each alike, and every binary is timed as
# installed (installed in lib.sh).
#
#   bench/staged.sh [REPO]   default: ~/.cache/gemscan-bench/gosrc-history (see git.sh;
#                            the Go toolchain's src/, ~11.5k files)
#   RUNS=N                   runs per command (default 100)
#   BASELINE_BIN=PATH        also time another gemscan binary (before/after)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
repo="${1:-}"
if [ -z "$repo" ]; then
  repo="$cache/gosrc-history"
  [ -d "$repo/.git" ] || python3 bench/mkrepo.py "$repo" 4000 >/dev/null
fi
go build -o "$out/interleave" ./bench/interleave
build_release "$out/gemscan.linked" ./cmd/gemscan
installed "$out/gemscan.linked" "$out/gemscan" # timed as installed: see lib.sh
if [ -n "${BASELINE_BIN:-}" ]; then
  installed "$BASELINE_BIN" "$out/baseline-gemscan"
  BASELINE_BIN=$out/baseline-gemscan
fi
cd "$repo"
[ -f .git/index ] || git checkout -q -f main
echo "repository: $repo: $(git count-objects -v | awk '/^(count|in-pack):/ {s+=$2} END {print s}') objects, $(git ls-files | wc -l) files in the index"
# Stage a one-line change to one file (undone at the end).
f=$(git ls-files '*.go' | awk 'NR==1')
cp "$f" "$out/staged-backup"
trap 'cp "$out/staged-backup" "$f"; git reset -q -- "$f"' EXIT
echo "// staged change $(date +%s)" >> "$f"
git add "$f"
cmds=(-n "gemscan staged" "$out/gemscan staged" -n "git diff --cached --quiet" "git diff --cached --quiet")
names=("gemscan staged")
if [ -n "${BASELINE_BIN:-}" ]; then # another build, side by side
  cmds+=(-n "baseline staged" "$BASELINE_BIN staged")
  names+=("baseline staged")
fi
if command -v gitleaks >/dev/null; then
  printf '[[rules]]\nid = "gemini"\nregex = %s\nkeywords = ["account-", "master-", "AIza", "AQ."]\n' \
    "'''(?:account-|master-)[0-9A-Za-z]{20}|AIza[0-9A-Za-z_-]{35}|AQ\.[0-9A-Za-z_-]{40,64}'''" > "$out/gitleaks.toml"
  cmds+=(-n "gitleaks --pre-commit --staged" "gitleaks git --pre-commit --staged --no-banner -c $out/gitleaks.toml")
  names+=("gitleaks --pre-commit --staged")
fi
load before
"$out/interleave" -w 5 -r "${RUNS:-100}" -json "$out/staged.json" "${cmds[@]}"
load after
ratios "$out/staged.json" "gemscan staged <= 1.3x git diff --cached --quiet" "${names[@]}" "git diff --cached --quiet"
faults "$out/staged.json"
