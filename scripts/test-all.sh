#!/usr/bin/env bash
# Runs every test (the README's test command): installs the real test peers, the real editor (as
# root; as another user it says what to install) and the other Node versions, builds, type-checks,
# runs the unit and integration suites against real servers (under the default Node and under the
# other tested versions), the grammar tests, the fuzzers, the in-editor tests, and packages the
# extension. Any failure fails the run; nothing is skipped for a missing server.
#
# The whole run gets a private temporary folder (TMPDIR) of its own. When it ends, passed or not,
# scripts/suite-guard.mjs fails the run, with a listing, if anything is left in that folder or if a
# process the suite started is still running (and ends such processes); the folder is then removed.
#
# Environment:
#   SMTPWB_TEST_NODE_VERSIONS   the other Node majors to run the unit and integration suites under
#                               (default "22 24"; empty for none), installed by
#                               scripts/install-node-versions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step_started=$started
declare -a timings=()
step() {
  local now
  now=$(date +%s)
  if [ -n "${current_step:-}" ]; then timings+=("$(printf '%5ss  %s' "$((now - step_started))" "$current_step")"); fi
  current_step=$1
  step_started=$now
  printf '\n=== %s (%ss)\n' "$1" "$((now - started))"
}

# --- the suite's private temporary folder and the guard ---------------------------------------
OUTER_TMP=${TMPDIR:-/tmp}
SUITE_TMP=$(mktemp -d "$OUTER_TMP/smtpwb-suite.XXXXXX")
# Like /tmp: the peers switch to unprivileged users (Exim to Debian-exim, smtp-sink to postfix)
# and must reach the folders the tests make for them in here.
chmod 1777 "$SUITE_TMP"
# What the outer temporary folder held before the run (given to the guard on stdin, not exported).
outside_before=$(ls -A "$OUTER_TMP")
export TMPDIR=$SUITE_TMP
# Every process the suite starts inherits this; the guard finds leftovers by it.
SMTPWB_SUITE_ID=$(basename "$SUITE_TMP")
export SMTPWB_SUITE_ID

finish() {
  local status=$1
  trap - EXIT
  step "check for leftovers (processes, temporary files)"
  if ! printf '%s\n' "$outside_before" | node scripts/suite-guard.mjs --tmp "$SUITE_TMP" --marker "$SMTPWB_SUITE_ID" --outside "$OUTER_TMP"; then
    [ "$status" -ne 0 ] || status=1
  fi
  rm -rf "$SUITE_TMP"
  step "end"
  printf '%s\n' "${timings[@]}"
  if [ "$status" -eq 0 ]; then
    echo "=== passed in $(($(date +%s) - started))s"
  else
    echo "=== FAILED (exit $status) after $(($(date +%s) - started))s"
  fi
  exit "$status"
}
trap 'finish $?' EXIT

# --- installs ----------------------------------------------------------------------------------
step "install test peers (Exim, Knot, Postfix tools, DKIM tools)"
bash scripts/install-peers.sh

step "install the real editor (code-server, Chromium)"
bash scripts/install-editor.sh

read -r -a node_majors <<<"${SMTPWB_TEST_NODE_VERSIONS-22 24}"
if [ ${#node_majors[@]} -gt 0 ]; then
  step "install Node ${node_majors[*]} (from the npm registry)"
  bash scripts/install-node-versions.sh
fi

# --- build and tests ---------------------------------------------------------------------------
step "build"
node scripts/build.mjs

step "typecheck"
npx tsc --noEmit -p .

# Every test runs as on a machine with a closed network, the same here as in CI: only loopback,
# and a run fails, listing the questions, if anything asked the system resolver (a resolver that
# never answers made Exim's own checks time out in CI once). See scripts/closed-network.sh.
offline() { bash scripts/closed-network.sh "$@"; }

mapfile -t suites < <(find dist-test/test -name '*.test.js' -not -path '*/editor/*' | sort)
# Runs the unit and integration suites with the given node binary.
unit_tests() { offline "$1" --test --test-concurrency=2 --test-reporter=spec "${suites[@]}"; }

step "unit and integration tests (Node $(node -p process.versions.node))"
unit_tests node

# The same built tests under the other Node versions: the CLI is a Node program that users run on
# their own Node. Tests that start the CLI use process.execPath, and PATH puts the same node first
# for anything that runs `node` by name.
for major in "${node_majors[@]}"; do
  bin_dir="$PWD/.node-versions/$major/bin"
  if [ ! -x "$bin_dir/node" ]; then
    echo "test-all: no Node $major in .node-versions/ (scripts/install-node-versions.sh installs the versions SMTPWB_NODE_VERSIONS names)" >&2
    exit 1
  fi
  step "unit and integration tests (Node $("$bin_dir/node" -p process.versions.node))"
  PATH="$bin_dir:$PATH" unit_tests "$bin_dir/node"
done

step "grammar tests"
offline bash scripts/test-grammar.sh

step "fuzzing: 10,000 mutated .smtp scripts"
offline node dist-test/test/fuzz/smtpFuzz.main.js --count 10000

step "fuzzing: 10,000 mutated .eml messages"
# Failing inputs are kept outside the temporary folder, which is removed at the end; the folder
# exists only after a failing run, so an old one is removed first.
rm -rf .test-artifacts/eml-fuzz-failures
offline node dist-test/test/fuzz/emlFuzz.main.js --count 10000 --save .test-artifacts/eml-fuzz-failures

step "package the extension"
npm run package --silent >/dev/null
node dist-test/test/packaging/vsixContents.main.js smtp-workbench.vsix

step "tests in the real editor (code-server + Chromium, Node $(node -p process.versions.node))"
offline node --test --test-reporter=spec dist-test/test/editor/editor.test.js
