#!/usr/bin/env bash
# Installs the real editor that the in-editor tests drive: code-server (VS Code's workbench served
# to a browser, with a Node extension host) into the git-ignored folder .editor/, and Debian's
# Chromium, which playwright-core drives. See docs/testing-in-the-editor.md.
#
# It is idempotent and returns in well under a second when everything is already there. As root it
# installs missing Debian packages (running `apt-get update` only when needed). As another user with
# packages missing, it prints the exact command to run and exits non-zero.
#
# Environment:
#   SMTPWB_EDITOR_DIR   where code-server goes (default: <repo>/.editor)
#   SMTPWB_EDITOR_FORCE=1  reinstall code-server even if it already works
#   SMTPWB_EDITOR_CHECK_ONLY=1  only check: exit 0 when code-server reports the pinned version, else 1
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD
EDITOR_DIR=${SMTPWB_EDITOR_DIR:-$ROOT_DIR/.editor}
CODE_SERVER_VERSION=4.100.3
CODE_SERVER_BIN="$EDITOR_DIR/node_modules/.bin/code-server"
started=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - started) / 1000000 )) ms"; }
log() { echo "install-editor: $*"; }

# Everything this run writes outside .editor goes to one private temporary folder, removed at exit:
# the npm temporary files, the seeded ripgrep cache, and the HOME and XDG folders that every run
# of code-server gets, so that nothing depends on (or is written to) the user's HOME.
RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/smtpwb-install-editor.XXXXXX")
trap 'rm -rf "$RUN_TMP"' EXIT

# Runs a command with a HOME and XDG folders of its own under $RUN_TMP. On a machine where
# code-server never ran, its first start writes ~/.config/code-server/config.yaml and says so on
# stdout; with a fresh HOME every time, every run sees the same thing, whatever the machine.
with_private_home() {
  local home
  home=$(mktemp -d "$RUN_TMP/home.XXXXXX")
  mkdir -p "$home/xdg-config" "$home/xdg-data" "$home/xdg-cache"
  local status=0
  HOME="$home" XDG_CONFIG_HOME="$home/xdg-config" XDG_DATA_HOME="$home/xdg-data" \
    XDG_CACHE_HOME="$home/xdg-cache" "$@" || status=$?
  rm -rf "$home"
  return $status
}

# The single list of Debian packages the editor needs: Chromium to drive, Debian's rg to seed
# @vscode/ripgrep's download cache, and the headers and tools the native modules of code-server
# (node-pty, kerberos, @vscode/spdlog, native-keymap, ...) compile against.
APT_PACKAGES=(chromium ripgrep libkrb5-dev libxkbfile-dev libsecret-1-dev libx11-dev pkg-config
  make g++ python3 git)

# Prints the version code-server reports ("4.100.3" from "4.100.3 <commit> with Code 1.100.3"),
# taken from the line that has that shape rather than from the first line: code-server may log
# other lines (such as "[...] info  Wrote default config file to ...") before it.
code_server_version() {
  [ -x "$CODE_SERVER_BIN" ] || return 1
  local out
  out=$(with_private_home "$CODE_SERVER_BIN" --version 2>&1) || return 1
  printf '%s\n' "$out" | sed -n -E 's/^([0-9]+\.[0-9]+\.[0-9]+) [0-9a-f]{7,40} with Code .*/\1/p' | head -1
}

code_server_works() {
  [ "$(code_server_version)" = "$CODE_SERVER_VERSION" ]
}

if [ "${SMTPWB_EDITOR_CHECK_ONLY:-0}" = 1 ]; then
  if code_server_works; then
    log "code-server $CODE_SERVER_VERSION is installed in $EDITOR_DIR"
    exit 0
  fi
  log "code-server $CODE_SERVER_VERSION is not installed in $EDITOR_DIR (it reports '$(code_server_version || true)')"
  exit 1
fi

# --- Debian packages -----------------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "installed" ]; then
    # python3 may come from elsewhere (pyenv); any working python3 will do for node-gyp.
    if [ "$pkg" = python3 ] && command -v python3 >/dev/null; then continue; fi
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    echo "install-editor: missing Debian packages and not root." >&2
    echo "Run: sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}" >&2
    echo "Then run: bash scripts/install-editor.sh" >&2
    exit 1
  fi
  log "installing ${missing[*]}"
  apt_opts=(-o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends)
  # Try the current package lists first; update them only if that fails.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" "${missing[@]}" >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" "${missing[@]}" >/dev/null
  fi
  log "Debian packages installed after $(elapsed)"
fi

# --- code-server ---------------------------------------------------------------------------------
if [ "${SMTPWB_EDITOR_FORCE:-0}" != 1 ] && code_server_works; then
  log "code-server $CODE_SERVER_VERSION already installed in $EDITOR_DIR ($(elapsed))"
  exit 0
fi

if [ "$(node -p 'process.versions.node.split(".")[0]')" != 20 ]; then
  echo "install-editor: code-server $CODE_SERVER_VERSION needs Node 20 (found $(node -v))." >&2
  exit 1
fi

log "installing code-server $CODE_SERVER_VERSION into $EDITOR_DIR"
mkdir -p "$EDITOR_DIR"
# npm 11 skips the install scripts of dependencies unless the allowScripts field of the project's
# package.json lists them (older npm ignores the field); the same list given as --allow-scripts or
# npm_config_allow_scripts is refused in a project, and npm would pass it on to the nested installs.
# These are the ones code-server needs on Linux: its own postinstall, the native modules, and
# @vscode/ripgrep's postinstall that unpacks rg.
ALLOW_SCRIPTS='["code-server","argon2","kerberos","native-watchdog","node-pty","@parcel/watcher","@vscode/deviceid","@vscode/ripgrep","@vscode/spdlog"]'
# Adds the allowScripts field to a package.json; with a version, it also pins code-server as the
# only dependency (creating a minimal package.json for .editor itself).
allow_scripts_in() {
  node -e '
    const fs = require("fs");
    const [file, list, version] = process.argv.slice(1);
    const pkg = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {
      name: "smtp-workbench-editor",
      private: true,
      description: "code-server for the in-editor tests; installed by scripts/install-editor.sh",
    };
    if (version) pkg.dependencies = { "code-server": version };
    pkg.allowScripts = Object.fromEntries(JSON.parse(list).map((name) => [name, true]));
    fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
  ' "$1" "$ALLOW_SCRIPTS" "${2:-}"
}
# A package.json of its own keeps npm from walking up to the extension's package.json.
allow_scripts_in "$EDITOR_DIR/package.json" "$CODE_SERVER_VERSION"
# The private temporary folder holds the seeded ripgrep cache and npm's temporary files.
INSTALL_TMP="$RUN_TMP/install"
mkdir -p "$INSTALL_TMP"
export TMPDIR="$INSTALL_TMP"
# node-pty's build runs `npx node-gyp`, which npm refuses when its `yes` setting is false.
export npm_config_yes=true
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
# node-gyp would download Node's headers from nodejs.org (unreachable here); point it at the
# headers that ship with the installed Node when they exist.
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [ -f "$node_prefix/include/node/node.h" ] && [ -z "${npm_config_nodedir:-}" ]; then
  export npm_config_nodedir="$node_prefix"
fi

# Step 1: fetch code-server without running its scripts, so the ripgrep version it pins can be read.
step_started=$(date +%s)
(cd "$EDITOR_DIR" && npm install --ignore-scripts >/dev/null)
log "fetched code-server in $(( $(date +%s) - step_started )) s"

# code-server's postinstall runs `npm install` in lib/vscode and lib/vscode/extensions: give those
# projects the same allowScripts list.
VSCODE_DIR="$EDITOR_DIR/node_modules/code-server/lib/vscode"
allow_scripts_in "$VSCODE_DIR/package.json"
allow_scripts_in "$VSCODE_DIR/extensions/package.json"

# Step 2: seed @vscode/ripgrep's download cache with Debian's rg. Its postinstall looks for
# $TMPDIR/vscode-ripgrep-cache-<its version>/ripgrep-<rg release>-<target>.tar.gz and otherwise
# downloads from GitHub, which is unreachable here.
rg_pkg_version=$(node -e '
  const s = require(process.argv[1]);
  const p = s.packages && s.packages["node_modules/@vscode/ripgrep"];
  if (!p) process.exit(1);
  console.log(p.version);
' "$VSCODE_DIR/npm-shrinkwrap.json")
# The rg release in the tarball name is a constant in that version's lib/postinstall.js.
(cd "$INSTALL_TMP" && npm pack --silent "@vscode/ripgrep@$rg_pkg_version" >/dev/null)
tar -xzf "$INSTALL_TMP"/vscode-ripgrep-*.tgz -C "$INSTALL_TMP" package/lib/postinstall.js
rg_release=$(sed -n "s/^const VERSION = '\(v[^']*\)';.*/\1/p" "$INSTALL_TMP/package/lib/postinstall.js")
[ -n "$rg_release" ] || rg_release=v13.0.0-10
case "$(uname -m)" in
  x86_64) rg_target=x86_64-unknown-linux-musl ;;
  aarch64) rg_target=aarch64-unknown-linux-musl ;;
  *) echo "install-editor: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
rg_cache="$INSTALL_TMP/vscode-ripgrep-cache-$rg_pkg_version"
mkdir -p "$rg_cache/rg-src"
cp "$(command -v rg)" "$rg_cache/rg-src/rg"
tar -czf "$rg_cache/ripgrep-$rg_release-$rg_target.tar.gz" -C "$rg_cache/rg-src" rg
log "seeded @vscode/ripgrep $rg_pkg_version cache with Debian's rg as ripgrep-$rg_release-$rg_target.tar.gz"

# Step 3: run the install scripts: argon2's build and code-server's postinstall, which installs VS Code's own dependencies (lib/vscode and
# lib/vscode/extensions) and builds the native modules.
step_started=$(date +%s)
# As root, code-server's postinstall refuses to run unless npm_config_unsafe_perm is true. npm
# itself no longer knows that setting and warns about it, so it is set for this step only, whose
# output goes to the log.
if ! (cd "$EDITOR_DIR" && npm_config_unsafe_perm=true npm rebuild --foreground-scripts >"$EDITOR_DIR/install.log" 2>&1); then
  tail -40 "$EDITOR_DIR/install.log" >&2
  echo "install-editor: code-server's postinstall failed; full log in $EDITOR_DIR/install.log" >&2
  exit 1
fi
log "built code-server's dependencies in $(( $(date +%s) - step_started )) s (log: $EDITOR_DIR/install.log)"

if ! code_server_works; then
  echo "install-editor: $CODE_SERVER_BIN does not report version $CODE_SERVER_VERSION; it printed:" >&2
  with_private_home "$CODE_SERVER_BIN" --version >&2 || true
  exit 1
fi
log "code-server $CODE_SERVER_VERSION installed in $(elapsed)"
