#!/usr/bin/env bash
# Times whole-process `gemscan dir` on a large real tree against ripgrep
# searching the same tree for the four literal keywords with the same reach
# (`rg -F --no-ignore`: the lower bound for "read every file and look for the
# keys"), and prints the ratios. gemscan also opens archives (zip, jar, tar,
# gz, …), which rg does not: the like-for-like row is --max-archive-depth 0;
# the default is printed too.
#
#   bench/dir.sh [TREE]      default: the Go toolchain's own src/
#   RUNS=N bench/dir.sh      runs per command (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
tree="${1:-$(go env GOROOT)/src}"
need hyperfine hyperfine
need rg ripgrep
build_release "$out/gemscan" ./cmd/gemscan
echo "tree: $tree: $(find "$tree" -type f | wc -l) files, $(du -sh "$tree" | cut -f1)"
load before
hyperfine -N -i -w 3 -r "${RUNS:-15}" --export-json "$out/dir.json" \
  -n "gemscan dir --max-archive-depth 0" "$out/gemscan dir --no-color --max-archive-depth 0 $tree" \
  -n "gemscan dir (default: opens archives)" "$out/gemscan dir --no-color $tree" \
  -n "rg -F --no-ignore" "rg -F --no-ignore -c -e account- -e master- -e AIza -e AQ. $tree" >/dev/null
load after
ratios "$out/dir.json" "gemscan dir --max-archive-depth 0 <= 1.3x rg" \
  "gemscan dir --max-archive-depth 0" "gemscan dir (default: opens archives)" "rg -F --no-ignore"
