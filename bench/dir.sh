#!/usr/bin/env bash
# Times whole-process `gemscan dir` on a large real tree against ripgrep
# searching the same tree for the four literal keywords (the lower bound for
# "read every file and look for the keys"), and prints the ratio.
#
#   bench/dir.sh [TREE]      default: the Go toolchain's own src/
set -euo pipefail
cd "$(dirname "$0")/.."
tree="${1:-$(go env GOROOT)/src}"
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)"; exit 1; }
command -v rg >/dev/null || { echo "needs ripgrep (apt-get install ripgrep)"; exit 1; }
out=bench/out; mkdir -p "$out"
go build -o "$out/gemscan" ./cmd/gemscan
hyperfine -N -w 3 -r 15 --export-json "$out/dir.json" \
  -n gemscan "$out/gemscan dir --no-color $tree" \
  -n ripgrep "rg -F -c -e account- -e master- -e AIza -e AQ. $tree" -i >/dev/null
python3 - "$out/dir.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
g, rg = r["gemscan"]["median"], r["ripgrep"]["median"]
print(f"gemscan dir: {g*1000:.1f} ms median, ripgrep: {rg*1000:.1f} ms, ratio {g/rg:.2f}x (target <= 1.5x)")
PY
