#!/usr/bin/env bash
# Times whole-process `gemscan staged` with a one-file change staged in a
# large repository (50k+ objects), beside `git diff --cached --quiet` for
# scale and `gitleaks git --pre-commit --staged` with a Gemini-only config
# when gitleaks is installed. Target: median <= 10 ms.
#
#   bench/staged.sh [REPO]   default: bench/out/gosrc-history (see git.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)"; exit 1; }
out=$PWD/bench/out; mkdir -p "$out"
repo="${1:-}"
if [ -z "$repo" ]; then
  repo="$out/gosrc-history"
  [ -d "$repo/.git" ] || python3 bench/mkrepo.py "$repo" 4000 >/dev/null
fi
go build -o "$out/gemscan" ./cmd/gemscan
cd "$repo"
[ -f .git/index ] || git checkout -q -f main
echo "objects: $(git count-objects -v | awk '/^(count|in-pack):/ {s+=$2} END {print s}'), files: $(git ls-files | wc -l)"
# Stage a one-line change to one file (undone at the end).
f=$(git ls-files '*.go' | awk 'NR==1')
cp "$f" "$out/staged-backup"
trap 'cp "$out/staged-backup" "$f"; git reset -q -- "$f"' EXIT
echo "// staged change $(date +%s)" >> "$f"
git add "$f"
cmds=(-n "gemscan staged" "$out/gemscan staged" -n "git diff --cached --quiet" "git diff --cached --quiet")
if command -v gitleaks >/dev/null; then
  printf '[[rules]]\nid = "gemini"\nregex = %s\nkeywords = ["account-", "master-", "AIza", "AQ."]\n' \
    "'''(?:account-|master-)[0-9A-Za-z]{20}|AIza[0-9A-Za-z_-]{35}|AQ\.[0-9A-Za-z_-]{40,64}'''" > "$out/gitleaks.toml"
  cmds+=(-n "gitleaks --pre-commit --staged" "gitleaks git --pre-commit --staged --no-banner -c $out/gitleaks.toml")
fi
hyperfine -N -i -w 5 -r 100 --export-json "$out/staged.json" "${cmds[@]}" >/dev/null
python3 - "$out/staged.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f'{r["command"]:32s} median {r["median"]*1000:6.1f} ms  mean {r["mean"]*1000:6.1f} ms')
print("target: gemscan staged median <= 10 ms")
PY
