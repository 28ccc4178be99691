#!/usr/bin/env bash
# Times `gemscan version` (start-up: runtime, package initialisation, the
# binary's pages) against an empty Go program built the same way, and prints
# the ratio and the heaviest package initialisers (GODEBUG=inittrace=1).
# The commands run in turns (bench/interleave), so that the machine's
# changing load weighs on each alike, and every binary is timed as
# installed (installed in lib.sh).
#
#   bench/version.sh
#   RUNS=N                 runs per command (default 300)
#   BASELINE_BIN=PATH      also time another gemscan binary (before/after)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
go build -o "$out/interleave" ./bench/interleave
build_release "$out/gemscan.linked" ./cmd/gemscan
mkdir -p "$out/empty"
printf 'package main\n\nfunc main() {}\n' > "$out/empty/main.go"
(cd "$out/empty" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out/empty-go.linked" main.go)
# Every binary is timed as installed (copied), not as the linker left it:
# see installed in lib.sh.
installed "$out/gemscan.linked" "$out/gemscan"
installed "$out/empty-go.linked" "$out/empty-go"
echo "binaries: gemscan $(($(stat -c %s "$out/gemscan") / 1024)) KiB, empty $(($(stat -c %s "$out/empty-go") / 1024)) KiB"
load before
cmds=(-n "gemscan version" "$out/gemscan version")
names=("gemscan version")
if [ -n "${BASELINE_BIN:-}" ]; then # another build, side by side
  installed "$BASELINE_BIN" "$out/baseline-gemscan"
  BASELINE_BIN=$out/baseline-gemscan
  echo "baseline: $BASELINE_BIN $(($(stat -c %s "$BASELINE_BIN") / 1024)) KiB"
  cmds+=(-n "baseline version" "$BASELINE_BIN version")
  names+=("baseline version")
fi
"$out/interleave" -w 20 -r "${RUNS:-300}" -json "$out/version.json" \
  "${cmds[@]}" -n "empty Go program" "$out/empty-go"
load after
ratios "$out/version.json" "gemscan version <= 2x an empty Go program" "${names[@]}" "empty Go program"
faults "$out/version.json"
echo "heaviest package initialisers (one run):"
GODEBUG=inittrace=1 "$out/gemscan" version 2>&1 >/dev/null | sort -t, -k2 -g -r | awk '/^init/ {print "  " $0}' | sort -k5 -g -r | head -8
