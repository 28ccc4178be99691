# Shared by the bench/ scripts (source it; do not run it).
#
# Every script builds gemscan the way releases are built (.goreleaser.yaml,
# Dockerfile): static, stripped, without urfave/cli's man/Markdown generator.
# Start-up time and the pages a run touches depend on that.
#
# The machine is rarely idle: each script prints the load average before and
# after, and CPU time (user+sys) beside wall time. Compare ratios from one run
# of a script, never absolute times from different runs or machines.

out=$PWD/bench/out
mkdir -p "$out"
# Benchmark repositories live outside the checkout: the action's build-cache
# key (action/setup.sh) and other tree walks would read their thousands of
# files on every test run.
cache=${GEMSCAN_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gemscan-bench}
mkdir -p "$cache"

# build_release OUT PKG: a release-like build of PKG.
build_release() {
  CGO_ENABLED=0 go build -trimpath -tags urfave_cli_no_docs -ldflags='-s -w' -o "$1" "$2"
}

need() {
  command -v "$1" >/dev/null || { echo "needs $1 (apt-get install $2)" >&2; exit 1; }
}

load() { echo "load average ($1): $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"; }

# ratios JSON TARGET NAME BASELINE [NAME…]: medians of a hyperfine JSON
# export, with each NAME's ratio to BASELINE (wall, and CPU user+sys).
ratios() {
  python3 - "$@" <<'PY'
import json, sys
path, target, names = sys.argv[1], sys.argv[2], sys.argv[3:]
r = {x["command"]: x for x in json.load(open(path))["results"]}
base = r[names[-1]]
bw, bc = base["median"], base["user"] + base["system"]
for n in names:
    x = r[n]
    w, c = x["median"], x["user"] + x["system"]
    print(f'{n:44s} wall median {w*1000:8.1f} ms (min {x["min"]*1000:7.1f})  '
          f'CPU mean {c*1000:8.1f} ms  ratio wall {w/bw:5.2f}x  CPU {c/bc:5.2f}x')
print(f"target: {target}")
PY
}

# page_faults CMD…: the page faults of one run of CMD (a binary's pages and
# its heap's: much of a short process's start-up), when perf is installed.
page_faults() {
  command -v perf >/dev/null || return 0
  local n
  # (git diff --quiet exits 1 when something is staged: not a failure here.)
  n=$(perf stat -x, -e page-faults -r 20 "$@" 2>&1 >/dev/null | awk -F, '/page-faults/ {print $1}' || true)
  echo "page faults: ${n:-?} for $*"
}

# installed SRC DST: copies the binary SRC to DST as installing it would
# (cp, a download, a package): that copy is what users run. The file the Go
# linker writes (it preallocates and maps its output) faults its pages in
# more slowly on this machine's kernel (6.18, ext4) than a copy of the same
# bytes, even after its page cache is dropped: a freshly linked gemscan
# took 1.3 ms more CPU per `gemscan version` (5.1 vs 3.8 ms) and per
# `gemscan staged` than its copy, and a baseline copied into place looked
# that much faster than the build it was compared with.
installed() {
  cp "$1" "$2.tmp" && mv -f "$2.tmp" "$2"
}

# faults JSON: the median page faults of each command of an interleave
# export (bench/interleave).
faults() {
  python3 - "$1" <<'PY'
import json, sys
for x in json.load(open(sys.argv[1]))["results"]:
    print(f'page faults (median): {x["page_faults_median"]:6.0f}  {x["command"]}')
PY
}
