#!/usr/bin/env bash
# Times whole-process `gemscan git` on a large repository against the git
# CLI reading every object once (`git cat-file --batch-all-objects --batch
# --unordered`), and against `gitleaks git` with a Gemini-only rule when
# gitleaks is installed. Prints medians, ratios and peak RSS.
#
#   bench/git.sh [REPO]    default: builds bench/out/gosrc-history (the Go
#                          toolchain's src/ plus 4000 editing commits)
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out; mkdir -p "$out"
repo="${1:-}"
if [ -z "$repo" ]; then
  repo="$out/gosrc-history"
  [ -d "$repo/.git" ] || python3 bench/mkrepo.py "$repo" 4000 >/dev/null
fi
go build -o "$out/gemscan" ./cmd/gemscan
runs=5

# measure NAME CMD...: median wall seconds and peak RSS (MiB) over $runs runs.
measure() {
  local name=$1; shift
  local t=() m=()
  for _ in $(seq $runs); do
    /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >/dev/null 2>&1 || true
    read -r s k < "$out/time.txt"
    t+=("$s"); m+=("$k")
  done
  python3 - "$name" "${t[*]}" "${m[*]}" <<'PY'
import statistics, sys
name, ts, ms = sys.argv[1], [float(x) for x in sys.argv[2].split()], [int(x) for x in sys.argv[3].split()]
print(f"{name} {statistics.median(ts):.3f} {max(ms)/1024:.0f}")
PY
}

{
  measure cat-file git -C "$repo" cat-file --batch-all-objects --batch --unordered
  measure gemscan "$out/gemscan" git -q --no-color "$repo"
  if command -v gitleaks >/dev/null; then
    cat > "$out/gitleaks.toml" <<'TOML'
[[rules]]
id = "gemini-exchange-key"
regex = '''(?:account|master)-[0-9A-Za-z]{20}'''
keywords = ["account-", "master-"]
TOML
    measure gitleaks gitleaks git --no-banner -c "$out/gitleaks.toml" "$repo"
  fi
} > "$out/git.txt"
python3 - "$out/git.txt" "$repo" <<'PY'
import sys
rows = {l.split()[0]: (float(l.split()[1]), int(l.split()[2])) for l in open(sys.argv[1])}
base = rows["cat-file"][0]
print(f"repository: {sys.argv[2]}")
for name, (t, rss) in rows.items():
    print(f"{name:10s} {t*1000:8.0f} ms  peak RSS {rss:4d} MiB  ratio to cat-file {t/base:.2f}")
print("targets: gemscan ratio <= 1.0, peak RSS <= 200 MiB")
PY
