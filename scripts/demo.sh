#!/usr/bin/env bash
# The main job, as a demo: builds the CLI, runs an example session against the embedded capture
# server (a session without CONNECT goes there), prints its transcript, then shows the message the
# server stored, byte for byte, and lints it.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/build.mjs --no-tests
inbox=$(mktemp -d "${TMPDIR:-/tmp}/smtpwb-demo-XXXXXX")
node dist/cli.js run examples/01-hello-local.smtp --inbox "$inbox"
message=$(ls -t "$inbox"/*.eml | head -n 1)
printf '\n=== the message as stored (%s):\n' "$message"
cat "$message"
printf '\n=== smtpwb lint on the stored message:\n'
node dist/cli.js lint "$message"
