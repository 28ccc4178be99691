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
#   ROUNDS=N                 rounds the runs are spread over (default 5)
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

# run JSON RUNS TARGET NAME CMD… : hyperfine over the named commands and rg,
# then ratios. The machine's load changes within seconds when it is shared,
# so the runs go in ROUNDS rounds of a few runs of each command, and the
# medians and CPU means are taken over all rounds.
run() {
  local json=$1 runs=$2 target=$3; shift 3
  local args=() names=() rounds=${ROUNDS:-5} parts=()
  while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); names+=("$1"); shift 2; done
  local per=$(( (runs + rounds - 1) / rounds ))
  load before
  for i in $(seq "$rounds"); do
    hyperfine -N -i -w 1 -r "$per" --export-json "$json.$i" "${args[@]}" -n "rg -F --no-ignore" "$rgcmd" >/dev/null 2>&1
    parts+=("$json.$i")
  done
  load after
  python3 - "$json" "${parts[@]}" <<'PY'
import json, statistics, sys
out, parts = sys.argv[1], sys.argv[2:]
merged = {}
for p in parts:
    for x in json.load(open(p))["results"]:
        m = merged.setdefault(x["command"], {"command": x["command"], "times": [], "cpu": []})
        m["times"] += x["times"]
        m["cpu"] += [u + s for u, s in zip(x["user"] if isinstance(x["user"], list) else [x["user"]] * len(x["times"]),
                                           x["system"] if isinstance(x["system"], list) else [x["system"]] * len(x["times"]))]
res = []
for m in merged.values():
    cpu = statistics.mean(m["cpu"])
    res.append({"command": m["command"], "times": m["times"], "median": statistics.median(m["times"]),
                "min": min(m["times"]), "user": cpu, "system": 0.0})
json.dump({"results": res}, open(out, "w"))
PY
  rm -f "${parts[@]}"
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
