#!/usr/bin/env bash
# Runs every test: installs the real test peers (as root), builds, type-checks, runs the unit and
# integration suites, the grammar tests, the fuzzers and the in-editor tests.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

step "install test peers"
bash scripts/install-peers.sh

step "build"
node scripts/build.mjs

step "typecheck"
npx tsc --noEmit -p .

step "unit and integration tests"
node --test --test-concurrency=2 --test-reporter=spec $(find dist-test/test -name "*.test.js" | sort)

step "grammar tests"
bash scripts/test-grammar.sh

step "done"
