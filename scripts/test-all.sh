#!/usr/bin/env bash
# Runs every test (the README's test command): installs the real test peers and the real editor
# (as root; as another user it says what to install), builds, type-checks, runs the unit and
# integration suites against real servers, the grammar tests, the fuzzers, the in-editor tests,
# and packages the extension. Any failure fails the run; nothing is skipped for a missing server.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

step "install test peers (Exim, Knot, Postfix tools, DKIM tools)"
bash scripts/install-peers.sh

step "install the real editor (code-server, Chromium)"
bash scripts/install-editor.sh

step "build"
node scripts/build.mjs

step "typecheck"
npx tsc --noEmit -p .

step "unit and integration tests"
mapfile -t suites < <(find dist-test/test -name '*.test.js' -not -path '*/editor/*' | sort)
node --test --test-concurrency=2 --test-reporter=spec "${suites[@]}"

step "grammar tests"
bash scripts/test-grammar.sh

step "fuzzing: 10,000 mutated .smtp scripts"
node dist-test/test/fuzz/smtpFuzz.main.js --count 10000

step "fuzzing: 10,000 mutated .eml messages"
node dist-test/test/fuzz/emlFuzz.main.js --count 10000

step "package the extension"
npm run package --silent >/dev/null
node dist-test/test/packaging/vsixContents.main.js smtp-workbench.vsix

step "tests in the real editor (code-server + Chromium)"
node --test --test-reporter=spec dist-test/test/editor/editor.test.js

step "done in $(( $(date +%s) - started ))s"
