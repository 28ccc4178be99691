#!/usr/bin/env bash
# Puts a gemscan binary for this runner at "$RUNNER_TEMP/gemscan-bin/gemscan",
# for action.yml. Two modes:
#
#   setup.sh fetch   the release binary for the action's version: from the
#                    runner's tool cache (warm), or downloaded and checked
#                    against the release's SHA256SUMS (cold). When there is no
#                    release to use (the action is used at a branch or commit,
#                    or the release has no asset for this platform) it writes
#                    build=true and the cache key/dir for a source build to
#                    $GITHUB_OUTPUT. A checksum mismatch fails: never run an
#                    unverified binary.
#   setup.sh build   builds gemscan from the action's own source into the
#                    cache dir (unless the cache restored it), in a clean Go
#                    environment: the job's GOFLAGS, GOOS, GOARCH,
#                    CGO_ENABLED… do not leak in, PATH is left alone.
#
# Environment: INPUT_VERSION (the action's `version` input), ACTION_REF
# (github.action_ref), RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, RUNNER_TOOL_CACHE,
# GITHUB_ACTION_PATH, GITHUB_OUTPUT. GEMSCAN_RELEASE_BASE_URL and
# GEMSCAN_RELEASE_REPO_URL exist for the tests (a local fake release server);
# action.yml never sets them.
set -euo pipefail

repo_url="${GEMSCAN_RELEASE_REPO_URL:-https://github.com/gemscan-dev/gemscan}"
base_url="${GEMSCAN_RELEASE_BASE_URL:-https://github.com/gemscan-dev/gemscan/releases/download}"
bin_dir="$RUNNER_TEMP/gemscan-bin"

say() { printf 'gemscan setup: %s\n' "$*" >&2; }
output() { printf '%s=%s\n' "$1" "$2" >> "$GITHUB_OUTPUT"; }

case "${RUNNER_OS:-Linux}" in
  Linux) os=linux ;;
  macOS) os=darwin ;;
  Windows) os=windows ;;
  *) os="" ;;
esac
case "${RUNNER_ARCH:-X64}" in
  X64) arch=amd64 ;;
  ARM64) arch=arm64 ;;
  *) arch="" ;;
esac
exe=""
[ "$os" = windows ] && exe=.exe

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# install SRC: the binary the scan step runs.
install() {
  mkdir -p "$bin_dir"
  cp "$1" "$bin_dir/gemscan$exe"
  chmod +x "$bin_dir/gemscan$exe"
  output bin "$bin_dir/gemscan$exe"
}

# resolve prints the release tag to use, or nothing for a source build.
resolve() {
  local want="${INPUT_VERSION:-}"
  [ -n "$want" ] || want="${ACTION_REF:-}"
  case "$want" in
    v[0-9]*.[0-9]*.[0-9]*) echo "$want"; return ;;
    [0-9]*.[0-9]*.[0-9]*) echo "v$want"; return ;;
  esac
  # A moving major tag (v0) or "latest": the newest release tag it covers.
  local pattern=""
  case "$want" in
    v[0-9] | v[0-9][0-9]) pattern="refs/tags/$want.*" ;;
    latest) pattern="refs/tags/v*" ;;
    *) return ;;
  esac
  git ls-remote --tags --refs "$repo_url" "$pattern" 2>/dev/null |
    sed -n 's|.*refs/tags/\(v[0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\)$|\1|p' |
    sort -t. -k1.2,1n -k2,2n -k3,3n | tail -n 1
}

# source_key identifies the action's source, for the build cache: the
# digest of every Go source's name and digest, one process for all files.
source_key() {
  local sums=(sha256sum)
  command -v sha256sum >/dev/null 2>&1 || sums=(shasum -a 256)
  (cd "$GITHUB_ACTION_PATH" &&
    find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -not -path './.git/*' -not -path './bench/out/*' |
    LC_ALL=C sort | tr '\n' '\0' | xargs -0 "${sums[@]}") > "$RUNNER_TEMP/gemscan-src.txt"
  sha256 "$RUNNER_TEMP/gemscan-src.txt" | cut -c1-16
  rm -f "$RUNNER_TEMP/gemscan-src.txt"
}

plan_build() {
  local key
  key=$(source_key)
  output build true
  output build-key "gemscan-build-${RUNNER_OS:-os}-${RUNNER_ARCH:-arch}-$key"
  output build-dir "$RUNNER_TEMP/gemscan-build"
  if command -v go >/dev/null 2>&1; then output has-go true; else output has-go false; fi
  say "$1: building gemscan from the action's source (cached by source hash $key)"
}

fetch() {
  local tag ver asset dir tmp
  tag=$(resolve)
  if [ -z "$tag" ]; then
    plan_build "no release for ref '${INPUT_VERSION:-${ACTION_REF:-}}'"
    return
  fi
  if [ -z "$os" ] || [ -z "$arch" ]; then
    plan_build "no release binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}"
    return
  fi
  ver="${tag#v}"
  asset="gemscan_${ver}_${os}_${arch}.tar.gz"
  [ "$os" = windows ] && asset="gemscan_${ver}_${os}_${arch}.zip"
  dir="${RUNNER_TOOL_CACHE:-$RUNNER_TEMP/tool-cache}/gemscan/$ver/$arch"
  if [ -f "$dir.complete" ] && [ -x "$dir/gemscan$exe" ]; then
    say "gemscan $tag from the tool cache"
    install "$dir/gemscan$exe"
    return
  fi
  tmp=$(mktemp -d "$RUNNER_TEMP/gemscan-dl.XXXXXX")
  local code
  code=$(curl -sSL --proto '=https,http' --retry 3 -o "$tmp/$asset" -w '%{http_code}' "$base_url/$tag/$asset" || true)
  if [ "$code" = 404 ]; then
    rm -rf "$tmp"
    plan_build "release $tag has no asset $asset"
    return
  fi
  if [ "$code" != 200 ]; then
    say "download $base_url/$tag/$asset failed (HTTP $code)"
    exit 1
  fi
  if ! curl -fsSL --proto '=https,http' --retry 3 -o "$tmp/SHA256SUMS" "$base_url/$tag/SHA256SUMS"; then
    say "release $tag has no SHA256SUMS: refusing to run an unverified binary"
    exit 1
  fi
  local want got
  want=$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$tmp/SHA256SUMS")
  got=$(sha256 "$tmp/$asset")
  if [ -z "$want" ] || [ "$want" != "$got" ]; then
    echo "::error title=gemscan::checksum mismatch for $asset (SHA256SUMS: ${want:-none}, downloaded: $got): not running it"
    rm -rf "$tmp"
    exit 1
  fi
  mkdir -p "$tmp/x"
  if [ "$os" = windows ]; then
    if command -v unzip >/dev/null 2>&1; then unzip -q "$tmp/$asset" -d "$tmp/x"
    else powershell -NoProfile -Command "Expand-Archive -LiteralPath '$tmp/$asset' -DestinationPath '$tmp/x'"
    fi
  else
    tar -xzf "$tmp/$asset" -C "$tmp/x"
  fi
  if [ ! -f "$tmp/x/gemscan$exe" ]; then
    say "$asset holds no gemscan$exe"
    exit 1
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  mv "$tmp/x/gemscan$exe" "$dir/gemscan$exe"
  touch "$dir.complete"
  rm -rf "$tmp"
  say "gemscan $tag downloaded and verified ($asset)"
  install "$dir/gemscan$exe"
}

build() {
  local dir="${BUILD_DIR:?}"
  if [ -x "$dir/gemscan$exe" ]; then
    say "gemscan from the build cache"
    install "$dir/gemscan$exe"
    return
  fi
  mkdir -p "$dir"
  # A clean Go environment: only what a reproducible host build needs.
  (cd "$GITHUB_ACTION_PATH" &&
    env -u GOFLAGS -u GOOS -u GOARCH -u GOARM -u GOAMD64 -u GOARM64 -u GO386 -u GOEXPERIMENT -u GOWORK \
      -u GOBIN -u CC -u CGO_CFLAGS -u CGO_LDFLAGS \
      CGO_ENABLED=0 GOTOOLCHAIN=auto GOFLAGS=-mod=readonly \
      go build -trimpath -tags urfave_cli_no_docs -ldflags='-s -w' -o "$dir/gemscan$exe" ./cmd/gemscan)
  say "gemscan built from source"
  install "$dir/gemscan$exe"
}

case "${1:-}" in
  fetch) fetch ;;
  build) build ;;
  *) echo "usage: setup.sh fetch|build" >&2; exit 2 ;;
esac
