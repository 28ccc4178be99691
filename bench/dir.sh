#!/usr/bin/env bash
# Times whole-process `gemscan dir` on a large real tree against ripgrep
# searching the same tree for the four literal keywords with the same reach
# (`rg -F --no-ignore`: the lower bound for "read every file and look for the
# keys"), and prints the ratios. gemscan also opens archives (zip, jar, tar,
# gz, …), which rg does not: the like-for-like row is --max-archive-depth 0;
# the default is timed apart (DEFAULT_RUNS), since on Go's src/ it is
# dominated by one bzip2 file (regexp/testdata/re2-exhaustive.txt.bz2, 428 KB
# holding 64 MB of text) that gemscan must decompress and scan.
#
#   bench/dir.sh [TREE]      default: the Go toolchain's own src/
#   RUNS=N bench/dir.sh      runs per command of the like-for-like set (default 15)
#   DEFAULT_RUNS=N           runs of the default scan (default 5; 0 skips it)
#   BASELINE_BIN=PATH        also time another gemscan binary (before/after)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
tree="${1:-$(go env GOROOT)/src}"
need hyperfine hyperfine
need rg ripgrep
build_release "$out/gemscan" ./cmd/gemscan
echo "tree: $tree: $(find "$tree" -type f | wc -l) files, $(du -sh "$tree" | cut -f1)"
rgcmd="rg -F --no-ignore -c -e account- -e master- -e AIza -e AQ. $tree"

# run JSON RUNS NAME… : hyperfine over the named commands and rg, then ratios.
run() {
  local json=$1 runs=$2 target=$3; shift 3
  local args=() names=()
  while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); names+=("$1"); shift 2; done
  load before
  hyperfine -N -i -w 2 -r "$runs" --export-json "$json" "${args[@]}" -n "rg -F --no-ignore" "$rgcmd" >/dev/null
  load after
  ratios "$json" "$target" "${names[@]}" "rg -F --no-ignore"
}

cmds=("gemscan dir --max-archive-depth 0" "$out/gemscan dir --no-color --max-archive-depth 0 $tree")
if [ -n "${BASELINE_BIN:-}" ]; then
  cmds+=("baseline dir --max-archive-depth 0" "$BASELINE_BIN dir --no-color --max-archive-depth 0 $tree")
fi
run "$out/dir.json" "${RUNS:-15}" "gemscan dir --max-archive-depth 0 <= 1.3x rg" "${cmds[@]}"

if [ "${DEFAULT_RUNS:-5}" -gt 0 ]; then
  cmds=("gemscan dir (default: opens archives)" "$out/gemscan dir --no-color $tree")
  if [ -n "${BASELINE_BIN:-}" ]; then
    cmds+=("baseline dir (default)" "$BASELINE_BIN dir --no-color $tree")
  fi
  run "$out/dir-default.json" "${DEFAULT_RUNS:-5}" "as little as possible over rg (archives are work rg does not do)" "${cmds[@]}"
fi
